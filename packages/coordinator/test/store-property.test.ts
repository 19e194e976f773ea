import { describe, expect, it } from 'vitest';
import type { Command, ObjectCommand } from '@shoal/coordinator';
import { Store } from '@shoal/coordinator';
import { entry, network, service, task } from './fixtures.js';
import { rng } from './harness.js';

/** Every index answer recomputed the slow way from the objects themselves. */
function checkIndexes(store: Store): void {
  const tasks = store.list('task');
  const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id);
  for (const s of store.list('service')) {
    expect(ids(store.tasksOfService(s.id))).toEqual(ids(tasks.filter((t) => t.serviceId === s.id)));
    expect(store.serviceByName(s.spec.name)?.id).toBe(s.id);
  }
  for (const n of ['a', 'b', 'c']) expect(ids(store.tasksOnNode(n))).toEqual(ids(tasks.filter((t) => t.nodeId === n)));
  for (const n of store.list('network')) expect(store.networkByName(n.spec.name)?.id).toBe(n.id);
  expect(store.list('service').length).toBe(new Set(store.list('service').map((s) => s.spec.name)).size);
}

/** Random writes over a few ids and names, so that clashes, stale versions and misses are common. */
function randomCommand(store: Store, random: () => number): ObjectCommand {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const r = random();
  const stale = random() < 0.2;
  const version = (v: number): number => (stale ? Math.max(0, v - 1) : v);
  if (r < 0.15) return { op: 'create', kind: 'service', object: service(pick(['s1', 's2', 's3']), pick(['web', 'api', 'db', 'cache'])) };
  if (r < 0.25) return { op: 'create', kind: 'network', object: network(pick(['n1', 'n2']), pick(['front', 'back', 'edge'])) };
  if (r < 0.5) return { op: 'create', kind: 'task', object: task(pick(['t1', 't2', 't3', 't4', 't5']), pick(['s1', 's2', 's3']), { nodeId: pick(['a', 'b', 'c']) }) };
  if (r < 0.7) {
    const t = pick(store.list('task'));
    if (t) return { op: 'update', kind: 'task', object: { ...t, meta: { ...t.meta, version: version(t.meta.version) }, nodeId: pick(['a', 'b', 'c']) } };
  }
  if (r < 0.8) {
    const s = pick(store.list('service'));
    if (s) return { op: 'update', kind: 'service', object: { ...s, meta: { ...s.meta, version: version(s.meta.version) }, spec: { ...s.spec, name: pick(['web', 'api', 'db', 'cache']) } } };
  }
  return { op: 'delete', kind: pick(['task', 'service', 'network'] as const), id: pick(['t1', 't2', 's1', 's2', 'n1', 'n2']) };
}

describe('Store under random commands', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`keeps indexes true, refuses batches whole, and restores to an identical store (seed ${seed})`, () => {
      const random = rng(seed);
      const store = new Store();
      let replica: Store | undefined;
      for (let i = 1; i <= 400; i++) {
        const single = random() < 0.7;
        const command: Command = single ? randomCommand(store, random) : { op: 'batch', commands: Array.from({ length: 1 + Math.floor(random() * 4) }, () => randomCommand(store, random)) };
        const before = store.snapshot();
        const result = store.apply(command, entry(i));
        if (!result.ok) expect({ ...store.snapshot(), index: before.index }).toEqual(before);
        // A follower that restored a snapshot part-way applies the same entries to the same end.
        if (replica) expect(replica.apply(command, entry(i))).toEqual(result);
        if (i === 150) replica = Store.fromSnapshot(JSON.parse(JSON.stringify(store.snapshot())));
        checkIndexes(store);
      }
      expect(replica?.snapshot()).toEqual(store.snapshot());
      if (replica) checkIndexes(replica);
    });
  }
});
