import { Command } from 'commander';
import { ShoalError, type Node } from '@shoal/core';
import type { Io } from '../output.js';
import { keyValues } from '../flags.js';
import type { ApiClient } from '../client.js';
import { collect, dash, emit, examples, listOptions, printObject, targetOptions, withClient, type Column, type Target } from './common.js';
import { loadCells, type ClusterStatusView, type NodeStatus } from './watch.js';

interface NodeRow {
  id: string;
  hostname: string;
  address: string;
  role: string;
  availability: string;
  state: string;
  labels: Record<string, string>;
  /** Docker's MANAGER STATUS: the coordinator on this host as the leader's Raft sees it. */
  managerStatus?: string;
  heartbeatAgeMs?: number;
  load?: NodeStatus['load'];
}

const MANAGER_STATUS = { leader: 'Leader', reachable: 'Reachable', unreachable: 'Unreachable' } as const;

const NODE_COLUMNS: Column<NodeRow>[] = [
  { header: 'id', cell: (r) => r.id.slice(0, 12) },
  { header: 'hostname', cell: (r) => r.hostname },
  { header: 'address', cell: (r) => r.address },
  { header: 'status', cell: (r) => r.state },
  { header: 'availability', cell: (r) => r.availability },
  { header: 'role', cell: (r) => r.role },
  { header: 'manager status', cell: (r) => r.managerStatus ?? '' },
  { header: 'labels', cell: (r) => dash(Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(',')) },
];

/** `--wide`: what the leader holds of each host besides the store: heartbeat and load. */
const WIDE_COLUMNS: Column<NodeRow>[] = [
  ...NODE_COLUMNS.slice(0, -1),
  { header: 'heartbeat', cell: (r) => (r.heartbeatAgeMs === undefined ? '-' : `${(r.heartbeatAgeMs / 1000).toFixed(1)}s ago`) },
  { header: 'cpu', cell: (r) => loadCells(r.load)[0] },
  { header: 'memory', cell: (r) => loadCells(r.load)[1] },
  { header: 'containers', cell: (r) => loadCells(r.load)[2] },
  ...NODE_COLUMNS.slice(-1),
];

/**
 * What only the leader knows of the nodes (its Raft's view of the coordinators, heartbeats,
 * load), by hostname; a warning and nothing when no leader answers, so the store's rows still print.
 */
type LiveNode = Pick<NodeRow, 'managerStatus' | 'heartbeatAgeMs' | 'load'>;

async function leaderView(c: ApiClient, io: Io): Promise<{ live: Map<string, LiveNode> }> {
  let status: ClusterStatusView;
  try {
    status = (await c.call('cluster.status', {}, 5000)) as ClusterStatusView;
  } catch (err) {
    io.err(`warning: no leader answered, so manager status, heartbeats and load are not shown (${err instanceof Error ? err.message : String(err)})\n`);
    return { live: new Map() };
  }
  const members = new Map((status.members ?? []).map((m) => [m.name, MANAGER_STATUS[m.reachability]]));
  const live = new Map(
    status.nodes.map((n): [string, LiveNode] => {
      const managerStatus = members.get(n.hostname);
      return [n.hostname, { ...(managerStatus ? { managerStatus } : {}), ...(n.heartbeatAgeMs !== undefined ? { heartbeatAgeMs: n.heartbeatAgeMs } : {}), ...(n.load ? { load: n.load } : {}) }];
    }),
  );
  return { live };
}

