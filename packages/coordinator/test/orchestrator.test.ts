import { describe, expect, it } from 'vitest';
import type { ServiceSpec } from '@shoal/core';
import { DEFAULT_RESTART_POLICY } from '@shoal/core';
import { orchestrate } from '@shoal/coordinator';
import { node, service } from './fixtures.js';
import { Cluster } from './harness.js';

function withService(spec: Partial<ServiceSpec> = {}, nodes = ['a', 'b', 'c']): Cluster {
  const c = new Cluster();
  for (const id of nodes) c.log.propose({ op: 'create', kind: 'node', object: node(id) });
  c.log.propose({ op: 'create', kind: 'service', object: service('s1', 'web', { mode: { kind: 'replicated', replicas: 3 }, ...spec }) });
  return c;
}

function setReplicas(c: Cluster, replicas: number): void {
  const s = c.store.get('service', 's1');
  if (!s) throw new Error('missing');
  c.log.propose({ op: 'update', kind: 'service', object: { ...s, spec: { ...s.spec, mode: { kind: 'replicated', replicas } } } });
}

describe('orchestrator: replicated services', () => {
  it('creates one task per slot 1..n at the current spec version', () => {
    const c = withService();
    c.step();
    const tasks = c.wanted('s1');
    expect(tasks.map((t) => t.slot)).toEqual([1, 2, 3]);
    expect(tasks.every((t) => t.specVersion === c.store.specVersion('s1'))).toBe(true);
  });

  it('runs every replica on its own node once settled, and then proposes nothing', () => {
    const c = withService();
    c.settle();
    expect(c.wanted('s1').map((t) => [t.status.state, t.nodeId])).toEqual([['running', 'a'], ['running', 'b'], ['running', 'c']]);
    expect(orchestrate(c.store, { now: c.now, newId: () => 'x' }).batches).toEqual([]);
  });

  it('shuts down the highest slots first when scaled down', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 5 } });
    c.settle();
    setReplicas(c, 2);
    c.step();
    expect(c.wanted('s1').map((t) => t.slot)).toEqual([1, 2]);
    const stopping = c.store.tasksOfService('s1').filter((t) => t.desiredState === 'shutdown').map((t) => t.slot);
    expect(stopping.sort()).toEqual([3, 4, 5]);
  });

  it('fills the lowest free slots when scaled up', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 1 } });
    c.settle();
    setReplicas(c, 3);
    c.step();
    expect(c.wanted('s1').map((t) => t.slot)).toEqual([1, 2, 3]);
  });

  it('replaces the task of a node that went down on another node, marking the old one orphaned', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 2 } });
    c.settle();
    const lost = c.wanted('s1').find((t) => t.nodeId === 'a');
    const a = c.store.get('node', 'a');
    if (!lost || !a) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...a, status: { state: 'down' } } });
    c.settle();
    expect(c.store.get('task', lost.id)).toMatchObject({ desiredState: 'shutdown', status: { state: 'orphaned', message: 'node host-a is down' } });
    const again = c.wanted('s1').find((t) => t.slot === lost.slot);
    expect(again?.id).not.toBe(lost.id);
    expect(again?.nodeId).toBe('c');
    expect(again?.status.state).toBe('running');
  });

  it('ends at once a task scaled away before it ever reached a node, so it holds nothing', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 2 }, placement: { constraints: ['node.labels.zone==eu'], preferences: [] } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.status.state)).toEqual(['pending', 'pending']);
    setReplicas(c, 0);
    c.settle();
    expect(c.store.tasksOfService('s1').map((t) => [t.desiredState, t.status.state])).toEqual([['shutdown', 'shutdown'], ['shutdown', 'shutdown']]);
  });

  it('moves tasks off a drained node', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 3 } });
    c.settle();
    const b = c.store.get('node', 'b');
    if (!b) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...b, spec: { ...b.spec, availability: 'drain' } } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.nodeId).sort()).toEqual(['a', 'a', 'c']);
  });

  it('shuts down the tasks of a removed service and deletes them once they have ended', () => {
    const c = withService();
    c.settle();
    c.log.propose({ op: 'delete', kind: 'service', id: 's1' });
    c.step();
    expect(c.store.list('task').every((t) => t.desiredState === 'shutdown')).toBe(true);
    c.agentsStop();
    c.step();
    expect(c.store.list('task')).toEqual([]);
  });
});

