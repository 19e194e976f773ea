import { describe, expect, it } from 'vitest';
import type { Command, ObjectCommand, StoreChange } from '@shoal/coordinator';
import { Store, decodeCommand } from '@shoal/coordinator';
import { entry, network, node, service, task } from './fixtures.js';

/** A store fed one entry per call, as the Raft driver would. */
function fed(...commands: Command[]): Store {
  const store = new Store();
  commands.forEach((c, i) => {
    const r = store.apply(c, entry(i + 1));
    if (!r.ok) throw r.error;
  });
  return store;
}

describe('Store versions', () => {
  it('stamps each written object with the Raft index of its entry as version', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    const n = store.get('node', 'n1');
    expect(n?.meta.version).toBe(1);
    expect(n?.meta.createdAt).toBe(entry(1).at);
  });

  it('refuses an update made from a stale read with version_conflict, changing nothing', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    const read = store.get('node', 'n1');
    if (!read) throw new Error('missing');
    const first = store.apply({ op: 'update', kind: 'node', object: { ...read, hostname: 'a' } }, entry(2));
    expect(first.ok).toBe(true);
    const second = store.apply({ op: 'update', kind: 'node', object: { ...read, hostname: 'b' } }, entry(3));
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.error.code).toBe('version_conflict');
    expect(store.get('node', 'n1')?.hostname).toBe('a');
    expect(store.index).toBe(3);
  });

  it('keeps createdAt across updates and moves updatedAt', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    const read = store.get('node', 'n1');
    if (!read) throw new Error('missing');
    store.apply({ op: 'update', kind: 'node', object: read }, entry(5));
    expect(store.get('node', 'n1')?.meta).toEqual({ version: 5, createdAt: entry(1).at, updatedAt: entry(5).at });
  });

  it('refuses a delete against a stale version but allows an unversioned one', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    const r = store.apply({ op: 'delete', kind: 'node', id: 'n1', version: 0 }, entry(2));
    expect(!r.ok && r.error.code).toBe('version_conflict');
    expect(store.apply({ op: 'delete', kind: 'node', id: 'n1' }, entry(3)).ok).toBe(true);
    expect(store.get('node', 'n1')).toBeUndefined();
  });

  it('throws when an entry is applied twice, since that is a driver bug and not a refusal', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    expect(() => store.apply({ op: 'delete', kind: 'node', id: 'n1' }, entry(1))).toThrowError(expect.objectContaining({ code: 'store_index_regressed' }) as Error);
  });

  it('hands out frozen objects, so a reader cannot change the state behind the log', () => {
    const store = fed({ op: 'create', kind: 'node', object: node('n1') });
    const n = store.get('node', 'n1');
    expect(() => {
      (n as { hostname: string }).hostname = 'x';
    }).toThrow(TypeError);
  });

  it('keeps its copy when the writer mutates the object it proposed', () => {
    const object = node('n1');
    const store = fed({ op: 'create', kind: 'node', object });
    object.spec.labels.zone = 'eu';
    expect(store.get('node', 'n1')?.spec.labels).toEqual({});
  });

  it('bumps the spec version only when the spec changes, not on an allocation write', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    expect(store.specVersion('s1')).toBe(1);
    const read = store.get('service', 's1');
    if (!read) throw new Error('missing');
    store.apply({ op: 'update', kind: 'service', object: { ...read, vips: [{ networkId: 'n1', address: '10.0.0.2' }] } }, entry(2));
    expect(store.specVersion('s1')).toBe(1);
    const again = store.get('service', 's1');
    if (!again) throw new Error('missing');
    store.apply({ op: 'update', kind: 'service', object: { ...again, spec: { ...again.spec, container: { ...again.spec.container, image: 'nginx:1.28' } } } }, entry(3));
    expect(store.specVersion('s1')).toBe(3);
  });

  it('keeps the spec version when only the replica count or update settings change', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    const read = store.get('service', 's1');
    if (!read) throw new Error('missing');
    const spec = { ...read.spec, mode: { kind: 'replicated' as const, replicas: 9 }, update: { ...read.spec.update, parallelism: 3 } };
    store.apply({ op: 'update', kind: 'service', object: { ...read, spec } }, entry(2));
    expect(store.specVersion('s1')).toBe(1);
  });

  it('lets a task of a removed service still be updated, but not created', () => {
    const store = fed(
      { op: 'create', kind: 'service', object: service('s1', 'web') },
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'delete', kind: 'service', id: 's1' },
    );
    const t = store.get('task', 't1');
    if (!t) throw new Error('missing');
    expect(store.apply({ op: 'update', kind: 'task', object: { ...t, desiredState: 'shutdown' } }, entry(4)).ok).toBe(true);
    expect(store.apply({ op: 'create', kind: 'task', object: task('t2', 's1') }, entry(5)).ok).toBe(false);
  });
});

