import { Command, InvalidArgumentError } from 'commander';
import type { Io } from '../output.js';
import { examples, targetOptions, withClient, type Target } from './common.js';

type Role = 'worker' | 'coordinator';

/** `worker`, or `coordinator` (`manager`, as Docker says, is taken too). */
function parseRole(value: string): Role {
  if (value === 'worker') return 'worker';
  if (value === 'coordinator' || value === 'manager') return 'coordinator';
  throw new InvalidArgumentError(`expected worker or coordinator, got "${value}"`);
}

/**
 * `shoal cluster join-token [worker|coordinator] [--rotate] [-q]`, as `docker swarm join-token`:
 * the token a newcomer presents, kept in the replicated store; --rotate replaces it, and the old
 * one is refused from then on.
 */
export function joinTokenCommand(io: Io): Command {
  return examples(
    targetOptions(
      new Command('join-token')
        .description("print (or rotate) the token a new coordinator or worker must present to join")
        .argument('[role]', 'worker or coordinator', parseRole, 'worker' as Role)
        .option('--rotate', 'replace the token first: the old one stops working at once (members already in stay)')
        .option('-q, --quiet', 'print only the token'),
    ),
    'shoal cluster join-token coordinator',
    'shoal cluster join-token -q coordinator',
    'shoal cluster join-token --rotate worker',
  ).action(async (role: Role, opts: Target & { rotate?: boolean }) => {
    const tokenRole = role === 'coordinator' ? 'manager' : 'worker';
    const tokens = await withClient(opts, async (c) => (await c.call('cluster.tokens', opts.rotate ? { rotate: tokenRole } : {})) as { worker: string; manager: string });
    const token = tokens[tokenRole];
    if (opts.quiet) {
      io.out(`${token}\n`);
      return;
    }
    if (opts.rotate) io.out(`Rotated the ${role} join token: the old one is refused from now on.\n\n`);
    if (role === 'coordinator') {
      io.out(`To add a coordinator to this cluster, start it on its host with this token:\n\n    shoal-coordinator --cluster CLUSTER --id N --listen HOST:PORT --join ID=HOST:PORT,… --token ${token}\n\n`);
    } else {
      io.out(`The worker join token of this cluster:\n\n    ${token}\n\n`);
    }
  });
}
