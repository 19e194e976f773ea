import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage, MemoryHub, MemoryStorage, RaftDriver, RaftError, bootstrap } from 'raft-ts';
import type { DriverOptions, Entry, HardState, Message, NodeId, Snapshot } from 'raft-ts';

class SlowSyncStorage extends MemoryStorage {
  syncs = 0;
  delayMs = 3;
  /** What happened, in order, once `events` is set: `sync` / `synced` around every fsync. */
  events: string[] | undefined;

  async sync(): Promise<void> {
    this.syncs++;
    this.events?.push('sync');
    await sleep(this.delayMs);
    this.events?.push('synced');
  }
}

class Recorder {
  readonly values: string[] = [];

  apply(e: Entry): void {
    if (e.kind === 'normal' && e.data.byteLength > 0) this.values.push(new TextDecoder().decode(e.data));
  }

  restore(_s: Snapshot): void {
    this.values.length = 0;
  }
}

interface Member {
  readonly driver: RaftDriver;
  readonly sm: Recorder;
  readonly storage: SlowSyncStorage;
}

const running: RaftDriver[] = [];

function cluster(ids: readonly NodeId[], options: Partial<DriverOptions> = {}): { hub: MemoryHub; members: Map<NodeId, Member> } {
  const hub = new MemoryHub();
  const members = new Map<NodeId, Member>();
  for (const id of ids) {
    const storage = new SlowSyncStorage();
    bootstrap(storage, ids);
    const sm = new Recorder();
    const driver = new RaftDriver({ id, storage, transport: hub.transport(), stateMachine: sm, tickMs: 2, electionTick: 10, ...options });
    running.push(driver);
    members.set(id, { driver, sm, storage });
    driver.start();
  }
  return { hub, members };
}

async function waitFor<T>(probe: () => T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(2);
  }
}

function leaderOf(members: Map<NodeId, Member>): Member | undefined {
  for (const m of members.values()) if (m.driver.status().role === 'leader') return m;
  return undefined;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
});