describe('Store rules', () => {
  it('refuses a second service with the same name, naming the holder', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    const r = store.apply({ op: 'create', kind: 'service', object: service('s2', 'web') }, entry(2));
    expect(!r.ok && r.error.code).toBe('name_taken');
    expect(!r.ok && r.error.message).toContain('s1');
  });

  it('lets a network be renamed onto a free name and frees the old name', () => {
    const store = fed({ op: 'create', kind: 'network', object: network('n1', 'front') });
    const read = store.get('network', 'n1');
    if (!read) throw new Error('missing');
    store.apply({ op: 'update', kind: 'network', object: { ...read, spec: { ...read.spec, name: 'edge' } } }, entry(2));
    expect(store.networkByName('front')).toBeUndefined();
    expect(store.networkByName('edge')?.id).toBe('n1');
  });

  it('refuses a task of a service that does not exist', () => {
    const store = new Store();
    const r = store.apply({ op: 'create', kind: 'task', object: task('t1', 'ghost') }, entry(1));
    expect(!r.ok && r.error.code).toBe('not_found');
  });

  it('refuses to remove a network a service is attached to, naming the service', () => {
    const store = fed(
      { op: 'create', kind: 'network', object: network('n1', 'front') },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'front', aliases: [] }] }) },
    );
    const r = store.apply({ op: 'delete', kind: 'network', id: 'n1' }, entry(3));
    expect(!r.ok && r.error.code).toBe('network_in_use');
    expect(!r.ok && r.error.message).toContain('web');
  });

  it('refuses to remove a network while a live task still holds an address on it', () => {
    const store = fed(
      { op: 'create', kind: 'network', object: network('n1', 'front') },
      { op: 'create', kind: 'service', object: service('s1', 'web') },
      { op: 'create', kind: 'task', object: task('t1', 's1', { attachments: [{ networkId: 'n1', address: '10.0.0.2/24', mac: '02:42:0a:00:00:02' }] }) },
    );
    const r = store.apply({ op: 'delete', kind: 'network', id: 'n1' }, entry(4));
    expect(!r.ok && r.error.code).toBe('network_in_use');
  });
});

describe('Store batches', () => {
  it('applies a batch all or nothing: a failing last step undoes the earlier ones', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    const r = store.apply(
      {
        op: 'batch',
        commands: [
          { op: 'create', kind: 'network', object: network('n1', 'front') },
          { op: 'create', kind: 'task', object: task('t1', 's1') },
          { op: 'delete', kind: 'service', id: 's1' },
          { op: 'create', kind: 'service', object: service('s2', 'web') },
          { op: 'create', kind: 'service', object: service('s3', 'web') },
        ],
      },
      entry(2),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/command 5 of 5/);
    expect(store.list('network')).toEqual([]);
    expect(store.list('task')).toEqual([]);
    expect(store.get('service', 's1')?.spec.name).toBe('web');
    expect(store.get('service', 's2')).toBeUndefined();
    expect(store.serviceByName('web')?.id).toBe('s1');
    expect(store.tasksOfService('s1')).toEqual([]);
  });

  it('restores the spec version of a service a refused batch changed or removed', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    const read = store.get('service', 's1');
    if (!read) throw new Error('missing');
    const respecced = { ...read, spec: { ...read.spec, container: { ...read.spec.container, image: 'x:2' } } };
    const refused = (first: Command): boolean => !store.apply({ op: 'batch', commands: [first as ObjectCommand, { op: 'delete', kind: 'node', id: 'nope' }] }, entry(store.index + 1)).ok;
    expect(refused({ op: 'update', kind: 'service', object: respecced })).toBe(true);
    expect(store.specVersion('s1')).toBe(1);
    expect(refused({ op: 'delete', kind: 'service', id: 's1' })).toBe(true);
    expect(store.specVersion('s1')).toBe(1);
  });

  it('emits one change per object written, stamped with the entry index', () => {
    const store = fed({ op: 'create', kind: 'service', object: service('s1', 'web') });
    const seen: StoreChange[] = [];
    store.subscribe((changes) => seen.push(...changes));
    store.apply({ op: 'batch', commands: [
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'create', kind: 'task', object: task('t2', 's1', { slot: 2 }) },
    ] }, entry(2));
    expect(seen.map((c) => [c.index, c.kind, c.action])).toEqual([[2, 'task', 'create'], [2, 'task', 'create']]);
  });

  it('tells no listener about a refused command', () => {
    const store = new Store();
    let calls = 0;
    store.subscribe(() => calls++);
    store.apply({ op: 'delete', kind: 'node', id: 'nope' }, entry(1));
    expect(calls).toBe(0);
  });
});

