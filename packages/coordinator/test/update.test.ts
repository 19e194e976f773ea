import { describe, expect, it } from 'vitest';
import type { Service, UpdateConfig } from '@shoal/core';
import { DEFAULT_UPDATE_CONFIG } from '@shoal/core';
import { orchestrate, rolledBackService, updatedService } from '@shoal/coordinator';
import { node, service } from './fixtures.js';
import { Cluster } from './harness.js';

/** Four replicas running on four nodes, the restart delay out of the way. */
function running(update: Partial<UpdateConfig> = {}, rollback: Partial<UpdateConfig> = {}): Cluster {
  const c = new Cluster();
  for (const id of ['a', 'b', 'c', 'd']) c.log.propose({ op: 'create', kind: 'node', object: node(id) });
  c.log.propose({
    op: 'create',
    kind: 'service',
    object: service('s1', 'web', {
      mode: { kind: 'replicated', replicas: 4 },
      restartPolicy: { condition: 'none', delayMs: 0 },
      update: { ...DEFAULT_UPDATE_CONFIG, monitorMs: 0, ...update },
      rollback: { ...DEFAULT_UPDATE_CONFIG, monitorMs: 0, parallelism: 0, ...rollback },
    }),
  });
  c.settle();
  return c;
}

function deployImage(c: Cluster, image: string): void {
  const s = c.store.get('service', 's1');
  if (!s) throw new Error('missing');
  c.log.propose({ op: 'update', kind: 'service', object: { ...s, previousSpec: s.spec, spec: { ...s.spec, container: { ...s.spec.container, image } } } });
}

/** Slots whose wanted task runs the current spec. */
function updatedSlots(c: Cluster): number[] {
  const v = c.store.specVersion('s1');
  return c.wanted('s1').filter((t) => t.specVersion === v).map((t) => t.slot ?? 0).sort();
}

describe('rolling update', () => {
  it('replaces tasks in batches of parallelism, the next batch only once the last one runs', () => {
    const c = running({ parallelism: 2 });
    deployImage(c, 'nginx:2');
    c.step();
    expect(updatedSlots(c)).toEqual([1, 2]);
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('updating');
    // The new tasks are not running yet: nothing more moves.
    c.step();
    expect(updatedSlots(c)).toEqual([1, 2]);
    c.agentsRun();
    c.agentsStop();
    c.step();
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
    c.settle();
    expect(c.store.get('service', 's1')?.updateStatus).toMatchObject({ state: 'completed', message: 'update completed' });
    expect(c.wanted('s1').every((t) => t.status.state === 'running')).toBe(true);
  });

  it('stops the old task before starting its successor in stop-first order', () => {
    const c = running({ parallelism: 1 });
    const old = c.wanted('s1')[0];
    deployImage(c, 'nginx:2');
    c.step();
    expect(c.store.get('task', old?.id ?? '')?.desiredState).toBe('shutdown');
    expect(c.wanted('s1').filter((t) => t.slot === 1)).toHaveLength(1);
  });

  it('keeps the old task until its successor runs in start-first order', () => {
    const c = running({ parallelism: 1, order: 'start-first' });
    const old = c.wanted('s1')[0];
    deployImage(c, 'nginx:2');
    c.step();
    expect(c.wanted('s1').filter((t) => t.slot === 1)).toHaveLength(2);
    c.agentsRun();
    c.step();
    expect(c.store.get('task', old?.id ?? '')?.desiredState).toBe('shutdown');
    expect(c.wanted('s1').filter((t) => t.slot === 1)).toHaveLength(1);
  });

  it('waits out monitor and delay after a batch runs, and says when to look again', () => {
    const c = running({ parallelism: 1, monitorMs: 10_000, delayMs: 5_000 });
    deployImage(c, 'nginx:2');
    c.step();
    c.agentsRun();
    const startedAt = c.now;
    c.now += 1_000;
    const pass = orchestrate(c.store, { now: c.now, newId: () => 'x' });
    expect(pass.batches).toEqual([]);
    expect(pass.wakeAt).toBe(startedAt + 15_000);
    c.now = startedAt + 15_000;
    c.step();
    expect(updatedSlots(c)).toEqual([1, 2]);
  });

  it('replaces every task at once with parallelism 0', () => {
    const c = running({ parallelism: 0 });
    deployImage(c, 'nginx:2');
    c.step();
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
  });

  it('does not roll tasks when only the replica count changes', () => {
    const c = running();
    const before = c.wanted('s1').map((t) => t.id);
    const s = c.store.get('service', 's1');
    if (!s) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'service', object: { ...s, spec: { ...s.spec, mode: { kind: 'replicated', replicas: 5 } } } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.id).slice(0, 4)).toEqual(before);
    expect(c.store.get('service', 's1')?.updateStatus).toBeUndefined();
  });
});

