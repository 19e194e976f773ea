import { describe, expect, it } from 'vitest';
import { MemoryStorage, RaftConfigError, RaftNode, SeededRng } from 'raft-ts';
import type { Message } from 'raft-ts';
import { Cluster } from './cluster.js';

describe('leader transfer', () => {
  it('a transfer to an up-to-date follower makes it leader in the next term', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).status().term;
    expect(c.node(1).transferLeader(2).status).toBe('appended');
    c.stabilize();
    expect(c.leader()).toBe(2);
    expect(c.node(2).status().term).toBe(term + 1);
    expect(c.delivered.some((m) => m.type === 'timeoutNow' && m.to === 2)).toBe(true);
  });

  it('a transfer to a lagging follower first brings its log up to date', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.cut.add('1->3');
    for (let i = 0; i < 5; i++) c.propose(1, `e${i}`);
    const last = c.node(1).status().lastIndex;
    expect(c.node(3).status().lastIndex).toBeLessThan(last);
    c.heal();
    c.node(1).transferLeader(3);
    c.stabilize();
    expect(c.leader()).toBe(3);
    expect(c.node(3).status().lastIndex).toBeGreaterThan(last);
  });

  it('proposals are refused while a transfer is in progress, and the transfer is abandoned after an election timeout', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(2);
    c.node(1).transferLeader(2);
    c.stabilize();
    expect(c.node(1).propose(new Uint8Array([1]))).toMatchObject({ status: 'refused', reason: 'transferring' });
    c.tick(1, 10);
    expect(c.node(1).status().leadTransferee).toBe(0);
    expect(c.node(1).propose(new Uint8Array([1])).status).toBe('appended');
  });

  it('a transfer requested on a follower is forwarded to the leader', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(3).transferLeader(2)).toEqual({ status: 'forwarded', leader: 1 });
    c.stabilize();
    expect(c.leader()).toBe(2);
  });

  it('a transfer bypasses the leader lease that otherwise protects followers from vote requests', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true, preVote: true });
    c.elect(1);
    c.node(1).transferLeader(3);
    c.stabilize();
    expect(c.leader()).toBe(3);
  });
});

describe('ReadIndex', () => {
  it('the leader answers a read with its commit index once a heartbeat round confirms its leadership', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x');
    const commit = c.node(1).status().commit;
    c.node(1).readIndex('r1');
    expect(c.get(1).reads).toEqual([]);
    c.stabilize();
    expect(c.get(1).reads).toEqual([{ index: commit, context: 'r1' }]);
  });

  it('a leader cut off from the majority answers no read', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    c.node(1).readIndex('r1');
    c.stabilize();
    c.tick(1, 5);
    c.stabilize();
    expect(c.get(1).reads).toEqual([]);
  });

  it('a read on a follower is answered with the leader commit index', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x');
    expect(c.node(2).readIndex('f')).toEqual({ status: 'forwarded', leader: 1 });
    c.stabilize();
    expect(c.get(2).reads).toEqual([{ index: c.node(1).status().commit, context: 'f' }]);
  });

  it('a new leader answers reads only after an entry of its term commits', () => {
    const c = new Cluster([1, 2, 3]);
    c.dropIf = (m: Message): boolean => m.type === 'app';
    c.elect(1);
    c.node(1).readIndex('early');
    c.stabilize();
    expect(c.get(1).reads).toEqual([]);
    c.dropIf = undefined;
    c.tickAll(2);
    const [read] = c.get(1).reads;
    expect(read?.context).toBe('early');
    expect(read?.index).toBeGreaterThanOrEqual(1);
    expect(c.node(1).entries(read?.index ?? 0, (read?.index ?? 0) + 1)[0]?.term).toBe(c.node(1).status().term);
  });

  it('lease reads are refused at construction without CheckQuorum', () => {
    expect(() => new RaftNode({ id: 1, storage: new MemoryStorage(), rng: new SeededRng(1), readOnly: 'lease', checkQuorum: false })).toThrow(RaftConfigError);
  });

  it('with lease reads the leader answers without a heartbeat round', () => {
    const c = new Cluster([1, 2, 3], { readOnly: 'lease', checkQuorum: true });
    c.elect(1);
    c.propose(1, 'x');
    const delivered = c.delivered.length;
    c.node(1).readIndex('lease');
    c.drain(c.get(1));
    expect(c.get(1).reads).toEqual([{ index: c.node(1).status().commit, context: 'lease' }]);
    expect(c.delivered.length).toBe(delivered);
  });
});

describe('proposals away from the leader', () => {
  it('a proposal on a follower is forwarded to the leader and committed', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    expect(c.node(2).propose(new TextEncoder().encode('fwd'))).toEqual({ status: 'forwarded', leader: 1 });
    c.stabilize();
    for (const id of [1, 2, 3]) expect(c.appliedText(id)).toEqual(['fwd']);
  });

  it('with forwarding disabled a follower refuses and names the leader', () => {
    const c = new Cluster([1, 2, 3], { disableProposalForwarding: true });
    c.elect(1);
    expect(c.node(2).propose(new Uint8Array([1]))).toMatchObject({ status: 'refused', reason: 'notLeader', leader: 1 });
    c.stabilize();
    expect(c.appliedText(1)).toEqual([]);
  });

  it('without a known leader a proposal is refused', () => {
    const c = new Cluster([1, 2, 3]);
    expect(c.node(2).propose(new Uint8Array([1]))).toMatchObject({ status: 'refused', reason: 'noLeader', leader: 0 });
  });
});

describe('flow control', () => {
  it('a leader keeps at most maxInflightMsgs unacknowledged appends to a follower', () => {
    const c = new Cluster([1, 2, 3], { maxInflightMsgs: 2, maxSizePerMsg: 1 });
    c.elect(1);
    c.dropIf = (m: Message): boolean => m.type === 'appResp' && m.from === 2;
    const before = c.delivered.length;
    for (let i = 0; i < 10; i++) c.propose(1, `e${i}`);
    const appsTo2 = c.delivered.slice(before).filter((m) => m.type === 'app' && m.to === 2 && m.entries.length > 0);
    expect(appsTo2.length).toBe(2);
    // The other follower answers and keeps receiving everything.
    expect(c.appliedText(3)).toHaveLength(10);
  });

  it('a leader keeps at most maxInflightBytes of unacknowledged entries to a follower', () => {
    const c = new Cluster([1, 2, 3], { maxInflightMsgs: 100, maxInflightBytes: 200, maxSizePerMsg: 1 });
    c.elect(1);
    c.dropIf = (m: Message): boolean => m.type === 'appResp' && m.from === 2;
    const before = c.delivered.length;
    for (let i = 0; i < 10; i++) c.propose(1, 'y'.repeat(84));
    const appsTo2 = c.delivered.slice(before).filter((m) => m.type === 'app' && m.to === 2 && m.entries.length > 0);
    // 100 bytes per entry with overhead: the window closes once 200 bytes are in flight.
    expect(appsTo2.length).toBe(2);
  });

  it('a follower that rejoins is probed with one append at a time until it matches', () => {
    const c = new Cluster([1, 2, 3], { maxSizePerMsg: 1 });
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `e${i}`);
    c.heal();
    c.dropIf = (m: Message): boolean => m.type === 'appResp' && m.from === 3;
    const before = c.delivered.length;
    c.tickAll(1);
    const appsTo3 = c.delivered.slice(before).filter((m) => m.type === 'app' && m.to === 3);
    expect(appsTo3.length).toBe(1);
  });
});
