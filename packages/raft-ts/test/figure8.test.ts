import { describe, expect, it } from 'vitest';
import type { Message } from 'raft-ts';
import { Cluster } from './cluster.js';

// Figure 8 of the Raft paper. S1 leads term 4 and holds 2@2 (from its term-2 leadership);
// S5 holds 2@3. Once S1 has copied 2@2 to a majority, counting replicas would call it
// committed — yet S5 can still win an election and overwrite it.
function figure8(): Cluster {
  const c = new Cluster([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false }, {
    1: { entries: [{ term: 1 }, { term: 2 }], hardState: { term: 3, vote: 0, commit: 1 } },
    2: { entries: [{ term: 1 }, { term: 2 }], hardState: { term: 3, vote: 0, commit: 1 } },
    3: { entries: [{ term: 1 }], hardState: { term: 3, vote: 0, commit: 1 } },
    4: { entries: [{ term: 1 }], hardState: { term: 3, vote: 0, commit: 1 } },
    5: { entries: [{ term: 1 }, { term: 3 }], hardState: { term: 3, vote: 5, commit: 1 } },
  });
  c.isolate(4);
  c.isolate(5);
  // Let only the old-term entry through: the leader's own-term entries never arrive.
  c.intercept = (m: Message): Message => (m.type === 'app' ? { ...m, entries: m.entries.filter((e) => e.term < 4) } : m);
  c.elect(1);
  return c;
}

describe('figure 8: committing entries from earlier terms', () => {
  it('a leader does not commit an entry of an earlier term although a majority holds it', () => {
    const c = figure8();
    expect(c.node(1).status()).toMatchObject({ role: 'leader', term: 4 });
    for (const id of [1, 2, 3]) expect(c.get(id).storage.term(2)).toBe(2);
    const s1 = c.node(1).status();
    expect(s1.progress.find((p) => p.id === 3)?.match).toBe(2);
    expect(s1.commit).toBe(1);
  });

  it('that entry can indeed still be overwritten by a leader of a later term', () => {
    const c = figure8();
    c.heal();
    c.isolate(1);
    // Its first try is in term 4, where the others already voted for S1; the second is term 5.
    c.elect(5);
    c.elect(5);
    expect(c.node(5).status()).toMatchObject({ role: 'leader', term: 5 });
    c.stabilize();
    for (const id of [2, 3, 4]) expect(c.get(id).storage.term(2)).toBe(3);
  });

  it('once an entry of the current term reaches a majority, it commits the earlier entry with it', () => {
    const c = figure8();
    c.intercept = undefined;
    c.tickAll(2);
    expect(c.node(1).status().commit).toBe(3);
    expect(c.get(2).applied.map((e) => `${e.index}@${e.term}`)).toEqual(['1@1', '2@2', '3@4']);
    // Now S5 cannot win: a majority holds an entry of term 4, newer than S5's last term 3.
    c.heal();
    c.isolate(1);
    c.elect(5);
    c.elect(5);
    expect(c.node(5).status().role).not.toBe('leader');
    expect(c.get(2).storage.term(2)).toBe(2);
  });
});
