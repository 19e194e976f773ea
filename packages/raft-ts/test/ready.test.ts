import { describe, expect, it } from 'vitest';
import { MemoryStorage, RaftNode, RaftUsageError, SeededRng, message, sendableBeforePersist } from 'raft-ts';
import type { Message } from 'raft-ts';
import { Cluster, text } from './cluster.js';

describe('Ready and advance', () => {
  it('asking for a second Ready before advancing is a usage error', () => {
    const c = new Cluster([1, 2, 3]);
    c.node(1).campaign();
    c.node(1).ready();
    expect(() => c.node(1).ready()).toThrow(RaftUsageError);
  });

  it('a vote must be synced before the vote response is sent', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.node(2).step(message({ type: 'vote', from: 1, to: 2, term: 1, index: 0, logTerm: 0 }));
    const rd = c.node(2).ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => m.type)).toEqual(['voteResp']);
  });

  it('a change of commit index alone needs no sync', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    // Member 2 gets the entry but not the news that it committed.
    c.dropIf = (m: Message): boolean => m.to === 2 && m.type === 'app' && m.entries.length === 0;
    c.propose(1, 'x');
    const commit = c.node(1).status().commit;
    expect(c.node(2).status().commit).toBeLessThan(commit);
    c.dropIf = undefined;
    c.tick(1);
    for (const m of c.drain(c.get(1))) if (m.to === 2) c.deliver(m);
    const rd = c.node(2).ready();
    expect(rd.entries).toEqual([]);
    expect(rd.hardState?.commit).toBe(commit);
    expect(rd.mustSync).toBe(false);
  });

  it('a Ready carries the hard state only when it changed, and nothing once everything is handled', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(1).hasReady()).toBe(false);
    c.tick(1);
    const rd = c.node(1).ready();
    expect(rd.hardState).toBeUndefined();
    expect(rd.messages.every((m) => m.type === 'heartbeat')).toBe(true);
    c.node(1).advance();
  });

  it('committed entries are handed to the application once, in order', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 5; i++) c.propose(1, `e${i}`);
    c.tickAll(3);
    expect(c.appliedText(2)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
    const indexes = c.get(2).applied.map((e) => e.index);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
  });
});

describe('applying while persisting', () => {
  it('entries that commit while a leader persists its Ready are handed out once by takeCommitted, then skipped by the next Ready', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const leader = c.node(1);
    expect(leader.takeCommitted()).toEqual([]);
    leader.propose(new TextEncoder().encode('x'));
    const rd = leader.ready();
    expect(rd.entries.map(text)).toEqual(['x']);
    // The appends leave before the leader's own write; both followers acknowledge.
    for (const m of rd.messages) c.deliver(m);
    for (const id of [2, 3]) for (const m of c.drain(c.get(id))) c.deliver(m);
    const index = rd.entries[0]?.index ?? 0;
    expect(leader.status().commit).toBe(index);
    expect(leader.takeCommitted().map(text)).toEqual(['x']);
    expect(leader.takeCommitted()).toEqual([]);
    c.get(1).storage.append(rd.entries);
    leader.advance();
    expect(leader.status().applied).toBe(index);
    const next = leader.ready();
    expect(next.committedEntries).toEqual([]);
    leader.advance();
  });

  it('nothing is handed out while a snapshot is being installed', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'a');
    const snap = c.get(1).storage.createSnapshot(c.node(1).status().applied, c.node(1).confStateAt(c.node(1).status().applied), new Uint8Array([1]));
    const fresh = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
    const node = new RaftNode({ id: 2, storage: fresh, rng: new SeededRng(1) });
    node.step(message({ type: 'snap', from: 1, to: 2, term: c.node(1).status().term, snapshot: { meta: snap.meta, offset: 0, data: snap.data } }));
    const rd = node.ready();
    expect(rd.snapshot?.meta.index).toBe(snap.meta.index);
    expect(node.takeCommitted()).toEqual([]);
  });
});