describe('Store indexes', () => {
  it('follows a task moved from one node to another', () => {
    const store = fed(
      { op: 'create', kind: 'service', object: service('s1', 'web') },
      { op: 'create', kind: 'task', object: task('t1', 's1', { nodeId: 'a' }) },
    );
    const t = store.get('task', 't1');
    if (!t) throw new Error('missing');
    store.apply({ op: 'update', kind: 'task', object: { ...t, nodeId: 'b' } }, entry(3));
    expect(store.tasksOnNode('a')).toEqual([]);
    expect(store.tasksOnNode('b').map((x) => x.id)).toEqual(['t1']);
    expect(store.tasksOfService('s1').map((x) => x.id)).toEqual(['t1']);
  });

  it('groups services and networks by stack', () => {
    const store = fed(
      { op: 'create', kind: 'network', object: network('n1', 'shop_front', {}, { stack: 'shop' }) },
      { op: 'create', kind: 'service', object: service('s1', 'shop_web', {}, { stack: 'shop' }) },
      { op: 'create', kind: 'service', object: service('s2', 'other') },
    );
    expect(store.servicesOfStack('shop').map((s) => s.id)).toEqual(['s1']);
    expect(store.networksOfStack('shop').map((n) => n.id)).toEqual(['n1']);
  });
});

describe('Store snapshots', () => {
  const build = (): Store =>
    fed(
      { op: 'create', kind: 'node', object: node('b') },
      { op: 'create', kind: 'node', object: node('a') },
      { op: 'create', kind: 'network', object: network('n1', 'front', {}, { stack: 'shop' }) },
      { op: 'create', kind: 'service', object: service('s1', 'web', {}, { stack: 'shop' }) },
      { op: 'create', kind: 'task', object: task('t2', 's1', { nodeId: 'a', slot: 2 }) },
      { op: 'create', kind: 'task', object: task('t1', 's1', { nodeId: 'b' }) },
    );

  it('restores to an identical store, indexes and spec versions included', () => {
    const original = build();
    const copy = Store.fromSnapshot(JSON.parse(JSON.stringify(original.snapshot())));
    expect(copy.snapshot()).toEqual(original.snapshot());
    expect(copy.index).toBe(6);
    expect(copy.tasksOnNode('a').map((t) => t.id)).toEqual(['t2']);
    expect(copy.tasksOfService('s1').map((t) => t.id)).toEqual(['t1', 't2']);
    expect(copy.serviceByName('web')?.id).toBe('s1');
    expect(copy.networkByName('front')?.id).toBe('n1');
    expect(copy.servicesOfStack('shop').map((s) => s.id)).toEqual(['s1']);
    expect(copy.specVersion('s1')).toBe(original.specVersion('s1'));
  });

  it('applies the next entries after a restore exactly as the original does', () => {
    const original = build();
    const copy = Store.fromSnapshot(original.snapshot());
    const next: Command = { op: 'delete', kind: 'task', id: 't1' };
    expect(copy.apply(next, entry(7))).toEqual(original.apply(next, entry(7)));
    expect(copy.snapshot()).toEqual(original.snapshot());
  });

  it('serializes its view without copies to the same JSON as the snapshot', () => {
    const store = build();
    expect(JSON.stringify(store.snapshotView())).toBe(JSON.stringify(store.snapshot()));
    expect(store.snapshotView().task[0]).toBe(store.get('task', 't1'));
  });

  it('lists objects by key regardless of the order they were written', () => {
    expect(build().snapshot().node.map((n) => n.id)).toEqual(['a', 'b']);
  });

  it('refuses a damaged snapshot and keeps what it held', () => {
    const store = build();
    const damaged = { ...store.snapshot(), task: [{ id: 't9' }] };
    expect(() => store.restore(damaged)).toThrowError(expect.objectContaining({ code: 'bad_snapshot' }) as Error);
    expect(store.count('task')).toBe(2);
  });
});

describe('decodeCommand', () => {
  it('accepts a well-formed batch', () => {
    const c = decodeCommand({ op: 'batch', commands: [{ op: 'delete', kind: 'task', id: 't1' }] });
    expect(c).toEqual({ op: 'batch', commands: [{ op: 'delete', kind: 'task', id: 't1' }] });
  });

  it('names the path of the first invalid field of an object', () => {
    const bad = { ...node('n1'), address: 'not-an-ip' };
    expect(() => decodeCommand({ op: 'create', kind: 'node', object: bad })).toThrowError(/command\.object\.address/);
  });

  it('refuses an unknown kind and an unknown op with bad_command', () => {
    expect(() => decodeCommand({ op: 'create', kind: 'volume', object: {} })).toThrowError(expect.objectContaining({ code: 'bad_command' }) as Error);
    expect(() => decodeCommand({ op: 'upsert', kind: 'node', object: node('n1') })).toThrowError(/op/);
    expect(() => decodeCommand('delete everything')).toThrowError(expect.objectContaining({ code: 'bad_command' }) as Error);
  });
});
