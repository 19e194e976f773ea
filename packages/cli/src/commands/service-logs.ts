import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { PROTOCOL_VERSION, ShoalError, decodeLogsMessage, nodeLogsSubjects, type LogsMessage } from '@shoal/core';
import type { Io } from '../output.js';
import { examples, targetOptions, withClient, type Target, type TaskRow } from './common.js';
import { sinceFlag } from './watch.js';

interface LogsOptions extends Target {
  follow?: boolean;
  tail?: string;
  since?: string;
  taskIds?: boolean;
}

/**
 * How long a node's agent has to say it found a task's container (and, without -f, between two
 * messages) before the command counts that node as not answering.
 */
export const LOGS_ANSWER_MS = 8_000;

type LogsTask = TaskRow & { nodeId?: string; containerId?: string };

/** `shoal service logs`: each task's container logs, fetched through its node's agent from Docker. */
export function addServiceLogs(service: Command, io: Io): void {
  examples(
    targetOptions(
      service
        .command('logs')
        .description("the logs of services' tasks, read by each task's agent from Docker")
        .argument('<service...>', 'service ids or names')
        .option('-f, --follow', 'keep printing new lines until Ctrl-C')
        .option('--tail <n>', 'only the last n lines of each task')
        .option('--since <when>', 'only lines since a time (10m, 2026-11-22T10:00:00Z)')
        .option('--no-task-ids', 'name tasks by service and slot only'),
    ),
    'shoal service logs web',
    'shoal service logs -f --tail 20 web',
    'shoal service logs --since 10m web api',
  ).action(async (refs: string[], opts: LogsOptions) => {
    const tail = opts.tail === undefined ? undefined : Number(opts.tail);
    if (tail !== undefined && (!/^\d+$/.test(opts.tail ?? '') || !Number.isSafeInteger(tail))) throw new ShoalError('bad_flag', `--tail ${JSON.stringify(opts.tail)} is not a whole number`, 'e.g. --tail 20');
    let since: number | undefined;
    if (opts.since !== undefined) {
      const s = sinceFlag(opts.since);
      if (!('since' in s)) throw new ShoalError('bad_flag', '--since takes a duration or a time here', 'e.g. --since 10m');
      since = Math.floor(Date.parse(s.since) / 1000);
    }
    await withClient(opts, async (c) => {
      const tasks: LogsTask[] = [];
      // every service is looked up first, so a wrong name fails before anything prints
      for (const ref of refs) tasks.push(...((await c.call('service.ps', { service: ref })) as LogsTask[]).filter((t) => t.nodeId && t.containerId));
      if (tasks.length === 0) return;
      const silent: { name: string; node: string }[] = [];
      const stops: (() => void)[] = [];
      let open = tasks.length;
      const pings: string[] = [];
      const done = new Promise<void>((resolve) => {
        const finish = (): void => {
          if (--open === 0) resolve();
        };
        for (const t of tasks) {
          const nodeId = t.nodeId ?? '';
          const node = t.node ?? nodeId;
          const name = `${t.service}.${t.slot ?? t.node ?? ''}${opts.taskIds === false ? '' : `.${t.id.slice(0, 12)}`}@${node}`;
          const subjects = nodeLogsSubjects(c.clusterId, nodeId, randomBytes(8).toString('hex'));
          let partial = { stdout: '', stderr: '' };
          let answered = false;
          let ended = false;
          let timer: NodeJS.Timeout | undefined;
          const wait = (): void => {
            clearTimeout(timer);
            timer = setTimeout(() => {
              if (ended) return;
              ended = true;
              silent.push({ name, node });
              io.err(`${name}: node ${node} ${answered ? 'stopped answering' : 'did not answer'} within ${LOGS_ANSWER_MS / 1000} s\n`);
              finish();
            }, LOGS_ANSWER_MS);
          };
          const emit = (m: LogsMessage): void => {
            if (ended) return;
            answered = true;
            // a follower may wait for a quiet task as long as it likes; a plain read may not stall
            if (opts.follow) clearTimeout(timer);
            else wait();
            if (m.kind === 'logs.open') return;
            if (m.kind === 'logs.end') {
              clearTimeout(timer);
              ended = true;
              for (const k of ['stdout', 'stderr'] as const) if (partial[k]) (k === 'stdout' ? io.out : io.err)(`${name}    | ${partial[k]}\n`);
              partial = { stdout: '', stderr: '' };
              if (m.error) io.err(`warning: ${name}: ${m.error}\n`);
              finish();
              return;
            }
            // whole lines only, each with the task's name, as docker service logs prints them
            const text = partial[m.stream] + m.data;
            const lines = text.split('\n');
            partial[m.stream] = lines.pop() ?? '';
            for (const line of lines) (m.stream === 'stdout' ? io.out : io.err)(`${name}    | ${line}\n`);
          };
          if (opts.follow) pings.push(subjects.control);
          wait();
          stops.push(() => clearTimeout(timer));
          stops.push(
            c.stream(
              `node.${nodeId}.logs`,
              { v: PROTOCOL_VERSION, kind: 'logs.request', taskId: t.id, follow: opts.follow === true, ...(tail !== undefined ? { tail } : {}), ...(since !== undefined ? { since } : {}), ...(opts.follow ? { control: subjects.control } : {}) },
              subjects.reply,
              (data) => {
                let m: LogsMessage;
                try {
                  m = decodeLogsMessage(data);
                } catch {
                  return; // not a logs message
                }
                emit(m);
              },
            ),
          );
        }
      });
      if (!opts.follow) {
        await done;
      } else {
        const ping = setInterval(() => {
          for (const p of pings) c.publishRaw(p, 'ping');
        }, 3000);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
          void done.then(resolve);
        });
        clearInterval(ping);
        for (const p of pings) c.publishRaw(p, 'stop');
      }
      for (const s of stops) s();
      if (silent.length > 0) {
        const nodes = [...new Set(silent.map((s) => s.node))];
        throw new ShoalError(
          'node_unreachable',
          `no logs from node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')} (${silent.map((s) => s.name).join(', ')}): ${nodes.length > 1 ? 'their agents' : 'its agent'} did not answer`,
          'check the node with shoal node ls, and its agent (shoal-agent) on the host',
        );
      }
    });
  });
}
