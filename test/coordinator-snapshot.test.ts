import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorCluster } from './support/coordinators.js';
import { eventually } from './support/net.js';

// Three coordinator PROCESSES with a tiny snapshot interval and tiny log segments, so that a
// few hundred writes make them snapshot and compact several times. Ports: NATS 14281, Raft
// 17460 + member id.
const CLUSTER = 'snapt';
const FOUNDERS = [1, 2, 3];
const SNAPSHOTS = ['--snapshot-every', '40', '--snapshot-keep', '20', '--wal-segment-bytes', '4096'];

const spec = (name: string) => ({ name, driver: 'overlay' as const, driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} });

/** The indexes at which a coordinator's log says it restored its store from a snapshot. */
function restores(output: string): number[] {
  return output
    .split('\n')
    .filter((l) => l.includes('"msg":"store restored from a snapshot"'))
    .map((l) => (JSON.parse(l) as { index: number }).index);
}

describe('coordinator snapshots and log compaction', () => {
  let dir = '';
  let c: CoordinatorCluster;
  const dataDir = (id: number): string => join(dir, `c${id}`);
  const segments = async (id: number): Promise<string[]> => (await readdir(join(dataDir(id), 'raft', 'wal'))).filter((n) => n.endsWith('.wal')).sort();
  const snapFiles = async (id: number): Promise<string[]> => (await readdir(join(dataDir(id), 'raft', 'snap'))).filter((n) => n.endsWith('.snap'));
  const ok = (r: { ok: boolean; error?: { code: string; message: string } }): void => {
    if (!r.ok) throw new Error(`API error ${r.error?.code}: ${r.error?.message}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-snapt-'));
    c = new CoordinatorCluster(CLUSTER, 14281, 17460, dataDir);
    await c.start();
    for (const id of FOUNDERS) c.spawn(id, ['--peers', c.members(FOUNDERS), ...SNAPSHOTS]);
  });

  afterAll(async () => {
    // each coordinator's log, to read when a check failed
    await mkdir('.test-results', { recursive: true });
    for (const id of [1, 2, 3, 4]) await writeFile(`.test-results/coordinator-snapshot-c${id}.log`, c?.output(id) ?? '').catch(() => undefined);
    await c?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('snapshots and compacts the log on disk; a member that was down meanwhile catches up from a snapshot', async () => {
    const leader = await c.leader(FOUNDERS);
    const lagging = FOUNDERS.find((id) => id !== leader) ?? 0;
    const [before] = await c.converged(FOUNDERS);
    const lagged = before?.applied ?? 0;
    await c.kill(lagging, 'SIGKILL');
    const up = FOUNDERS.filter((id) => id !== lagging);

    // each create is its entry plus the allocator's; each rm one more
    for (let i = 0; i < 60; i++) ok(await c.api('network.create', { spec: spec(`n${i}`) }));
    for (let i = 0; i < 60; i += 2) ok(await c.api('network.rm', { network: `n${i}` }));

    await c.converged(up);
    // a snapshot is due every 40 applied entries and taken on the coordinator's next 50 ms tick:
    // during a burst more than 40 may pile up behind the last one (57 were seen), but once the
    // writes stop, fewer than 40 are left behind it
    const running = await eventually(
      'the snapshots to catch up with the writes',
      async () => {
        const all = await Promise.all(up.map((id) => c.status(id)));
        return all.every((s) => s.applied === all[0]?.applied && s.applied - s.snapshotIndex < 40) ? all : undefined;
      },
      10_000,
    );
    for (const s of running) {
      expect(s.snapshotIndex, `member ${s.id} took a snapshot`).toBeGreaterThan(lagged);
      // the log behind the snapshot is gone, less the few entries kept for slow followers
      expect(s.logFirstIndex).toBeGreaterThan(lagged + 1);
      expect(s.snapshotIndex - s.logFirstIndex + 1).toBeLessThanOrEqual(20);
    }
    for (const id of up) {
      // segments wholly behind the snapshot were deleted from disk, the first one with them
      const segs = await segments(id);
      expect(segs[0], `member ${id}'s oldest segment`).not.toBe('0000000000000001.wal');
      expect(segs.length).toBeLessThan(10);
      expect(await snapFiles(id)).toHaveLength(1);
    }

    // the leader no longer holds the entries the lagging member lacks: it must send a snapshot
    c.restart(lagging);
    const all = await c.converged(FOUNDERS);
    expect(new Set(all.map((s) => s.digest)).size).toBe(1);
    // converged: it has applied what the others have, so its log says how it got there
    const installed = restores(c.output(lagging)).filter((i) => i > lagged);
    expect(installed.length, 'the lagging member restored a snapshot from the leader').toBeGreaterThan(0);
    expect(installed[0]).toBeGreaterThanOrEqual(Math.min(...running.map((s) => s.logFirstIndex)) - 1);
    // its API is served from the watch tick after it finds itself a member (status answers first)
    const networks = await eventually('the restarted member to serve its API', () => c.api('network.ls', {}, lagging), 20_000);
    expect(networks.ok && (networks.body as unknown[]).length).toBe(30);
  });

  it('after all three restart, each rebuilds its store from its snapshot and the log after it: identical to before', async () => {
    ok(await c.api('network.create', { spec: spec('last') }));
    // the allocator's entry follows the create's: wait for it, so nothing is still on its way
    await eventually('network last allocated', async () => {
      const r = await c.api('network.inspect', { network: 'last' });
      return r.ok && (r.body as { allocation?: { subnet?: string } }).allocation?.subnet ? true : undefined;
    });
    const before = await c.converged(FOUNDERS);
    expect(new Set(before.map((s) => s.digest)).size).toBe(1);
    for (const id of FOUNDERS) expect(await c.kill(id, 'SIGTERM')).toBe(0);
    for (const id of FOUNDERS) c.restart(id);
    await c.leader(FOUNDERS);
    const after = await c.converged(FOUNDERS);
    for (const s of after) {
      expect(s.digest, `member ${s.id}'s store`).toBe(before[0]?.digest);
      expect(s.storeIndex).toBe(before[0]?.storeIndex);
      expect(s.counts).toEqual(before[0]?.counts);
      // the restart started from the snapshot on disk, not from the first entry
      expect(restores(c.output(s.id))[0]).toBeGreaterThan(0);
    }
    const last = await c.api('network.inspect', { network: 'last' });
    expect(last.ok).toBe(true);
  });

  it('a new coordinator joining after compaction is sent a snapshot, and holds the same store', async () => {
    const tokens = await c.api('cluster.tokens', {});
    const token = tokens.ok ? (tokens.body as { manager: string }).manager : '';
    expect(token).toMatch(/^SHOALTKN-1-m-/);
    const leader = await c.leader(FOUNDERS);
    expect((await c.status(leader)).logFirstIndex).toBeGreaterThan(1);
    c.spawn(4, ['--join', c.members(FOUNDERS), '--listen', c.endpoint(4), '--token', token, ...SNAPSHOTS]);
    await eventually('member 4 a voter', async () => ((await c.status(leader)).voters.includes(4) ? true : undefined), 60_000);
    const all = await c.converged([...FOUNDERS, 4]);
    expect(new Set(all.map((s) => s.digest)).size).toBe(1);
    expect(restores(c.output(4))[0], 'member 4 installed a snapshot').toBeGreaterThan(0);
    const networks = await c.api('network.ls', {}, 4);
    expect(networks.ok && (networks.body as unknown[]).length).toBe(31);
  });
});
