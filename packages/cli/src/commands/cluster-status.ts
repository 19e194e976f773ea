import { Command } from 'commander';
import { ShoalError } from '@shoal/core';
import { table, type Io } from '../output.js';
import { dash, examples, targetOptions, withClient, type Target } from './common.js';
import type { ClusterStatusView } from './watch.js';

/**
 * `shoal cluster status`: the coordinators as the leader's Raft sees them (who leads, in which
 * term, who is reachable), each with the term and applied index it reports itself.
 */
export function clusterStatusCommand(io: Io): Command {
  return examples(
    targetOptions(
      new Command('status')
        .description("the coordinators: the leader, the term, and each member's reachability, commit and applied index")
        .option('--json', 'print JSON instead of the lines and the table'),
    ),
    'shoal cluster status',
    'shoal cluster status --json',
  ).action(async (opts: Target) => {
    const s = await withClient(opts, (c) => c.call('cluster.status', { members: true }, 10_000) as Promise<ClusterStatusView>);
    if (!s.members || s.term === undefined) throw new ShoalError('no_leader', 'the coordinator that answered is not leading, so it cannot say which members are reachable', 'try again in a moment');
    if (opts.json) {
      io.out(JSON.stringify({ leader: s.leader, term: s.term, index: s.index, members: s.members }, null, 2) + '\n');
      return;
    }
    const leader = s.members.find((m) => m.reachability === 'leader');
    io.out(`leader: ${leader ? `${leader.name} (member ${leader.id})` : '?'}, term ${s.term}, store index ${s.index}\n\n`);
    io.out(
      table(
        ['member', 'name', 'role', 'raft status', 'term', 'commit', 'applied'],
        s.members.map((m) => [String(m.id), m.name, m.role, m.reachability, dash(m.term), dash(m.commit), m.applied === undefined ? 'no answer' : String(m.applied)]),
      ),
    );
  });
}
