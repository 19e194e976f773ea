import { describe, expect, it } from 'vitest';
import { message } from 'raft-ts';
import { Cluster } from './cluster.js';

describe('PreVote', () => {
  it('a member cut off from the others does not raise its term while it cannot win', () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: false });
    c.elect(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(3, 100);
    c.stabilize();
    expect(c.node(3).status().term).toBe(term);
    expect(c.node(3).status().role).toBe('preCandidate');
  });

  it('a member rejoining after a partition does not depose a working leader', () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: false });
    c.elect(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(3, 100);
    c.heal();
    c.tickAll(5);
    expect(c.leader()).toBe(1);
    expect(c.node(1).status().term).toBe(term);
    expect(c.node(3).status()).toMatchObject({ role: 'follower', leader: 1, term });
  });

  it('without PreVote the same rejoining member deposes the leader with its higher term', () => {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false });
    c.elect(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(3, 100);
    c.heal();
    c.tickAll(1);
    expect(c.node(1).status().term).toBeGreaterThan(term);
  });

  it('granting a pre-vote changes neither the voter term nor its vote', () => {
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: false });
    c.node(2).step(message({ type: 'preVote', from: 3, to: 2, term: 5, index: 0, logTerm: 0 }));
    const [resp] = c.drain(c.get(2));
    expect(resp).toMatchObject({ type: 'preVoteResp', reject: false, term: 5 });
    expect(c.node(2).status()).toMatchObject({ term: 0, vote: 0 });
  });

  it('a pre-candidate with a stale log loses the pre-vote and nobody changes term', () => {
    const hs = { term: 2, vote: 0, commit: 0 };
    const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: false }, {
      1: { entries: [{ term: 1 }], hardState: hs },
      2: { entries: [{ term: 1 }, { term: 2 }], hardState: hs },
      3: { entries: [{ term: 1 }, { term: 2 }], hardState: hs },
    });
    c.elect(1);
    for (const id of [1, 2, 3]) expect(c.node(id).status().term).toBe(2);
    expect(c.node(1).status().role).toBe('follower');
  });
});

describe('CheckQuorum', () => {
  it('a leader that hears from no quorum for an election timeout steps down', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    c.isolate(1);
    c.tick(1, 10);
    c.stabilize();
    expect(c.node(1).status().role).toBe('leader');
    c.tick(1, 11);
    expect(c.node(1).status().role).toBe('follower');
  });

  it('a leader that keeps hearing from a quorum stays leader', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true });
    c.elect(1);
    c.isolate(3);
    c.tickAll(100);
    expect(c.leader()).toBe(1);
  });

  it('a follower within its leader lease ignores a vote request of a higher term', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: true, preVote: false });
    c.elect(1);
    const term = c.node(2).status().term;
    c.node(2).step(message({ type: 'vote', from: 3, to: 2, term: term + 5, index: 100, logTerm: term }));
    expect(c.drain(c.get(2))).toEqual([]);
    expect(c.node(2).status()).toMatchObject({ term, leader: 1 });
  });

  it('without CheckQuorum the same vote request raises the follower term', () => {
    const c = new Cluster([1, 2, 3], { checkQuorum: false, preVote: false });
    c.elect(1);
    const term = c.node(2).status().term;
    c.node(2).step(message({ type: 'vote', from: 3, to: 2, term: term + 5, index: 100, logTerm: term }));
    expect(c.node(2).status().term).toBe(term + 5);
  });
});

describe("the leader's view of who answers", () => {
  it('marks a follower inactive once it has not answered for two CheckQuorum rounds, and active again once it does', () => {
    const c = new Cluster([1, 2, 3, 4, 5], { checkQuorum: true });
    c.elect(1);
    c.tickAll(25);
    const active = (): Record<number, boolean> => Object.fromEntries(c.node(1).status().progress.map((p) => [p.id, p.active]));
    expect(active()).toEqual({ 1: true, 2: true, 3: true, 4: true, 5: true });
    c.isolate(5);
    c.tickAll(25);
    expect(c.leader()).toBe(1);
    expect(active()).toEqual({ 1: true, 2: true, 3: true, 4: true, 5: false });
    c.heal();
    c.tickAll(3);
    expect(active()[5]).toBe(true);
  });
});
