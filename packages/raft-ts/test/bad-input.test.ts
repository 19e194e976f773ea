import { describe, expect, it } from 'vitest';
import { message } from 'raft-ts';
import type { Message, RejectReason } from 'raft-ts';
import { Cluster } from './cluster.js';

const ok = message({ type: 'heartbeat', from: 1, to: 2, term: 1 });
const entry = { kind: 'normal', term: 1, index: 3, data: new Uint8Array(0) };

// Each case: a message arriving at follower 2 of a healthy cluster led by 1 in term 1.
const cases: [string, unknown, RejectReason][] = [
  ['not an object', 'hello', 'malformed'],
  ['null', null, 'malformed'],
  ['an unknown type', { ...ok, type: 'explode' }, 'malformed'],
  ['a negative term', { ...ok, term: -1 }, 'malformed'],
  ['a fractional index', { ...ok, index: 1.5 }, 'malformed'],
  ['sender id 0', { ...ok, from: 0 }, 'malformed'],
  ['entries that are not an array', { ...ok, type: 'app', entries: 'x' }, 'malformed'],
  ['an entry of unknown kind', { ...ok, type: 'app', index: 2, logTerm: 1, entries: [{ ...entry, kind: 'weird' }] }, 'malformed'],
  ['an entry whose data is not bytes', { ...ok, type: 'app', index: 2, logTerm: 1, entries: [{ ...entry, data: 'abc' }] }, 'malformed'],
  ['entries that skip an index', { ...ok, type: 'app', index: 1, logTerm: 1, entries: [entry] }, 'malformed'],
  ['an entry from a future term', { ...ok, type: 'app', index: 2, logTerm: 1, entries: [{ ...entry, term: 9 }] }, 'malformed'],
  ['a conf entry without a change', { ...ok, type: 'app', index: 2, logTerm: 1, entries: [{ ...entry, kind: 'conf' }] }, 'malformed'],
  ['a snapshot message without a chunk', { ...ok, type: 'snap' }, 'malformed'],
  ['a chunk beyond the snapshot size', { ...ok, type: 'snap', snapshot: { meta: { index: 9, term: 1, size: 1, checksum: 0, conf: { voters: [1], learners: [] } }, offset: 0, data: new Uint8Array(4) } }, 'malformed'],
  ['a heartbeat carrying entries', { ...ok, entries: [entry] }, 'malformed'],
  ['an oversized context', { ...ok, context: 'x'.repeat(5000) }, 'oversized'],
  ['an oversized payload', { ...ok, type: 'app', index: 2, logTerm: 1, entries: [{ ...entry, data: new Uint8Array(2048) }] }, 'oversized'],
  ['a message addressed to another member', { ...ok, to: 3 }, 'wrongRecipient'],
  ['a message claiming to come from the recipient', { ...ok, from: 2 }, 'malformed'],
  ['a proposal forwarded by an unknown member', message({ type: 'prop', from: 9, to: 2, term: 1, entries: [{ kind: 'normal', index: 0, term: 0, data: new Uint8Array(0) }] }), 'unknownMember'],
  ['a vote response from an unknown member', message({ type: 'voteResp', from: 9, to: 2, term: 1 }), 'unknownMember'],
  ['a response from an unknown member', message({ type: 'appResp', from: 9, to: 2, term: 1 }), 'unknownMember'],
  ['an append of an older term', message({ type: 'app', from: 3, to: 2, term: 0 }), 'staleTerm'],
  ['a heartbeat of an older term', message({ type: 'heartbeat', from: 3, to: 2, term: 0, commit: 5 }), 'staleTerm'],
  ['a vote request of an older term', message({ type: 'vote', from: 3, to: 2, term: 0, index: 9, logTerm: 0 }), 'staleTerm'],
  ['a pre-vote request of an older term', message({ type: 'preVote', from: 3, to: 2, term: 0, index: 9, logTerm: 0 }), 'staleTerm'],
  ['a response of an older term', message({ type: 'appResp', from: 3, to: 2, term: 0, index: 1 }), 'staleTerm'],
  ['a snapshot chunk of an older term', message({ type: 'snap', from: 3, to: 2, term: 0, snapshot: { meta: { index: 9, term: 0, size: 1, checksum: 0, conf: { voters: [3], learners: [] } }, offset: 0, data: new Uint8Array(1) } }), 'staleTerm'],
];

function state(c: Cluster): unknown {
  const st = c.node(2).status();
  const s = c.get(2).storage;
  return { st, hard: s.hardState(), last: s.lastIndex(), entries: c.node(2).entries(1, 100) };
}

describe('bad input', () => {
  it.each(cases)('%s is rejected, counted, reported, and changes nothing', (_name, input, reason) => {
    const reported: [RejectReason, string][] = [];
    const c = new Cluster([1, 2, 3], { maxMessageBytes: 1024, preVote: false, onReject: (r, detail) => reported.push([r, detail]) });
    c.elect(1);
    c.propose(1, 'x');
    const before = state(c);
    const counted = c.node(2).rejections().get(reason) ?? 0;
    expect(() => c.node(2).step(input as Message)).not.toThrow();
    const out = c.drain(c.get(2));
    expect(c.node(2).rejections().get(reason)).toBe(counted + 1);
    // The report is what an application logs: the reason and a detail naming what was wrong.
    expect(reported.at(-1)?.[0]).toBe(reason);
    expect(reported.at(-1)?.[1]).not.toBe('');
    expect(state(c)).toEqual(before);
    // At most a hint to a stale sender that a newer term exists (a refusal, for a vote request).
    for (const m of out) {
      expect(['appResp', 'voteResp', 'preVoteResp']).toContain(m.type);
      if (m.type !== 'appResp') expect(m.reject).toBe(true);
    }
  });

  it('an append below the commit index cannot rewrite committed entries and is answered with the commit index', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    c.propose(1, 'x');
    const before = state(c);
    const st = c.node(2).status();
    const forged = message({ type: 'app', from: 1, to: 2, term: st.term, index: 0, logTerm: 0, entries: [{ kind: 'normal', term: st.term, index: 1, data: new Uint8Array([7]) }] });
    c.node(2).step(forged);
    const [resp] = c.drain(c.get(2));
    expect(resp).toMatchObject({ type: 'appResp', reject: false, index: st.commit });
    expect(state(c)).toEqual(before);
  });
});
