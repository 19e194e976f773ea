import { Command } from 'commander';
import { ShoalError, decodeEvent, type ShoalEvent } from '@shoal/core';
import type { ApiClient } from '../client.js';
import { table, type Io } from '../output.js';
import { dash, examples, targetOptions, withClient, type Target } from './common.js';

/** What `cluster.status` answers (the leader's view: the store plus heartbeats in its memory). */
export interface NodeStatus {
  hostname: string;
  status: string;
  role: string;
  availability: string;
  leader: boolean;
  heartbeatAgeMs?: number;
  tasks: { running: number; desired: number };
  load?: { cpuPercent: number; memoryUsedBytes: number; memoryTotalBytes: number; containers: number };
}
/** A coordinator as the leader's Raft sees it, and as it reports itself when asked. */
export interface MemberStatus {
  id: number;
  name: string;
  role: 'voter' | 'standby';
  reachability: 'leader' | 'reachable' | 'unreachable';
  match: number;
  term?: number;
  commit?: number;
  applied?: number;
}
interface ServiceStatus {
  name: string;
  mode: string;
  running: number;
  desired: number;
  updating: boolean;
  updateState?: string;
  lastError?: string;
}
export interface ClusterStatusView {
  index: number;
  leader?: string;
  term?: number;
  members?: MemberStatus[];
  nodes: NodeStatus[];
  services: ServiceStatus[];
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)}G`;

/** A node's load as the table cells `watch` and `node ls --wide` show: cpu, memory, containers. */
export function loadCells(load: NodeStatus['load']): [string, string, string] {
  return load ? [`${load.cpuPercent.toFixed(0)}%`, `${gib(load.memoryUsedBytes)}/${gib(load.memoryTotalBytes)}`, String(load.containers)] : ['-', '-', '-'];
}

/** One screen of `shoal watch`, as plain text (the caller decides how to draw it). */
export function renderStatus(cluster: string, s: ClusterStatusView, now: Date): string {
  const head = `shoal watch — cluster ${cluster}, leader on ${s.leader ?? '?'}, store index ${s.index}, ${now.toISOString().slice(11, 19)} (q to quit)\n\n`;
  const nodes = table(
    ['node', 'status', 'role', 'availability', 'leader', 'heartbeat', 'tasks', 'cpu', 'memory', 'containers'],
    [...s.nodes]
      .sort((a, b) => a.hostname.localeCompare(b.hostname))
      .map((n) => [
        n.hostname,
        n.status,
        n.role,
        n.availability,
        n.leader ? '*' : '',
        n.heartbeatAgeMs === undefined ? '-' : `${(n.heartbeatAgeMs / 1000).toFixed(1)}s ago`,
        `${n.tasks.running}/${n.tasks.desired}`,
        ...loadCells(n.load),
      ]),
  );
  const services = table(
    ['service', 'mode', 'replicas', 'update', 'last error'],
    [...s.services].sort((a, b) => a.name.localeCompare(b.name)).map((v) => [v.name, v.mode, `${v.running}/${v.desired}`, v.updating ? (v.updateState ?? 'updating') : dash(v.updateState), dash(v.lastError)]),
  );
  return `${head}${nodes}\n${s.services.length > 0 ? services : 'no services\n'}`;
}

/** Redraws in place: the alternate screen, the cursor home, every line cleared to its end. */
function drawTty(io: Io, text: string): void {
  io.out(`\x1b[H${text.split('\n').join('\x1b[K\n')}\x1b[J`);
}

/** Resolves when the person asks to stop: Ctrl-C, the terminal going away, or (keys) q. */
function stopRequested(keys = false): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => resolve();
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    process.once('SIGHUP', done);
    if (keys && process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      process.stdin.resume();
      process.stdin.on('data', (b: Buffer) => {
        if (b.includes(0x71) || b.includes(0x03)) done(); // q, Ctrl-C
      });
    }
  });
}

async function watchLoop(c: ApiClient, io: Io, intervalMs: number): Promise<void> {
  const tty = process.stdout.isTTY;
  let dirty = true;
  const stopEvents = c.subscribe('events', () => (dirty = true));
  const stop = stopRequested(true);
  let stopped = false;
  void stop.then(() => (stopped = true));
  if (tty) io.out('\x1b[?1049h\x1b[?25l');
  let last = '';
  let lastDraw = 0;
  try {
    while (!stopped) {
      if (dirty || Date.now() - lastDraw >= intervalMs) {
        dirty = false;
        lastDraw = Date.now();
        let text: string;
        try {
          text = renderStatus(c.clusterId, (await c.call('cluster.status', {}, 5000)) as ClusterStatusView, new Date());
        } catch (err) {
          text = `shoal watch — cluster ${c.clusterId}: ${err instanceof ShoalError ? err.what : String(err)}; retrying\n`;
        }
        if (tty) drawTty(io, text);
        // without a terminal, a new frame only when something other than the clock changed
        else if (text.split('\n').slice(1).join('\n') !== last) io.out(`${text}\n`);
        last = text.split('\n').slice(1).join('\n');
      }
      await Promise.race([stop, new Promise((r) => setTimeout(r, 100))]);
    }
  } finally {
    stopEvents();
    if (tty) io.out('\x1b[?25h\x1b[?1049l');
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
}

function eventLine(e: ShoalEvent): string {
  return `${e.at}  ${e.object.padEnd(7)}  ${e.action.padEnd(6)}  ${e.name ?? e.id}${e.summary ? `  ${e.summary}` : ''}\n`;
}

/** `--filter type=node`, `action=down`, `name=web`, several and-ed. */
function eventFilter(filters: readonly string[]): (e: ShoalEvent) => boolean {
  const tests = filters.map((f) => {
    const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
    if (!f.includes('=') || !v) throw new ShoalError('bad_flag', `--filter ${JSON.stringify(f)} is not KEY=VALUE`, 'e.g. --filter type=node');
    if (k === 'type' || k === 'object') return (e: ShoalEvent) => e.object === v;
    if (k === 'action') return (e: ShoalEvent) => e.action === v;
    if (k === 'name') return (e: ShoalEvent) => e.name === v || (e.name ?? '').startsWith(`${v}.`);
    if (k === 'id') return (e: ShoalEvent) => e.id === v;
    throw new ShoalError('bad_flag', `--filter ${k}= is not a filter Shoal knows`, 'use type=, action=, name= or id=');
  });
  return (e) => tests.every((t) => t(e));
}

/** `10m`, `30s`, `2h` ago, an ISO time, or a store index. */
export function sinceFlag(text: string, now = Date.now()): { index: number } | { since: string } {
  if (/^\d+$/.test(text)) return { index: Number(text) };
  const m = /^(\d+)(s|m|h)$/.exec(text);
  if (m) return { since: new Date(now - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 's' | 'm' | 'h']).toISOString() };
  if (!Number.isNaN(Date.parse(text))) return { since: new Date(text).toISOString() };
  throw new ShoalError('bad_flag', `--since ${JSON.stringify(text)} is not a duration, a time or a store index`, 'e.g. --since 10m, --since 2026-11-22T10:00:00Z or --since 1200');
}

/** `shoal watch` and `shoal events`: the cluster live. */
export function watchCommands(io: Io): Command[] {
  const watch = examples(
    targetOptions(
      new Command('watch')
        .description('a live, full-screen view of nodes (status, heartbeat, tasks, load) and services (replicas, updates, errors)')
        .option('--interval <ms>', 'redraw at least this often', (v) => Number(v), 1000),
    ),
    'shoal watch',
    'shoal watch --context prod',
  ).action(async (opts: Target & { interval: number }) => {
    await withClient(opts, (c) => watchLoop(c, io, opts.interval));
  });

  const events = examples(
    targetOptions(
      new Command('events')
        .description('the changes of the cluster as they happen, one line (or JSON line) each; --since replays recent ones first')
        .option('--since <when>', 'replay from a time (10m, 2026-11-22T10:00:00Z) or a store index')
        .option('--filter <key=value>', 'only events with type=, action=, name= or id= (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
        .option('--json', 'one JSON object per line'),
    ),
    'shoal events',
    'shoal events --since 10m --filter type=node',
    'shoal events --json --filter action=down',
  ).action(async (opts: Target & { since?: string; filter?: string[]; json?: boolean }) => {
    const keep = eventFilter(opts.filter ?? []);
    const from = opts.since === undefined ? undefined : sinceFlag(opts.since);
    const print = (e: ShoalEvent): void => {
      if (keep(e)) io.out(opts.json ? `${JSON.stringify(e)}\n` : eventLine(e));
    };
    await withClient(opts, async (c) => {
      // live events are held back while the replay runs, then those it already showed dropped
      const held: ShoalEvent[] = [];
      let replayed: number | undefined;
      const stopEvents = c.subscribe('events', (data) => {
        let e: ShoalEvent;
        try {
          e = decodeEvent(data);
        } catch {
          return;
        }
        if (replayed === undefined) held.push(e);
        else if (e.seq > replayed) print(e);
      });
      try {
        let newest = 0;
        if (from) {
          const page = (await c.call('events.since', from)) as { events: ShoalEvent[]; oldest?: number; newest?: number };
          if ('index' in from && page.oldest !== undefined && from.index < page.oldest - 1) io.err(`warning: events before index ${page.oldest} are no longer held\n`);
          for (const e of page.events) print(e);
          newest = page.newest ?? 0;
        } else {
          newest = ((await c.call('cluster.info', {})) as { index: number }).index;
        }
        replayed = newest;
        for (const e of held) if (e.seq > newest) print(e);
        await stopRequested();
      } finally {
        stopEvents();
      }
    });
  });
  return [watch, events];
}