/** `shoal node …`: the hosts of the cluster. */
export function nodeCommand(io: Io): Command {
  const node = new Command('node').description('the hosts of the cluster');

  examples(
    listOptions(
      node
        .command('ls')
        .description('list nodes, with the MANAGER STATUS of the coordinators (Leader, Reachable, Unreachable) as the leader\'s Raft sees them')
        .option('-w, --watch', 'keep the table on screen, redrawn every second (Ctrl-C to stop)')
        .option('--wide', "also each host's heartbeat age, CPU, memory and container count"),
    ),
    'shoal node ls',
    'shoal node ls --wide',
    'shoal node ls --watch',
    'shoal node ls -q',
  ).action(async (opts: Target & { watch?: boolean; wide?: boolean }) => {
    await withClient(opts, async (c) => {
      const once = async (): Promise<void> => {
        const rows = (await c.call('node.ls', {})) as NodeRow[];
        // ids only need nothing from the leader
        const live = opts.quiet ? new Map<string, LiveNode>() : (await leaderView(c, io)).live;
        emit(io, opts, rows.map((r) => ({ ...r, ...live.get(r.hostname) })), opts.wide ? WIDE_COLUMNS : NODE_COLUMNS, (r) => r.id);
      };
      if (!opts.watch) return once();
      const tty = process.stdout.isTTY;
      for (;;) {
        if (tty) io.out('\x1b[H\x1b[2J');
        else io.out(`--- ${new Date().toISOString()}\n`);
        await once();
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
  });

  examples(
    targetOptions(node.command('inspect').description("a node's whole record, as JSON, with what the leader holds of it (managerStatus, heartbeatAgeMs, load)").argument('<node...>', 'node ids or hostnames')),
    'shoal node inspect h2',
  ).action(async (refs: string[], opts: Target) => {
    const out = await withClient(opts, async (c) => {
      const records = (await Promise.all(refs.map((node) => c.call('node.inspect', { node })))) as Node[];
      const { live } = await leaderView(c, io);
      return records.map((r) => ({ ...r, ...live.get(r.hostname) }));
    });
    printObject(io, out.length === 1 ? out[0] : out);
  });

  examples(
    targetOptions(
      node
        .command('update')
        .description("change a node's labels or availability (drain moves its tasks elsewhere)")
        .argument('<node>', 'node id or hostname')
        .option('--label-add <key=value>', 'add or change a label (repeatable)', collect)
        .option('--label-rm <key>', 'remove a label (repeatable)', collect)
        .option('--availability <state>', 'active, pause or drain'),
    ),
    'shoal node update --label-add zone=eu h2',
    'shoal node update --availability drain h3',
  ).action(async (ref: string, opts: Target & { labelAdd?: string[]; labelRm?: string[]; availability?: string }) => {
    const availability = opts.availability;
    if (availability !== undefined && !['active', 'pause', 'drain'].includes(availability)) {
      throw new ShoalError('bad_flag', `--availability ${JSON.stringify(availability)} is not active, pause or drain`, 'use one of those three');
    }
    if (!opts.labelAdd && !opts.labelRm && availability === undefined) throw new ShoalError('bad_flag', 'nothing to change', 'pass --label-add, --label-rm or --availability');
    const labelsAdd = keyValues('--label-add', opts.labelAdd, { valueRequired: false });
    await withClient(opts, async (c) => {
      const current = (await c.call('node.inspect', { node: ref })) as Node;
      await c.call('node.update', {
        node: current.id,
        version: current.meta.version,
        ...(availability !== undefined ? { availability: availability as Node['spec']['availability'] } : {}),
        ...(opts.labelAdd ? { labelsAdd } : {}),
        ...(opts.labelRm ? { labelsRemove: opts.labelRm } : {}),
      });
      io.out(`${current.hostname}\n`);
    });
  });

  for (const [verb, what] of [
    ['promote', 'make nodes coordinators (Raft voters)'],
    ['demote', 'make coordinators plain workers again'],
  ] as const) {
    examples(targetOptions(node.command(verb).description(what).argument('<node...>', 'node ids or hostnames')), `shoal node ${verb} h2`).action(
      async (refs: string[], opts: Target) => {
        await withClient(opts, async (c) => {
          for (const n of refs) {
            await c.call(verb === 'promote' ? 'node.promote' : 'node.demote', { node: n });
            io.out(`${n}\n`);
          }
        });
      },
    );
  }

  examples(
    targetOptions(node.command('rm').description('remove nodes from the cluster (refused while a node is ready, unless --force)').argument('<node...>', 'node ids or hostnames').option('-f, --force', 'remove even a node that is ready')),
    'shoal node rm h3',
    'shoal node rm --force h3',
  ).action(async (refs: string[], opts: Target & { force?: boolean }) => {
    await withClient(opts, async (c) => {
      for (const n of refs) {
        await c.call('node.rm', { node: n, ...(opts.force ? { force: true } : {}) });
        io.out(`${n}\n`);
      }
    });
  });
  return node;
}
