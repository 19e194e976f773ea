import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { backoffMs } from '@shoal/core';
import type { ServiceSpec } from '../plan.js';

/** Where a supervised daemon's pids are kept: the supervisor's own, and the daemon's. */
export function pidFiles(runDir: string, name: string): { supervisor: string; daemon: string } {
  return { supervisor: `${runDir}/${name}.supervisor.pid`, daemon: `${runDir}/${name}.pid` };
}

/** The wait before the n-th restart in a row: 0.5 s doubling up to 30 s. */
export function restartDelayMs(failuresInARow: number): number {
  return backoffMs(failuresInARow, 500, 30_000);
}

/**
 * Runs on a host without systemd (the lab's hosts): keeps one daemon running, restarting it
 * with backoff when it exits, and keeps pid files so bootstrap can tell it runs. Started
 * detached (setsid) by bootstrap; SIGTERM stops the daemon, then the supervisor.
 */
export function runSupervisor(specFile: string, runDir: string): void {
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as ServiceSpec;
  const pids = pidFiles(runDir, spec.name);
  mkdirSync(runDir, { recursive: true });
  mkdirSync(dirname(spec.log), { recursive: true });
  writeFileSync(pids.supervisor, `${process.pid}\n`);
  const log = openSync(spec.log, 'a');
  const say = (msg: string): void => void writeSync(log, `${new Date().toISOString()} supervisor: ${msg}\n`);
  let child: ChildProcess | undefined;
  let stopping = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const start = (): void => {
    const [cmd, ...args] = spec.argv;
    if (!cmd) throw new Error(`${specFile}: empty argv`);
    const startedAt = Date.now();
    const c = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', ...spec.env }, stdio: ['ignore', log, log] });
    child = c;
    if (c.pid !== undefined) writeFileSync(pids.daemon, `${c.pid}\n`);
    c.on('error', (err) => say(`cannot start ${spec.name}: ${err.message}`));
    c.on('exit', (code, signal) => {
      child = undefined;
      rmSync(pids.daemon, { force: true });
      if (stopping) {
        finish();
        return;
      }
      // a daemon that ran a while before it died gets a fresh, short backoff
      failures = Date.now() - startedAt > 60_000 ? 1 : failures + 1;
      const delay = restartDelayMs(failures);
      say(`${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay / 1000} s`);
      timer = setTimeout(start, delay);
    });
  };
  const finish = (): void => {
    rmSync(pids.supervisor, { force: true });
    say(`${spec.name} stopped`);
    closeSync(log);
    process.exit(0);
  };
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (timer) clearTimeout(timer);
    if (!child) {
      finish();
      return;
    }
    child.kill('SIGTERM');
    const c = child;
    setTimeout(() => c.kill('SIGKILL'), 15_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // reload is for the daemon (nats-server re-reads its config), not for the supervisor
  process.on('SIGHUP', () => void child?.kill('SIGHUP'));
  say(`starting ${spec.name}`);
  start();
}
