import type { Command } from 'commander';
import { PROTOCOL_VERSION, ShoalError, decodeLogsMessage, type LogsMessage } from '@shoal/core';
import type { Io } from '../output.js';
import { examples, targetOptions, withClient, type Target, type TaskRow } from './common.js';
import { sinceFlag } from './watch.js';

interface LogsOptions extends Target {
  follow?: boolean;
  tail?: string;
  since?: string;
  taskIds?: boolean;
}

/** `shoal service logs`: each task's container logs, fetched through its node's agent from Docker. */
export function addServiceLogs(service: Command, io: Io): void {
  examples(
    targetOptions(
      service
        .command('logs')
        .description("the logs of a service's tasks, read by each task's agent from Docker")
        .argument('<service>', 'service id or name')
        .option('-f, --follow', 'keep printing new lines until Ctrl-C')
        .option('--tail <n>', 'only the last n lines of each task')
        .option('--since <when>', 'only lines since a time (10m, 2026-11-22T10:00:00Z)')
        .option('--no-task-ids', 'name tasks by service and slot only'),
    ),
    'shoal service logs web',
    'shoal service logs -f --tail 20 web',
  ).action(async (ref: string, opts: LogsOptions) => {
    const tail = opts.tail === undefined ? undefined : Number(opts.tail);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new ShoalError('bad_flag', `--tail ${JSON.stringify(opts.tail)} is not a whole number`, 'e.g. --tail 20');
    let since: number | undefined;
    if (opts.since !== undefined) {
      const s = sinceFlag(opts.since);
      if (!('since' in s)) throw new ShoalError('bad_flag', '--since takes a duration or a time here', 'e.g. --since 10m');
      since = Math.floor(Date.parse(s.since) / 1000);
    }
    await withClient(opts, async (c) => {
      const tasks = ((await c.call('service.ps', { service: ref })) as (TaskRow & { nodeId?: string; containerId?: string })[]).filter((t) => t.nodeId && t.containerId);
      if (tasks.length === 0) return;
      const control = opts.follow ? c.newInbox() : undefined;
      const stops: (() => void)[] = [];
      let open = tasks.length;
      const done = new Promise<void>((resolve) => {
        for (const t of tasks) {
          const name = `${t.service}.${t.slot ?? t.node ?? ''}${opts.taskIds === false ? '' : `.${t.id.slice(0, 12)}`}@${t.node ?? '?'}`;
          let partial = { stdout: '', stderr: '' };
          const emit = (m: LogsMessage): void => {
            if (m.kind === 'logs.end') {
              for (const k of ['stdout', 'stderr'] as const) if (partial[k]) (k === 'stdout' ? io.out : io.err)(`${name}    | ${partial[k]}\n`);
              partial = { stdout: '', stderr: '' };
              if (m.error) io.err(`warning: ${name}: ${m.error}\n`);
              if (--open === 0) resolve();
              return;
            }
            // whole lines only, each with the task's name, as docker service logs prints them
            const text = partial[m.stream] + m.data;
            const lines = text.split('\n');
            partial[m.stream] = lines.pop() ?? '';
            for (const line of lines) (m.stream === 'stdout' ? io.out : io.err)(`${name}    | ${line}\n`);
          };
          stops.push(
            c.stream(
              `node.${t.nodeId ?? ''}.logs`,
              { v: PROTOCOL_VERSION, kind: 'logs.request', taskId: t.id, follow: opts.follow === true, ...(tail !== undefined ? { tail } : {}), ...(since !== undefined ? { since } : {}), ...(control ? { control } : {}) },
              (data) => {
                try {
                  emit(decodeLogsMessage(data));
                } catch {
                  // not a logs message
                }
              },
            ),
          );
        }
      });
      if (!control) {
        // a node that never answers must not hang the command
        await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
      } else {
        const ping = setInterval(() => c.publishRaw(control, 'ping'), 3000);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
          void done.then(resolve);
        });
        clearInterval(ping);
        c.publishRaw(control, 'stop');
      }
      for (const s of stops) s();
    });
  });
}
