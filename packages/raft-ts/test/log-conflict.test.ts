import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';

// Figure 7 of the Raft paper: the leader of term 8 and six possible follower logs (terms by index).
const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
const followers: [string, number[]][] = [
  ['a: missing one entry', [1, 1, 1, 4, 4, 5, 5, 6, 6]],
  ['b: missing many entries', [1, 1, 1, 4]],
  ['c: one extra uncommitted entry of the same term', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]],
  ['d: extra entries of a later term', [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]],
  ['e: missing entries and extra entries of an old term', [1, 1, 1, 4, 4, 4, 4]],
  ['f: many conflicting entries of terms the leader never saw', [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]],
];

const terms = (ts: number[]): { term: number }[] => ts.map((term) => ({ term }));

describe('log conflict resolution (figure 7)', () => {
  it.each(followers)('follower %s ends with exactly the leader log', (_name, log) => {
    const hs = { term: 7, vote: 0, commit: 0 };
    const c = new Cluster([1, 2, 3], { preVote: false }, {
      1: { entries: terms(leaderLog), hardState: hs },
      2: { entries: terms(log), hardState: hs },
      3: { entries: terms(leaderLog), hardState: hs },
    });
    c.elect(1);
    expect(c.node(1).status()).toMatchObject({ role: 'leader', term: 8 });
    const expected = [...leaderLog, 8];
    const got = c.node(2).entries(1, 100).map((e) => e.term);
    expect(got).toEqual(expected);
    expect(c.get(2).storage.lastIndex()).toBe(expected.length);
    expect(c.node(2).status().commit).toBe(expected.length);
  });

  it('a follower answers a mismatch with a hint that skips a whole conflicting term at once', () => {
    const hs = { term: 7, vote: 0, commit: 0 };
    const c = new Cluster([1, 2, 3], { preVote: false }, {
      1: { entries: terms(leaderLog), hardState: hs },
      2: { entries: terms([1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]), hardState: hs },
      3: { entries: terms(leaderLog), hardState: hs },
    });
    c.elect(1);
    const rejections = c.delivered.filter((m) => m.type === 'appResp' && m.from === 2 && m.reject);
    // Without hints the leader would back up one index per round trip (7 rejections here).
    expect(rejections.length).toBeLessThanOrEqual(2);
  });
});
