import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Lab } from '@shoal/lab';
import { requireLabMachine } from './support/machine.js';

// A short round of `npm run chaos` on its own lab: real coordinators, agents, nats-servers and
// dockerds killed, cut off and partitioned, while a client deploys, scales and removes stacks.
const CHAOS = fileURLToPath(new URL('../bench/chaos.mjs', import.meta.url));
const LOGS = fileURLToPath(new URL('../.bench-logs/chaost/', import.meta.url));
const SEED = 20261122;

function chaos(args: readonly string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHAOS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    // chaos bounds itself; this only keeps a hung run from holding the suite forever
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, out });
    });
  });
}

describe('npm run chaos', () => {
  it('refuses a bad --minutes with a reason and the usage, and makes no lab', async () => {
    const r = await chaos(['--minutes', 'soon', '--lab', 'chaost', '--subnet', '192.168.236.0/24'], 30_000);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^error: --minutes must be a number of minutes .* — usage: npm run chaos/m);
    expect(await Lab.list()).not.toContain('chaost');
  });

  it('a 2-minute round of faults and client changes ends with every check passed', async () => {
    await requireLabMachine();
    const r = await chaos(['--minutes', '2', '--seed', String(SEED), '--lab', 'chaost', '--subnet', '192.168.236.0/24', '--check-every', '40', '--converge', '180'], 600_000);
    const finals = r.out.split('\n').filter((l) => l.includes('check final:'));
    // every check of the end state ran, and each one says ok (the output names what failed)
    expect(finals.map((l) => /check final: (\S+)\s+(.*?) —/.exec(l)?.slice(1))).toEqual([
      ['ok', 'coordinators agree'],
      ['ok', 'every node ready'],
      ['ok', 'every service at its desired replicas'],
      ['ok', 'no address, VNI or subnet held twice'],
      ['ok', 'containers ⇔ tasks (none without a task, none twice)'],
      ['ok', "every host's DNS ⇔ store"],
      ['ok', 'kernel FDB and neighbours ⇔ store'],
    ]);
    // disruption, measured around every fault while the round ran: none on the hosts not faulted
    const during = r.out.split('\n').filter((l) => l.includes('check during the run:'));
    expect(during.map((l) => /check during the run: (\S+)\s+(.*?) —/.exec(l)?.slice(1))).toEqual([
      ['ok', 'no collateral restarts (containers on hosts not faulted kept running)'],
      ['ok', "no gap in live tasks' names (canary replicas on healthy hosts, from every healthy host)"],
      ['ok', 'writes never unavailable longer than an election + 2 s (3 s)'],
    ]);
    expect(r.out).not.toMatch(/FAIL/);
    expect(r.code, r.out.slice(-3000)).toBe(0);
    const result = JSON.parse(await readFile(`${LOGS}chaos-result.json`, 'utf8')) as { seed: number; failed: boolean; faults: Record<string, number> };
    expect(result).toMatchObject({ seed: SEED, failed: false });
    // the round did inject faults: a run that injected none would prove nothing
    expect(Object.values(result.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
    expect(await Lab.list()).not.toContain('chaost');
  }, 660_000);
});
