import { Command } from 'commander';
import { ShoalError, isShoalError } from '@shoal/core';
import { ApiClient, clusterTarget, type TargetOptions } from '../client.js';
import { table, type Io } from '../output.js';

export interface Target extends TargetOptions {
  json?: boolean;
  quiet?: boolean;
}

/** Every cluster command finds its cluster the same way. */
export function targetOptions(cmd: Command): Command {
  return cmd
    .option('--context <name>', 'which cluster of the config file (or SHOAL_CONTEXT; default: its current one)')
    .option('--nats <url>', 'NATS URL of the cluster (or SHOAL_NATS_URL)')
    .option('--cluster <id>', 'cluster id (or SHOAL_CLUSTER)');
}

/** `--json` and `-q` for a command that prints a table. */
export function listOptions(cmd: Command): Command {
  return targetOptions(cmd).option('--json', 'print JSON instead of a table').option('-q, --quiet', 'print only ids, one per line');
}

export function examples(cmd: Command, ...lines: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
}

export async function withClient<T>(opts: TargetOptions, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const client = await ApiClient.open(await clusterTarget(opts));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

export interface Column<T> {
  header: string;
  cell: (row: T) => string;
}

/** One place decides between a table, JSON (the same rows, whole) and ids only. */
export function emit<T>(io: Io, opts: Target, rows: readonly T[], columns: readonly Column<T>[], id: (row: T) => string): void {
  if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
  else if (opts.quiet) io.out(rows.map((r) => `${id(r)}\n`).join(''));
  else io.out(table(columns.map((c) => c.header), rows.map((r) => columns.map((c) => c.cell(r)))));
}

export function printObject(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2) + '\n');
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function dash(v: string | number | undefined | null): string {
  return v === undefined || v === null || v === '' ? '-' : String(v);
}

export interface ServiceRow {
  id: string;
  name: string;
  stack?: string;
  mode: string;
  image: string;
  desired: number;
  running: number;
}

export interface TaskRow {
  id: string;
  service: string;
  slot?: number;
  node?: string;
  desired: string;
  state: string;
  message?: string;
  err?: string;
  addresses: string[];
}

export const SERVICE_COLUMNS: Column<ServiceRow>[] = [
  { header: 'id', cell: (r) => r.id.slice(0, 12) },
  { header: 'name', cell: (r) => r.name },
  { header: 'mode', cell: (r) => r.mode },
  { header: 'replicas', cell: (r) => `${r.running}/${r.desired}` },
  { header: 'image', cell: (r) => r.image },
];

export const TASK_COLUMNS: Column<TaskRow>[] = [
  { header: 'id', cell: (r) => r.id.slice(0, 12) },
  { header: 'name', cell: (r) => `${r.service}.${r.slot ?? r.node ?? ''}` },
  { header: 'node', cell: (r) => dash(r.node) },
  { header: 'desired', cell: (r) => r.desired },
  { header: 'state', cell: (r) => r.state },
  { header: 'error', cell: (r) => dash(r.err) },
];

/**
 * Waits until the services shown by `list` run as many tasks as they want, printing each change
 * of running/desired on stderr; a task error is shown as soon as one appears.
 */
export async function waitConverged(c: ApiClient, io: Io, what: string, list: () => Promise<ServiceRow[]>, timeoutS: number, hint: string): Promise<ServiceRow[]> {
  const deadline = Date.now() + timeoutS * 1000;
  let last = '';
  for (;;) {
    const rows = await list();
    const line = rows.map((r) => `${r.name} ${r.running}/${r.desired}`).join(', ');
    if (line !== last) io.err(`  ${line}\n`);
    last = line;
    if (rows.every((r) => r.running === r.desired)) return rows;
    if (Date.now() > deadline) {
      const tasks = (await Promise.all(rows.filter((r) => r.running < r.desired).map((r) => c.call('service.ps', { service: r.id }) as Promise<TaskRow[]>))).flat();
      const err = tasks.find((t) => t.desired === 'running' && (t.err ?? '') !== '');
      throw new ShoalError('converge_timeout', `${what} did not converge within ${timeoutS} s (${line})${err ? `; ${err.service}.${err.slot ?? ''}: ${err.err ?? ''}` : ''}`, hint);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Calls that remove networks wait for the tasks of removed services to let go of them; a
 * container slow to stop makes the cluster say `network_busy`, and the call is simply made
 * again (services already gone are not gone twice), within a minute.
 */
export async function retryWhileBusy<T>(io: Io, what: string, call: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let said = false; ; said = true) {
    try {
      return await call();
    } catch (err) {
      if (!isShoalError(err, 'network_busy') || Date.now() > deadline) throw err;
      if (!said) io.err(`${what}: waiting for tasks to stop\n`);
    }
  }
}
