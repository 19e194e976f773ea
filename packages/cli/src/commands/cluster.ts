import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { ShoalError, formatDiagnostic, loadStack, type ComposeFile } from '@shoal/core';
import { ApiClient, clusterTarget, type TargetOptions } from '../client.js';
import { table, type Io } from '../output.js';

interface Target extends TargetOptions {
  json?: boolean;
}

const targetOptions = (cmd: Command): Command =>
  cmd
    .option('--context <name>', 'which cluster of the config file (or SHOAL_CONTEXT; default: its current one)')
    .option('--nats <url>', 'NATS URL of the cluster (or SHOAL_NATS_URL)')
    .option('--cluster <id>', 'cluster id (or SHOAL_CLUSTER)');

async function withClient<T>(opts: Target, fn: (c: ApiClient) => Promise<T>): Promise<T> {
  const client = await ApiClient.open(await clusterTarget(opts));
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

interface ServiceRow {
  name: string;
  stack?: string;
  mode: string;
  image: string;
  desired: number;
  running: number;
}

function serviceTable(rows: readonly ServiceRow[]): string {
  return table(['name', 'mode', 'replicas', 'image'], rows.map((r) => [r.name, r.mode, `${r.running}/${r.desired}`, r.image]));
}

/** `node`, `network`, `service` and `stack` commands: the cluster's API, over NATS. */
export function clusterCommands(io: Io): Command[] {
  const node = new Command('node').description('the hosts of the cluster');
  targetOptions(node.command('ls').description('list nodes').option('--json', 'print JSON')).action(async (opts: Target) => {
    const rows = (await withClient(opts, (c) => c.call('node.ls', {}))) as { id: string; hostname: string; address: string; role: string; availability: string; state: string }[];
    if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
    else io.out(table(['id', 'hostname', 'address', 'status', 'availability', 'role'], rows.map((r) => [r.id, r.hostname, r.address, r.state, r.availability, r.role])));
  });

  const network = new Command('network').description('overlay and local networks');
  targetOptions(network.command('ls').description('list networks').option('--json', 'print JSON')).action(async (opts: Target) => {
    const rows = (await withClient(opts, (c) => c.call('network.ls', {}))) as { name: string; driver: string; subnet?: string; vni?: number }[];
    if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
    else io.out(table(['name', 'driver', 'subnet', 'vni'], rows.map((r) => [r.name, r.driver, r.subnet ?? '-', r.vni === undefined ? '-' : String(r.vni)])));
  });

  const service = new Command('service').description('services and their tasks');
  targetOptions(service.command('ls').description('list services').option('--stack <name>', 'only this stack').option('--json', 'print JSON')).action(
    async (opts: Target & { stack?: string }) => {
      const rows = (await withClient(opts, (c) => c.call('service.ls', opts.stack ? { stack: opts.stack } : {}))) as ServiceRow[];
      if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
      else io.out(serviceTable(rows));
    },
  );

  const stack = new Command('stack').description('compose-file stacks');
  targetOptions(
    stack
      .command('deploy')
      .description('create or update a stack from compose files (several -c merge as in compose)')
      .argument('<name>', 'stack name')
      .requiredOption('-c, --compose-file <file>', 'compose file (repeat to merge)', (v: string, prev: string[] = []) => [...prev, v])
      .option('--prune', 'remove services no longer in the file')
      .option('-d, --detach', 'return once accepted, without waiting for the services to run')
      .option('--timeout <s>', 'how long to wait for the services to run', (v) => Number(v), 300)
      .option('--json', 'print JSON')
      .addHelpText('after', '\nExample:\n  shoal stack deploy -c docker-compose.yml -c prod.yml shop'),
  ).action(async (name: string, opts: Target & { composeFile: string[]; prune?: boolean; detach?: boolean; timeout: number }) => {
    const files: ComposeFile[] = [];
    for (const f of opts.composeFile) {
      try {
        files.push({ name: basename(f), text: await readFile(f, 'utf8') });
      } catch (err) {
        throw new ShoalError('no_file', `cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check the path');
      }
    }
    const { stack: spec, warnings } = loadStack(files, { stackName: name, env: process.env });
    for (const w of warnings) io.err(`warning: ${formatDiagnostic(w)}\n`);
    await withClient(opts, async (c) => {
      const result = (await c.call('stack.deploy', { spec, ...(opts.prune ? { prune: true } : {}) })) as { created: string[]; updated: string[]; unchanged: string[]; removed: string[] };
      if (opts.json && opts.detach) io.out(JSON.stringify(result, null, 2) + '\n');
      else io.err(`stack ${name}: ${result.created.length} created, ${result.updated.length} updated, ${result.unchanged.length} unchanged, ${result.removed.length} removed\n`);
      if (opts.detach) return;
      const deadline = Date.now() + opts.timeout * 1000;
      let last = '';
      for (;;) {
        const rows = (await c.call('service.ls', { stack: name })) as ServiceRow[];
        const line = rows.map((r) => `${r.name} ${r.running}/${r.desired}`).join(', ');
        if (line !== last) io.err(`  ${line}\n`);
        last = line;
        if (rows.every((r) => r.running === r.desired)) {
          if (opts.json) io.out(JSON.stringify(rows, null, 2) + '\n');
          else io.out(serviceTable(rows));
          return;
        }
        if (Date.now() > deadline) throw new ShoalError('deploy_timeout', `stack ${name} did not converge within ${opts.timeout} s (${line})`, `see shoal stack ps ${name} for the tasks' errors`);
        await new Promise((r) => setTimeout(r, 500));
      }
    });
  });
  targetOptions(stack.command('rm').description('remove a stack').argument('<name>')).action(async (name: string, opts: Target) => {
    const r = (await withClient(opts, (c) => c.call('stack.rm', { stack: name }))) as { services: number; networks: number };
    io.out(`stack ${name} removed (${r.services} services, ${r.networks} networks)\n`);
  });
  return [node, network, service, stack];
}