describe('rolling update failures', () => {
  function failFirstNewTask(c: Cluster): string {
    const v = c.store.specVersion('s1');
    const fresh = c.wanted('s1').find((t) => t.specVersion === v);
    if (!fresh) throw new Error('no new task');
    c.report(fresh.id, 'failed', { err: 'exit status 1' });
    return fresh.id;
  }

  it('pauses on a failed new task, naming it, and replaces nothing more', () => {
    const c = running({ parallelism: 1, failureAction: 'pause' });
    deployImage(c, 'nginx:broken');
    c.step();
    const id = failFirstNewTask(c);
    c.step();
    expect(c.store.get('service', 's1')?.updateStatus).toMatchObject({ state: 'paused', message: `update paused: task ${id} failed: exit status 1` });
    c.settle();
    expect(updatedSlots(c)).toEqual([1]);
  });

  it('rolls back to the previous spec on failure when told to, and completes the rollback', () => {
    const c = running({ parallelism: 1, failureAction: 'rollback' });
    deployImage(c, 'nginx:broken');
    c.step();
    failFirstNewTask(c);
    c.step();
    const s = c.store.get('service', 's1');
    expect(s?.spec.container.image).toBe('nginx:1.27');
    expect(s?.previousSpec?.container.image).toBe('nginx:broken');
    expect(s?.updateStatus?.state).toBe('rollback_started');
    c.settle();
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('rollback_completed');
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
    expect(c.wanted('s1').every((t) => t.status.state === 'running')).toBe(true);
  });

  it('carries on past failures when the failure action is continue', () => {
    const c = running({ parallelism: 1, failureAction: 'continue' });
    deployImage(c, 'nginx:2');
    c.step();
    failFirstNewTask(c);
    c.settle();
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
  });

  it('tolerates failures up to the max failure ratio', () => {
    const c = running({ parallelism: 1, failureAction: 'pause', maxFailureRatio: 0.5 });
    deployImage(c, 'nginx:2');
    c.step();
    failFirstNewTask(c);
    c.step();
    // One failure of four tasks is within one half: the update goes on to slot 2.
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('updating');
    expect(updatedSlots(c)).toEqual([1, 2]);
    c.agentsRun();
    const second = c.wanted('s1').find((t) => t.slot === 2);
    c.report(second?.id ?? '', 'failed');
    c.agentsStop();
    c.step();
    // Two of four is exactly the ratio, still allowed; a third is too many.
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('updating');
    c.agentsRun();
    const third = c.wanted('s1').find((t) => t.slot === 3 && t.specVersion === c.store.specVersion('s1'));
    c.report(third?.id ?? '', 'failed');
    c.step();
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('paused');
  });
});

describe('rolling update of a global service', () => {
  it('leaves the task of a paused node alone until the node is active again', () => {
    const c = new Cluster();
    c.log.propose(
      { op: 'create', kind: 'node', object: node('a') },
      { op: 'create', kind: 'node', object: node('b') },
      { op: 'create', kind: 'service', object: service('s1', 'agent', { mode: { kind: 'global' }, update: { ...DEFAULT_UPDATE_CONFIG, parallelism: 0, monitorMs: 0 } }) },
    );
    c.settle();
    const b = c.store.get('node', 'b');
    if (!b) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...b, spec: { ...b.spec, availability: 'pause' } } });
    deployImage(c, 'agent:2');
    c.settle();
    const v = c.store.specVersion('s1');
    // Replacing b's task now would stop it and leave nothing in its place.
    expect(c.wanted('s1').map((t) => [t.nodeId, t.specVersion === v, t.status.state])).toEqual([['a', true, 'running'], ['b', false, 'running']]);
    const paused = c.store.get('node', 'b');
    if (!paused) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...paused, spec: { ...paused.spec, availability: 'active' } } });
    c.settle();
    expect(c.wanted('s1').every((t) => t.specVersion === v && t.status.state === 'running')).toBe(true);
  });
});

describe('updatedService and rolledBackService', () => {
  function propose(c: Cluster, change: (s: Service) => Service): void {
    const s = c.store.get('service', 's1');
    if (!s) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'service', object: change(s) });
  }
  const at = (c: Cluster): string => new Date(c.now).toISOString();

  it('resumes an update that paused on a failure when the service is deployed again', () => {
    const c = running({ parallelism: 1, failureAction: 'pause' });
    propose(c, (s) => updatedService(s, { ...s.spec, container: { ...s.spec.container, image: 'nginx:broken' } }, at(c)));
    c.step();
    const fresh = c.wanted('s1').find((t) => t.specVersion === c.store.specVersion('s1'));
    c.report(fresh?.id ?? '', 'failed');
    c.settle();
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('paused');
    c.now += 60_000;
    propose(c, (s) => updatedService(s, { ...s.spec, container: { ...s.spec.container, image: 'nginx:fixed' } }, at(c)));
    c.settle();
    expect(c.store.get('service', 's1')?.updateStatus?.state).toBe('completed');
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
  });

  it('starts no rolling update when only the replica count changes', () => {
    const c = running();
    propose(c, (s) => updatedService(s, { ...s.spec, mode: { kind: 'replicated', replicas: 2 } }, at(c)));
    expect(c.store.get('service', 's1')?.updateStatus).toBeUndefined();
  });

  it('rolls back to the spec before the last update on request', () => {
    const c = running({ parallelism: 0 });
    propose(c, (s) => updatedService(s, { ...s.spec, container: { ...s.spec.container, image: 'nginx:2' } }, at(c)));
    c.settle();
    propose(c, (s) => rolledBackService(s, at(c)));
    c.settle();
    const s = c.store.get('service', 's1');
    expect([s?.spec.container.image, s?.updateStatus?.state]).toEqual(['nginx:1.27', 'rollback_completed']);
    expect(updatedSlots(c)).toEqual([1, 2, 3, 4]);
  });

  it('refuses to roll back a service that was never updated', () => {
    expect(() => rolledBackService(service('s1', 'web'), '')).toThrowError(expect.objectContaining({ code: 'no_previous_spec' }) as Error);
  });
});
