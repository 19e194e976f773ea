import { Command } from 'commander';
import { bootstrapCluster } from '../bootstrap/bootstrap.js';
import { INVENTORY_EXAMPLE } from '../bootstrap/inventory.js';
import { removeHost } from '../bootstrap/remove-host.js';
import type { Io } from '../output.js';
import { clusterStatusCommand } from './cluster-status.js';
import { joinTokenCommand } from './join-token.js';

interface Opts {
  inventory: string;
  acceptNewHostKeys?: boolean;
  sshConfig?: string;
  readyTimeout: number;
  json?: boolean;
}

const sshHelp = `
SSH: keys from identityFile, ~/.ssh/config (Host aliases, HostName, User, Port, IdentityFile,
ProxyJump, UserKnownHostsFile) and ssh-agent ($SSH_AUTH_SOCK). Host keys are checked against
known_hosts (hashed lines too): an unknown key is refused unless --accept-new-host-keys (which
records it), a changed key always is. A user other than root runs commands through sudo -n.`;

/** `shoal cluster bootstrap | add-host | remove-host | join-token | status`: a cluster stood up over SSH, who may join it, and its coordinators. */
export function clusterCommand(io: Io, setExitCode: (code: number) => void): Command {
  const cluster = new Command('cluster').description('stand a cluster up over SSH, grow and shrink it; its join tokens');
  const common = (cmd: Command): Command =>
    cmd
      .requiredOption('-i, --inventory <file>', 'the inventory: cluster name and hosts (YAML)')
      .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts')
      .option('--ssh-config <file>', "ssh_config file for Host aliases (default: the inventory's sshConfig, else ~/.ssh/config)")
      .option('--ready-timeout <s>', 'how long to wait for the agents to report ready', (v) => Number(v), 120);
  const json = (cmd: Command): Command => cmd.option('--json', 'print the outcome per host and the nodes as JSON (instead of the table)');
  const tty = (): boolean => process.stderr.isTTY;

  json(common(
    cluster
      .command('bootstrap')
      .description('install and start Shoal on every host of the inventory (safe to run again: changes only what differs)')
      .addHelpText(
        'after',
        `\nPer host, in parallel: preflight (Linux, Node >= 20, Docker, VXLAN, free ports, clock), upload of
Shoal as one bundled file, nats-server with per-node users on the coordinators, the daemons as
services (systemd, or Shoal's supervisor where there is none), then a wait until every agent is
ready. The cluster's context is saved in the config file, so later commands need no flags.
A host that fails is named; the others still come up; running it again finishes the job.
${sshHelp}

Inventory (YAML; unknown keys are refused):
${INVENTORY_EXAMPLE.replace(/^/gm, '  ')}
Examples:
  shoal cluster bootstrap -i hosts.yaml
  shoal lab ssh-config > lab-ssh.conf
  shoal cluster bootstrap -i examples/lab-inventory.yaml --ssh-config lab-ssh.conf`,
      ),
  )).action(async (o: Opts) => {
    setExitCode(await bootstrapCluster({ inventoryFile: o.inventory, sshConfig: o.sshConfig, acceptNewHostKeys: o.acceptNewHostKeys === true, io, tty: tty(), readyTimeoutMs: o.readyTimeout * 1000, json: o.json === true }));
  });

  json(common(
    cluster
      .command('add-host')
      .description('install Shoal on one more worker of the inventory (the coordinators learn its NATS user)')
      .argument('<name>', "the host's name in the inventory")
      .addHelpText('after', `${sshHelp}\n\nExamples:\n  shoal cluster add-host w4 -i hosts.yaml`),
  )).action(async (name: string, o: Opts) => {
    setExitCode(await bootstrapCluster({ inventoryFile: o.inventory, sshConfig: o.sshConfig, acceptNewHostKeys: o.acceptNewHostKeys === true, io, tty: tty(), readyTimeoutMs: o.readyTimeout * 1000, json: o.json === true, only: name }));
  });

  common(
    cluster
      .command('remove-host')
      .description("drain a worker, stop and remove Shoal from it, and drop its NATS user")
      .argument('<name>', "the host's name in the inventory")
      .addHelpText('after', `\nCoordinators cannot be removed yet (that needs a Raft membership change).${sshHelp}\n\nExamples:\n  shoal cluster remove-host w4 -i hosts.yaml`),
  ).action(async (name: string, o: Opts) => {
    setExitCode(await removeHost({ inventoryFile: o.inventory, sshConfig: o.sshConfig, acceptNewHostKeys: o.acceptNewHostKeys === true, io, tty: tty(), name }));
  });
  cluster.addCommand(joinTokenCommand(io));
  cluster.addCommand(clusterStatusCommand(io));
  return cluster;
}
