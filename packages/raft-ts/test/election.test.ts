import { describe, expect, it } from 'vitest';
import { message } from 'raft-ts';
import { Cluster } from './cluster.js';

describe('leader election', () => {
  it('a follower whose election timeout elapses becomes leader with a majority', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.tickAll(30);
    const leader = c.leader();
    expect(leader).toBeDefined();
    const term = c.node(leader ?? 0).status().term;
    for (const id of [1, 2, 3]) {
      expect(c.node(id).status().leader).toBe(leader);
      expect(c.node(id).status().term).toBe(term);
    }
  });

  it('a candidate cut off from the others does not become leader and keeps campaigning in new terms', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.isolate(1);
    c.elect(1);
    expect(c.node(1).status().role).toBe('candidate');
    expect(c.node(1).status().term).toBe(1);
    c.tick(1, 40);
    c.stabilize();
    expect(c.node(1).status().role).toBe('candidate');
    expect(c.node(1).status().term).toBeGreaterThan(1);
  });

  it('a member grants one vote per term', () => {
    const c = new Cluster([1, 2, 3], { preVote: false });
    c.isolate(3);
    c.elect(1);
    expect(c.node(2).status().vote).toBe(1);
    // 3 asks for 2's vote in the same term with an equally long log: 2 already voted.
    c.node(2).step(message({ type: 'vote', from: 3, to: 2, term: 1, index: 1, logTerm: 1 }));
    const [resp] = c.drain(c.get(2)).filter((m) => m.type === 'voteResp');
    expect(resp?.reject).toBe(true);
    expect(c.node(2).status().vote).toBe(1);
  });

  it('a member with a more up-to-date log refuses its vote to a candidate with an older log', () => {
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false }, {
      1: { entries: [{ term: 1 }], hardState: { term: 1, vote: 0, commit: 0 } },
      2: { entries: [{ term: 1 }, { term: 1 }], hardState: { term: 1, vote: 0, commit: 0 } },
      3: { entries: [{ term: 1 }, { term: 1 }], hardState: { term: 1, vote: 0, commit: 0 } },
    });
    c.elect(1);
    expect(c.node(1).status().role).not.toBe('leader');
    c.elect(2);
    expect(c.node(2).status().role).toBe('leader');
  });

  it('a leader replicates a proposal and every member applies it', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x=1');
    for (const id of [1, 2, 3]) expect(c.appliedText(id)).toEqual(['x=1']);
  });

  it('a single-member cluster elects itself and commits alone', () => {
    const c = new Cluster([1]);
    c.tickAll(25);
    expect(c.leader()).toBe(1);
    c.propose(1, 'a');
    expect(c.appliedText(1)).toEqual(['a']);
  });

  it('vote requests a member rejects do not hold back its own election timer', () => {
    const hs = { term: 1, vote: 0, commit: 0 };
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false }, {
      2: { entries: [{ term: 1 }], hardState: hs },
    });
    // A member with a stale log campaigns every 5 ticks, faster than any election timeout.
    let term = 1;
    for (let t = 0; t < 25 && c.node(2).status().role === 'follower'; t++) {
      if (t % 5 === 0) c.node(2).step(message({ type: 'vote', from: 3, to: 2, term: ++term, index: 0, logTerm: 0 }));
      c.node(2).tick();
    }
    expect(c.node(2).status().role).toBe('candidate');
  });

  it.each([
    ['ahead of its own', 2, 1, true],
    ['no further than its own', 1, 1, false],
  ])('a member that voted for itself and refuses a candidate whose log is %s steps down for an extra election timeout: %s', (_what, index, logTerm, defers) => {
    // Member 1 (one entry) campaigns without PreVote; 2 asks for its vote in the same term.
    const c = new Cluster([1, 2, 3], { preVote: false, checkQuorum: false, electionTick: 10 }, {
      1: { entries: [{ term: 1 }], hardState: { term: 1, vote: 0, commit: 0 } },
      2: { entries: [{ term: 1 }, { term: 1 }], hardState: { term: 1, vote: 0, commit: 0 } },
    });
    c.node(1).campaign();
    c.drain(c.get(1));
    expect(c.node(1).status()).toMatchObject({ role: 'candidate', term: 2, vote: 1 });
    c.node(1).step(message({ type: 'vote', from: 2, to: 1, term: 2, index, logTerm }));
    const [resp] = c.drain(c.get(1));
    // The vote itself is refused either way: one vote per term.
    expect(resp).toMatchObject({ type: 'voteResp', to: 2, term: 2, reject: true });
    expect(c.node(1).status()).toMatchObject({ role: defers ? 'follower' : 'candidate', term: 2, vote: 1 });
    // An ordinary timeout is drawn from [10, 20) ticks; stepping down adds 10 more.
    for (let t = 0; t < 19; t++) c.node(1).tick();
    expect(c.node(1).status().term).toBe(defers ? 2 : 3);
    for (let t = 0; t < 11; t++) c.node(1).tick();
    expect(c.node(1).status().term).toBeGreaterThan(2);
  });
});