describe('sending before persisting', () => {
  it('a leader counts its own copy of an entry toward commit only once it is persisted', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(3);
    const r = c.node(1).propose(new TextEncoder().encode('x'));
    const index = r.status === 'appended' ? r.index : -1;
    const rd = c.node(1).ready();
    // The append leaves before the leader's own write, as sendableBeforePersist allows.
    expect(rd.messages.filter((m) => m.to === 2).every(sendableBeforePersist)).toBe(true);
    for (const m of rd.messages) c.deliver(m);
    for (const m of c.drain(c.get(2))) c.deliver(m);
    // Member 2 holds it durably, the leader does not yet: one copy of three is not a majority.
    expect(c.node(1).status().commit).toBeLessThan(index);
    c.get(1).storage.append(rd.entries);
    c.node(1).advance();
    expect(c.node(1).status().commit).toBe(index);
  });

  it('votes and acknowledgements are never sendable before persisting', () => {
    for (const type of ['vote', 'voteResp', 'preVote', 'preVoteResp', 'appResp', 'heartbeatResp', 'snapResp'] as const) {
      expect(sendableBeforePersist(message({ type, from: 1, to: 2, term: 1 }))).toBe(false);
    }
  });
});

describe('restarts', () => {
  it('a member whose snapshot is newer than the commit index on its disk counts the snapshot as committed and applies nothing twice', () => {
    const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
    storage.append([1, 2, 3, 4, 5].map((index) => ({ kind: 'normal' as const, term: 1, index, data: new Uint8Array([index]) })));
    // The commit index is written without a sync; the application applied (and snapshotted) further.
    storage.setHardState({ term: 1, vote: 0, commit: 2 });
    storage.createSnapshot(4, { voters: [1, 2, 3], learners: [] }, new Uint8Array([4]));
    const node = new RaftNode({ id: 1, storage, rng: new SeededRng(1), applied: 4 });
    expect(node.status()).toMatchObject({ commit: 4, applied: 4 });
    expect(node.hasReady()).toBe(false);
  });

  it('a member restarted from storage remembers its vote and does not vote twice in a term', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.isolate(3);
    c.elect(1);
    expect(c.node(2).status().vote).toBe(1);
    c.restart(2);
    expect(c.node(2).status()).toMatchObject({ term: 1, vote: 1 });
    c.node(2).step(message({ type: 'vote', from: 3, to: 2, term: 1, index: 5, logTerm: 1 }));
    const [resp] = c.drain(c.get(2)).filter((m) => m.type === 'voteResp');
    expect(resp?.reject).toBe(true);
  });

  it('a member restarted from storage resumes with its log and commit index and applies from its snapshot on', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    for (let i = 0; i < 3; i++) c.propose(1, `e${i}`);
    const before = c.node(2).status();
    c.restart(2);
    const after = c.node(2).status();
    expect(after).toMatchObject({ lastIndex: before.lastIndex, commit: before.commit, term: before.term, role: 'follower' });
    c.stabilize();
    // Restarted with applied = 0 (no snapshot), the state machine is rebuilt from the log.
    expect(c.appliedText(2)).toEqual(['e0', 'e1', 'e2']);
  });

  it('entries a crashed member never persisted are gone after the restart and replicated again', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.node(1).propose(new TextEncoder().encode('lost?'));
    const leaderReady = c.drain(c.get(1));
    for (const m of leaderReady) c.deliver(m);
    // Member 2 received the append but crashes before handling its Ready.
    c.restart(2);
    const last = c.node(1).status().lastIndex;
    expect(c.node(2).status().lastIndex).toBe(last - 1);
    c.stabilize();
    c.tickAll(2);
    expect(c.node(2).status().lastIndex).toBe(last);
    expect(c.appliedText(2)).toContain('lost?');
  });
});

describe('randomized election timeouts', () => {
  it('a follower campaigns after a timeout drawn from [electionTick, 2·electionTick)', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const storage = new MemoryStorage({ voters: [1, 2, 3], learners: [] });
      const node = new RaftNode({ id: 1, storage, rng: new SeededRng(seed), electionTick: 10, preVote: false });
      let ticks = 0;
      while (node.status().role === 'follower' && ticks < 100) {
        node.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    // Spread out, so that split votes resolve.
    expect(seen.size).toBeGreaterThan(5);
  });
});
