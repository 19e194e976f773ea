import { spawn } from 'node:child_process';
import { ShoalError } from '@shoal/core';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  /** Milliseconds before the command is killed; a lab step that hangs must not hang the lab. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion and returns what it printed, whatever its exit code. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(
        e.code === 'ENOENT'
          ? new ShoalError('missing_tool', `${cmd} is not installed`, `install it (see scripts/setup.sh)`, { cause: e })
          : e,
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input);
  });
}

/** Runs a command that must succeed; a failure becomes a ShoalError naming the command. */
export async function must(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const res = await run(cmd, args, options);
  if (res.code !== 0) {
    const detail = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-3).join(' / ');
    throw new ShoalError('command_failed', `\`${[cmd, ...args].join(' ')}\` failed (exit ${res.code}): ${detail}`);
  }
  return res.stdout;
}
