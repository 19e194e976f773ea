import { describe, expect, it } from 'vitest';
import { SeededRng, message } from 'raft-ts';
import type { Entry, Message, MessageType } from 'raft-ts';
import { Cluster } from './cluster.js';

const types: MessageType[] = [
  'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp',
  'snap', 'snapResp', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow',
];

function randomMessage(r: SeededRng, to: number): Message {
  const type = types[r.int(types.length)] ?? 'app';
  const term = r.int(6);
  const index = r.int(12);
  const entries: Entry[] = [];
  if (type === 'app' || type === 'prop') {
    let t = Math.min(r.int(4), term);
    for (let i = 0; i < r.int(4); i++) {
      t = Math.min(term, t + r.int(2));
      entries.push(r.chance(0.2)
        ? { kind: 'conf', term: t, index: index + 1 + i, change: { type: 'addLearner', node: 1 + r.int(5) }, data: new Uint8Array(0) }
        : { kind: 'normal', term: t, index: index + 1 + i, data: new Uint8Array([r.int(256)]) });
    }
  }
  const data = new Uint8Array(r.int(6));
  return message({
    type, from: 1 + r.int(4), to, term, index, logTerm: r.int(term + 1), commit: r.int(15),
    reject: r.chance(0.3), rejectHint: r.int(12), context: r.chance(0.5) ? '' : 'r1', entries,
    snapshot: type === 'snap' ? { meta: { index: r.int(15), term: r.int(term + 1), size: data.byteLength + r.int(3), checksum: r.int(5), conf: { voters: [1, 2, 3], learners: [] } }, offset: r.int(3), data } : undefined,
  });
}

describe('fuzzed input', () => {
  it('random well-formed but nonsensical messages never make a member throw, then or later', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = new SeededRng(seed);
      const c = new Cluster([1, 2, 3]);
      c.elect(1);
      c.propose(1, 'before');
      for (let i = 0; i < 200; i++) {
        const to = 1 + r.int(3);
        expect(() => c.node(to).step(randomMessage(r, to))).not.toThrow();
        if (i % 10 === 0) c.stabilize();
      }
      // Raft trusts its members, so forged member messages may well derail the cluster; what
      // must hold is that no input makes a member throw, now or while it keeps running.
      expect(() => {
        c.stabilize();
        c.tickAll(60);
      }).not.toThrow();
    }
  });
});