describe('orchestrator: restart policy', () => {
  function failedOnce(policy: Partial<ServiceSpec['restartPolicy']>, state: 'failed' | 'complete' = 'failed'): { c: Cluster; failedId: string } {
    const c = withService({ mode: { kind: 'replicated', replicas: 1 }, restartPolicy: { ...DEFAULT_RESTART_POLICY, ...policy } });
    c.settle();
    const [t] = c.wanted('s1');
    if (!t) throw new Error('missing');
    c.report(t.id, state, { exitCode: state === 'failed' ? 1 : 0 });
    return { c, failedId: t.id };
  }

  it('waits out the delay, says when to look again, then replaces the task in its slot', () => {
    const { c, failedId } = failedOnce({ delayMs: 5_000 });
    const failedAt = c.now;
    c.now += 1_000;
    const early = orchestrate(c.store, { now: c.now, newId: () => 'new' });
    expect(early.batches).toEqual([]);
    expect(early.wakeAt).toBe(failedAt + 5_000);
    c.now = failedAt + 5_000;
    c.step();
    expect(c.store.get('task', failedId)?.desiredState).toBe('shutdown');
    expect(c.wanted('s1').map((t) => [t.slot, t.status.state])).toEqual([[1, 'assigned']]);
  });

  it('does not restart a task that completed under on-failure, but does under any', () => {
    const onFailure = failedOnce({ condition: 'on-failure', delayMs: 0 }, 'complete');
    onFailure.c.step();
    expect(onFailure.c.wanted('s1').map((t) => t.id)).toEqual([onFailure.failedId]);
    const any = failedOnce({ condition: 'any', delayMs: 0 }, 'complete');
    any.c.step();
    expect(any.c.wanted('s1').map((t) => t.id)).not.toEqual([any.failedId]);
  });

  it('never restarts under condition none', () => {
    const { c, failedId } = failedOnce({ condition: 'none', delayMs: 0 });
    c.step();
    expect(c.wanted('s1').map((t) => t.id)).toEqual([failedId]);
  });

  it('gives up after max attempts restarts', () => {
    const { c } = failedOnce({ delayMs: 0, maxAttempts: 2 });
    for (let i = 0; i < 5; i++) {
      c.settle();
      const [t] = c.wanted('s1');
      if (t && t.status.state === 'running') c.report(t.id, 'failed');
    }
    // The first task and two restarts: three tasks in the slot, the last one left failed.
    expect(c.store.tasksOfService('s1')).toHaveLength(3);
    expect(c.wanted('s1')[0]?.status.state).toBe('failed');
  });

  it('counts attempts only within the window', () => {
    const { c } = failedOnce({ delayMs: 0, maxAttempts: 1, windowMs: 60_000 });
    c.settle();
    c.now += 120_000;
    const [t] = c.wanted('s1');
    if (!t) throw new Error('missing');
    c.report(t.id, 'failed');
    c.step();
    // The first failure is outside the window, so this one may still be restarted.
    expect(c.wanted('s1')[0]?.id).not.toBe(t.id);
  });
});

describe('orchestrator: global services', () => {
  function globalCluster(): Cluster {
    const c = new Cluster();
    c.log.propose(
      { op: 'create', kind: 'node', object: node('a', { labels: { disk: 'ssd' } }) },
      { op: 'create', kind: 'node', object: node('b', { labels: { disk: 'ssd' } }) },
      { op: 'create', kind: 'node', object: node('c') },
      { op: 'create', kind: 'node', object: node('d', { labels: { disk: 'ssd' }, availability: 'pause' }) },
      { op: 'create', kind: 'service', object: service('s1', 'agent', { mode: { kind: 'global' }, placement: { constraints: ['node.labels.disk==ssd'], preferences: [] } }) },
    );
    return c;
  }

  it('runs one task on each ready, active node that matches, and none elsewhere', () => {
    const c = globalCluster();
    c.settle();
    expect(c.wanted('s1').map((t) => [t.nodeId, t.status.state, t.slot])).toEqual([['a', 'running', undefined], ['b', 'running', undefined]]);
  });

  it('adds a task when a matching node joins and stops the one of a node that no longer matches', () => {
    const c = globalCluster();
    c.settle();
    const b = c.store.get('node', 'b');
    if (!b) throw new Error('missing');
    c.log.propose({ op: 'create', kind: 'node', object: node('e', { labels: { disk: 'ssd' } }) }, { op: 'update', kind: 'node', object: { ...b, spec: { ...b.spec, labels: {} } } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.nodeId)).toEqual(['a', 'e']);
  });

  it('keeps the task of a node that is paused but starts none there', () => {
    const c = globalCluster();
    c.settle();
    const a = c.store.get('node', 'a');
    if (!a) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...a, spec: { ...a.spec, availability: 'pause' } } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.nodeId)).toEqual(['a', 'b']);
  });

  it('orphans the task of a node that went down and starts no other', () => {
    const c = globalCluster();
    c.settle();
    const a = c.store.get('node', 'a');
    if (!a) throw new Error('missing');
    c.log.propose({ op: 'update', kind: 'node', object: { ...a, status: { state: 'down' } } });
    c.settle();
    expect(c.wanted('s1').map((t) => t.nodeId)).toEqual(['b']);
    expect(c.store.tasksOnNode('a').map((t) => t.status.state)).toEqual(['orphaned']);
  });
});

describe('orchestrator: task history', () => {
  it('keeps only the newest ended tasks of a slot', () => {
    const c = withService({ mode: { kind: 'replicated', replicas: 1 }, restartPolicy: { condition: 'any', delayMs: 0 } });
    for (let i = 0; i < 10; i++) {
      c.settle();
      const [t] = c.wanted('s1');
      if (t) c.report(t.id, 'failed');
    }
    c.settle();
    const ended = c.store.tasksOfService('s1').filter((t) => t.desiredState === 'shutdown');
    expect(ended).toHaveLength(5);
  });
});
