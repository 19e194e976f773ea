import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { Command } from 'commander';
import { ShoalError, formatDiagnostic, loadStack, type ComposeFile } from '@shoal/core';
import type { Io } from '../output.js';
import { SERVICE_COLUMNS, TASK_COLUMNS, collect, emit, examples, listOptions, retryWhileBusy, targetOptions, waitConverged, withClient, type Column, type ServiceRow, type Target, type TaskRow } from './common.js';

interface StackRow {
  name: string;
  services: number;
}

const STACK_COLUMNS: Column<StackRow>[] = [
  { header: 'name', cell: (r) => r.name },
  { header: 'services', cell: (r) => String(r.services) },
];

/** `shoal stack …`: compose files deployed as one unit, as `docker stack` does. */
export function stackCommand(io: Io): Command {
  const stack = new Command('stack').description('compose-file stacks');

  examples(
    listOptions(
      stack
        .command('deploy')
        .description('create or update a stack from compose files (several -c merge as in compose), then wait until it runs')
        .argument('<name>', 'stack name')
        .requiredOption('-c, --compose-file <file>', 'compose file (repeat to merge)', collect)
        .option('--prune', 'remove services no longer in the file')
        .option('-d, --detach', 'return once accepted, without waiting for the services to run')
        .option('--timeout <s>', 'how long to wait for the services to run', (v) => Number(v), 300),
    ),
    'shoal stack deploy -c examples/stack.yml shop',
    'shoal stack deploy -c docker-compose.yml -c prod.yml --prune shop',
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
      const rows = await waitConverged(c, io, `stack ${name}`, async () => (await c.call('service.ls', { stack: name })) as ServiceRow[], opts.timeout, `see shoal stack ps ${name} for the tasks' errors`);
      emit(io, opts, rows, SERVICE_COLUMNS, (r) => r.id);
    });
  });

  examples(listOptions(stack.command('ls').description('list stacks')), 'shoal stack ls').action(async (opts: Target) => {
    emit(io, opts, (await withClient(opts, (c) => c.call('stack.ls', {}))) as StackRow[], STACK_COLUMNS, (r) => r.name);
  });

  examples(listOptions(stack.command('ps').description("a stack's tasks").argument('<name>', 'stack name')), 'shoal stack ps shop').action(async (name: string, opts: Target) => {
    emit(io, opts, (await withClient(opts, (c) => c.call('stack.ps', { stack: name }))) as TaskRow[], TASK_COLUMNS, (r) => r.id);
  });

  examples(listOptions(stack.command('services').description("a stack's services, as service ls shows them").argument('<name>', 'stack name')), 'shoal stack services shop').action(
    async (name: string, opts: Target) => {
      emit(io, opts, (await withClient(opts, (c) => c.call('service.ls', { stack: name }))) as ServiceRow[], SERVICE_COLUMNS, (r) => r.id);
    },
  );

  examples(targetOptions(stack.command('rm').description('remove a stack: its services, then its networks').argument('<name...>', 'stack names')), 'shoal stack rm shop').action(
    async (names: string[], opts: Target) => {
      await withClient(opts, async (c) => {
        for (const name of names) {
          const r = (await retryWhileBusy(io, `stack ${name}`, () => c.call('stack.rm', { stack: name }))) as { services: number; networks: number };
          io.out(`stack ${name} removed (${r.services} services, ${r.networks} networks)\n`);
        }
      });
    },
  );
  return stack;
}