describe('RaftDriver on an in-memory transport', () => {
  it('elects a leader on real timers; a proposal resolves once applied on the proposer and reaches every member', async () => {
    const { members } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    const { index } = await leader.driver.propose(enc('hello'));
    expect(index).toBeGreaterThan(3);
    expect(leader.sm.values).toEqual(['hello']);
    for (const m of members.values()) await waitFor(() => (m.sm.values.includes('hello') ? true : undefined));
  });

  it('a follower refuses a proposal with the leader id when forwarding is disabled', async () => {
    const { members } = cluster([1, 2, 3], { disableProposalForwarding: true });
    const leader = await waitFor(() => leaderOf(members));
    await waitFor(() => ([...members.values()].every((m) => m.driver.status().leader === leader.driver.id) ? true : undefined));
    const follower = [...members.values()].find((m) => m !== leader);
    const err = await follower?.driver.propose(enc('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RaftError);
    expect(err).toMatchObject({ code: 'notLeader', leader: leader.driver.id });
  });

  it('a linearizable read on a follower waits until the follower applied every earlier write', async () => {
    const { members, hub } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    const follower = [...members.values()].find((m) => m !== leader);
    if (follower === undefined) throw new Error('no follower');
    await waitFor(() => (follower.driver.status().leader === leader.driver.id ? true : undefined));
    // Hold the follower back so the write commits without it.
    hub.cut.add(`${leader.driver.id}->${follower.driver.id}`);
    await leader.driver.propose(enc('w1'));
    expect(follower.sm.values).not.toContain('w1');
    hub.cut.clear();
    await waitFor(() => (follower.driver.status().leader === leader.driver.id ? true : undefined));
    await follower.driver.linearizableRead(AbortSignal.timeout(2000));
    expect(follower.sm.values).toContain('w1');
  });

  it('after the leader stops, the others elect a new leader and keep committing', async () => {
    const { members } = cluster([1, 2, 3]);
    const first = await waitFor(() => leaderOf(members));
    await first.driver.stop();
    const others = new Map([...members].filter(([, m]) => m !== first));
    const second = await waitFor(() => leaderOf(others));
    await expect(second.driver.propose(enc('after'))).resolves.toMatchObject({ term: second.driver.status().term });
  });

  it('stop is idempotent, fails pending requests and refuses new ones', async () => {
    const { members, hub } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    hub.isolate(leader.driver.id, [1, 2, 3]);
    const pending = leader.driver.propose(enc('never')).catch((e: unknown) => e);
    await Promise.all([leader.driver.stop(), leader.driver.stop()]);
    expect(await pending).toMatchObject({ code: 'stopped' });
    await expect(leader.driver.propose(enc('late'))).rejects.toMatchObject({ code: 'stopped' });
  });

  it('proposals made while a sync is in flight share the next sync', async () => {
    const { members } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    const before = leader.storage.syncs;
    await Promise.all(Array.from({ length: 50 }, (_, i) => leader.driver.propose(enc(`p${i}`))));
    expect(leader.sm.values).toHaveLength(50);
    expect(leader.storage.syncs - before).toBeLessThan(25);
  });

  it("a write committed by the followers is answered while the leader's own fsync still runs", async () => {
    const { members } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    await leader.driver.propose(enc('warm'));
    leader.storage.delayMs = 500;
    const events: string[] = [];
    leader.storage.events = events;
    await leader.driver.propose(enc('fast')).then(() => events.push('answered'));
    // Committed on the followers' disks: applied and answered before the leader's fsync of it
    // ends. (A fast sync begun before the events were recorded may end first: skip to the slow one.)
    const slowStart = events.indexOf('sync');
    const slowEnd = events.indexOf('synced', slowStart);
    expect(slowStart).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('answered')).toBeGreaterThan(slowStart);
    expect(slowEnd === -1 || events.indexOf('answered') < slowEnd).toBe(true);
    expect(leader.sm.values).toEqual(['warm', 'fast']);
  });

  it('64 proposals arriving in one turn are written and synced as one batch', async () => {
    const { members } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    await leader.driver.propose(enc('warm'));
    const before = leader.storage.syncs;
    await Promise.all(Array.from({ length: 64 }, (_, i) => leader.driver.propose(enc(`b${i}`))));
    expect(leader.sm.values).toHaveLength(65);
    // One sync for the batch; a leader election or term change in between could add one more.
    expect(leader.storage.syncs - before).toBeLessThanOrEqual(2);
  });

  it('acknowledgements and votes leave a member only after what they acknowledge is synced', async () => {
    const ids = [1, 2, 3];
    const hub = new MemoryHub();
    // Per member, what its last completed sync made durable.
    const durable = new Map<NodeId, { hs: HardState; last: number }>();
    let acks = 0;
    const violations: string[] = [];
    const base = hub.transport();
    for (const id of ids) {
      class Tracked extends SlowSyncStorage {
        override async sync(): Promise<void> {
          const covered = { hs: this.hardState(), last: this.lastIndex() };
          await super.sync();
          durable.set(id, covered);
        }
      }
      const storage = new Tracked();
      bootstrap(storage, ids);
      durable.set(id, { hs: storage.hardState(), last: storage.lastIndex() });
      const transport = {
        send: (msgs: readonly Message[]): void => {
          for (const m of msgs) {
            if ((m.type !== 'appResp' && m.type !== 'voteResp') || m.reject) continue;
            acks++;
            const d = durable.get(m.from);
            const ok = m.type === 'appResp' ? (d?.last ?? 0) >= m.index : d?.hs.term === m.term && d.hs.vote === m.to;
            if (!ok) violations.push(`${m.type} ${m.from}->${m.to} index ${m.index} term ${m.term}`);
          }
          base.send(msgs);
        },
        listen: (to: NodeId, h: (m: Message) => void) => base.listen(to, h),
      };
      const driver = new RaftDriver({ id, storage, transport, stateMachine: new Recorder(), tickMs: 2, electionTick: 10 });
      running.push(driver);
      driver.start();
    }
    const leader = await waitFor(() => running.find((d) => d.status().role === 'leader'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => leader.propose(enc(`a${i}`))));
    expect(acks).toBeGreaterThan(5);
    expect(violations).toEqual([]);
  });

  it('members on durable file storage recover every committed write after all of them restart', async () => {
    const root = fs.mkdtempSync(join(tmpdir(), 'raft-ts-driver-'));
    try {
      const ids = [1, 2, 3];
      const start = (hub: MemoryHub, fresh: boolean): Map<NodeId, { driver: RaftDriver; sm: Recorder; storage: FileStorage }> => {
        const out = new Map<NodeId, { driver: RaftDriver; sm: Recorder; storage: FileStorage }>();
        for (const id of ids) {
          const { storage } = FileStorage.open(join(root, String(id)));
          if (fresh) bootstrap(storage, ids);
          const sm = new Recorder();
          const driver = new RaftDriver({ id, storage, transport: hub.transport(), stateMachine: sm, tickMs: 2, electionTick: 10 });
          running.push(driver);
          out.set(id, { driver, sm, storage });
          driver.start();
        }
        return out;
      };
      const first = start(new MemoryHub(), true);
      const leader = await waitFor(() => [...first.values()].find((m) => m.driver.status().role === 'leader'));
      for (let i = 0; i < 10; i++) await leader.driver.propose(enc(`w${i}`));
      for (const m of first.values()) {
        await m.driver.stop();
        m.storage.close();
      }
      const second = start(new MemoryHub(), false);
      const next = await waitFor(() => [...second.values()].find((m) => m.driver.status().role === 'leader'));
      await next.driver.propose(enc('after restart'));
      expect(next.sm.values).toEqual([...Array.from({ length: 10 }, (_, i) => `w${i}`), 'after restart']);
      for (const m of second.values()) {
        await m.driver.stop();
        m.storage.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('a storage that fails to sync stops the member and fails its pending requests instead of acknowledging', async () => {
    const { members } = cluster([1, 2, 3]);
    const leader = await waitFor(() => leaderOf(members));
    leader.storage.sync = (): Promise<void> => Promise.reject(new Error('EIO'));
    const err = await leader.driver.propose(enc('doomed')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'stopped' });
    expect((err as Error).cause).toMatchObject({ message: 'EIO' });
    await expect(leader.driver.propose(enc('later'))).rejects.toMatchObject({ code: 'stopped' });
    // Nothing of the failed batch left the process.
    await sleep(50);
    for (const m of members.values()) expect(m.sm.values).not.toContain('doomed');
  });
});
