import { describe, expect, it } from 'vitest';
import { crc32, type Entry, type Snapshot } from 'raft-ts';
import { MemberDirectory, Store, StoreMachine, storeDigest, type Command } from '@shoal/coordinator';
import { network, node, service, task } from './fixtures.js';

const enc = new TextEncoder();
const at = '2026-01-01T00:00:00.000Z';
const commandEntry = (index: number, command: Command): Entry => ({ kind: 'normal', term: 1, index, data: enc.encode(JSON.stringify({ at, command })) });
const memberEntry = (index: number, id: number, name: string): Entry => ({
  kind: 'normal',
  term: 1,
  index,
  data: enc.encode(JSON.stringify({ at, member: { id, host: '127.0.0.1', port: 7100 + id, name, wantVoter: true, leaving: false } })),
});
const empty = (index: number): Entry => ({ kind: 'normal', term: 2, index, data: new Uint8Array(0) });
const snapshotOf = (index: number, data: Uint8Array): Snapshot => ({ meta: { index, term: 2, conf: { voters: [1, 2], learners: [] }, size: data.byteLength, checksum: crc32(data) }, data });

function machine(): StoreMachine {
  return new StoreMachine(new Store(), new MemberDirectory(new Map([[1, { host: '127.0.0.1', port: 7101 }]])), undefined);
}

/** A log as a coordinator applies it: objects of every kind, member records, empty entries, a refused command. */
function history(): Entry[] {
  return [
    commandEntry(1, { op: 'create', kind: 'node', object: node('a') }),
    memberEntry(2, 1, 'c1'),
    commandEntry(3, { op: 'batch', commands: [{ op: 'create', kind: 'network', object: network('n1', 'front', {}, { stack: 'shop' }) }, { op: 'create', kind: 'service', object: service('s1', 'web', {}, { stack: 'shop' }) }] }),
    empty(4),
    commandEntry(5, { op: 'create', kind: 'task', object: task('t1', 's1', { nodeId: 'a', slot: 1 }) }),
    memberEntry(6, 2, 'c2'),
    // refused (a task of a service that does not exist): consumed, changes nothing
    commandEntry(7, { op: 'create', kind: 'task', object: task('t2', 'nope', { nodeId: 'a', slot: 1 }) }),
  ];
}

describe('the coordinator state machine snapshot', () => {
  it('restores the store and the member directory to what replaying the log gives: the same digest', () => {
    const original = machine();
    for (const e of history()) original.apply(e);
    expect(original.applied).toBe(7);
    const snap = snapshotOf(7, original.serialize());

    const copy = machine();
    copy.restore(snap);
    expect(storeDigest(copy.store)).toBe(storeDigest(original.store));
    expect(copy.store.index).toBe(7);
    expect(copy.applied).toBe(7);
    expect(copy.store.tasksOnNode('a').map((t) => t.id)).toEqual(['t1']);
    expect(copy.serialize()).toEqual(original.serialize());
    expect(new TextDecoder().decode(copy.serialize())).toContain('"name":"c2"');

    // and both apply what follows alike
    const next = commandEntry(8, { op: 'delete', kind: 'task', id: 't1' });
    original.apply(next);
    copy.apply(next);
    expect(storeDigest(copy.store)).toBe(storeDigest(original.store));
    expect(copy.store.count('task')).toBe(0);
  });

  it('refuses a damaged snapshot and keeps everything it held', () => {
    const m = machine();
    for (const e of history()) m.apply(e);
    const before = storeDigest(m.store);
    const good = JSON.parse(new TextDecoder().decode(m.serialize())) as { members: unknown[] };
    for (const bad of [enc.encode('{"format":1'), enc.encode(JSON.stringify({ ...good, format: 9 })), enc.encode(JSON.stringify({ ...good, members: [{ id: -1 }] }))]) {
      expect(() => m.restore(snapshotOf(20, bad))).toThrowError(expect.objectContaining({ code: 'bad_snapshot' }) as Error);
    }
    expect(storeDigest(m.store)).toBe(before);
    expect(m.applied).toBe(7);
  });
});
