import { describe, expect, it } from 'vitest';
import { isShoalError } from '@shoal/core';
import { MemberDirectory, asMemberRecord, checkJoin, majority, nodeRoleUpdates, planDemote, planPromote } from '@shoal/coordinator';
import { node } from './fixtures.js';

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (isShoalError(err)) return err.code;
    throw err;
  }
  return 'accepted';
};
const up = (...ids: number[]): Set<number> => new Set(ids);

describe('membership decisions', () => {
  const three = { voters: [1, 2, 3], learners: [] };

  it('demoting a voter makes it a standby while a majority of the voters left is up', () => {
    expect(planDemote(three, 3, 1, up(1, 2, 3))).toEqual({ kind: 'toStandby' });
    // 3 down already: removing it leaves 1 and 2, both up
    expect(planDemote(three, 3, 1, up(1, 2))).toEqual({ kind: 'toStandby' });
  });

  it('refuses a demote that would leave too few voters up to decide, or no voter at all', () => {
    expect(code(() => planDemote(three, 2, 1, up(1)))).toBe('quorum_at_risk');
    expect(code(() => planDemote({ voters: [1, 2, 3, 4, 5], learners: [] }, 5, 1, up(1, 5)))).toBe('quorum_at_risk');
    expect(planDemote({ voters: [1, 2, 3, 4, 5], learners: [] }, 5, 1, up(1, 2, 3))).toEqual({ kind: 'toStandby' });
    expect(code(() => planDemote({ voters: [1], learners: [2] }, 1, 1, up(1, 2)))).toBe('last_coordinator');
  });

  it('the leader demoting itself hands the lead to a voter that is up', () => {
    expect(planDemote(three, 1, 1, up(1, 2, 3))).toEqual({ kind: 'transfer', to: 2 });
    expect(planDemote({ voters: [1, 2, 3, 4, 5], learners: [] }, 1, 1, up(1, 3, 4, 5))).toEqual({ kind: 'transfer', to: 3 });
  });

  it('demoting a standby removes it; strangers are refused', () => {
    expect(planDemote({ voters: [1, 2, 3], learners: [4] }, 4, 1, up(1))).toEqual({ kind: 'remove' });
    expect(code(() => planDemote(three, 9, 1, up(1, 2, 3)))).toBe('not_a_coordinator');
  });

  it('promote: a standby becomes a voter, a voter stays one, a stranger is refused', () => {
    expect(planPromote({ voters: [1], learners: [2] }, 2)).toBe('promote');
    expect(planPromote({ voters: [1], learners: [2] }, 1)).toBe('already');
    expect(code(() => planPromote({ voters: [1], learners: [] }, 2))).toBe('not_a_coordinator');
  });

  it('join: a new id is added, the same member again is no change, a taken or removed id is refused', () => {
    expect(checkJoin(three, undefined, 4, 'h', 1)).toBe('add');
    expect(checkJoin({ voters: [1, 2, 3], learners: [4] }, { host: 'h', port: 1, leaving: false }, 4, 'h', 1)).toBe('already');
    expect(code(() => checkJoin(three, { host: 'other', port: 1, leaving: false }, 3, 'h', 1))).toBe('member_exists');
    expect(code(() => checkJoin(three, { host: 'h', port: 1, leaving: true }, 4, 'h', 1))).toBe('member_removed');
  });

  it('majorities', () => {
    expect([1, 2, 3, 4, 5].map(majority)).toEqual([1, 2, 2, 3, 3]);
  });
});

describe('the member directory', () => {
  it('applies records from the log over the endpoints given at start, and finds members by id or name', () => {
    const d = new MemberDirectory(new Map([[1, { host: 'a', port: 1 }]]));
    const seen: number[] = [];
    d.onChange((r) => seen.push(r.id));
    expect(d.find('1')).toMatchObject({ id: 1, name: 'coordinator-1', wantVoter: true });
    d.apply({ id: 4, host: 'd', port: 4, name: 'east', wantVoter: false, leaving: false });
    expect(d.endpoints.get(4)).toEqual({ host: 'd', port: 4 });
    expect(d.find('east')?.id).toBe(4);
    expect(d.find('4')?.name).toBe('east');
    expect(d.find('west')).toBeUndefined();
    // a join reply never overrides what the log says
    d.learn(4, { host: 'x', port: 9 });
    expect(d.endpoints.get(4)).toEqual({ host: 'd', port: 4 });
    expect(seen).toEqual([4]);
  });

  it('checks a record read from the log or the wire', () => {
    expect(asMemberRecord({ id: 1, host: 'a', port: 1, name: 'n', wantVoter: true, leaving: false })).toBeDefined();
    for (const bad of [null, 'x', { id: 0, host: 'a', port: 1, name: 'n', wantVoter: true, leaving: false }, { id: 1, host: 'a b', port: 1, name: 'n', wantVoter: true, leaving: false }, { id: 1, host: 'a', port: 70000, name: 'n', wantVoter: true, leaving: false }, { id: 1, host: 'a', port: 1, name: '', wantVoter: true, leaving: false }, { id: 1, host: 'a', port: 1, name: 'n' }]) {
      expect(asMemberRecord(bad)).toBeUndefined();
    }
  });
});

describe('node roles from the membership', () => {
  const record = (id: number, name: string, leaving = false) => ({ id, host: '10.0.0.1', port: 7100 + id, name, wantVoter: true, leaving });
  const roles = (nodes: ReturnType<typeof node>[], conf: { voters: number[]; learners: number[] }, members = [record(1, 'h1'), record(2, 'h2'), record(3, 'h3', true)]): Record<string, string> =>
    Object.fromEntries(nodeRoleUpdates(nodes, members, conf).map((c) => (c.op === 'update' && c.kind === 'node' ? [c.object.id, c.object.spec.role] : ['?', '?'])));

  it('makes the host of a voting coordinator a manager, and every other host a worker', () => {
    const nodes = [node('a', { role: 'worker' }), node('b', { role: 'worker' }), node('c', { role: 'manager' }), node('d', { role: 'manager' })].map((n, i) => ({ ...n, hostname: `h${i + 1}` }));
    // h1 votes; h2 is a standby; h3 votes but is leaving; h4 runs no coordinator
    expect(roles(nodes, { voters: [1, 3], learners: [2] })).toEqual({ a: 'manager', c: 'worker', d: 'worker' });
    // promoted h2: only what differs is written
    const promoted = nodes.map((n) => (n.id === 'a' ? { ...n, spec: { ...n.spec, role: 'manager' as const } } : n));
    expect(roles(promoted, { voters: [1, 2], learners: [] })).toEqual({ b: 'manager', c: 'worker', d: 'worker' });
    expect(roles([{ ...nodes[0], spec: { ...node('a').spec, role: 'manager' } } as ReturnType<typeof node>], { voters: [1], learners: [] })).toEqual({});
  });
});
