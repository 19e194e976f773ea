import { describe, expect, it } from 'vitest';
import type { Node, Service, Task } from '@shoal/core';
import type { SchedulerInput } from '@shoal/coordinator';
import { Allocator, allocatePass, schedule, schedulePass } from '@shoal/coordinator';
import { node, service, task } from './fixtures.js';
import { Log } from './harness.js';

const GB = 2 ** 30;

function pendingTasks(serviceId: string, n: number): Task[] {
  return Array.from({ length: n }, (_, i) => task(`${serviceId}-t${i + 1}`, serviceId, { slot: i + 1, status: { state: 'pending', message: '', at: '' } }));
}

function input(nodes: Node[], services: Service[], pending: Task[], tasks: Task[] = []): SchedulerInput {
  const byId = new Map(services.map((s) => [s.id, s]));
  return { nodes, tasks, pending, service: (id) => byId.get(id) };
}

function perNode(placed: { nodeId: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of placed) out[p.nodeId] = (out[p.nodeId] ?? 0) + 1;
  return out;
}

const running = (id: string, serviceId: string, nodeId: string): Task => task(id, serviceId, { nodeId, status: { state: 'running', message: '', at: '' } });

describe('schedule: spread', () => {
  it('spreads the replicas of a service evenly over the nodes', () => {
    const d = schedule(input([node('a'), node('b'), node('c')], [service('s1', 'web')], pendingTasks('s1', 6)));
    expect(perNode(d.placed)).toEqual({ a: 2, b: 2, c: 2 });
  });

  it('breaks a tie in the service\'s count by fewest tasks overall, then by node id', () => {
    const d = schedule(input([node('a'), node('b'), node('c')], [service('s1', 'web'), service('s2', 'db')], pendingTasks('s1', 2), [running('x', 's2', 'a')]));
    expect(d.placed.map((p) => p.nodeId)).toEqual(['b', 'c']);
  });

  it('decides the same whatever order nodes and tasks are listed in', () => {
    const nodes = [node('a'), node('b'), node('c'), node('d')];
    const tasks = pendingTasks('s1', 7);
    const one = schedule(input(nodes, [service('s1', 'web')], tasks));
    const other = schedule(input([...nodes].reverse(), [service('s1', 'web')], [...tasks].reverse()));
    expect(other).toEqual(one);
  });

  it('spreads over the values of a label before spreading over nodes', () => {
    const nodes = [node('a', { labels: { zone: 'eu' } }), node('b', { labels: { zone: 'eu' } }), node('c', { labels: { zone: 'us' } })];
    const s = service('s1', 'web', { placement: { constraints: [], preferences: [{ spread: 'node.labels.zone' }] } });
    const d = schedule(input(nodes, [s], pendingTasks('s1', 4)));
    expect(perNode(d.placed)).toEqual({ a: 1, b: 1, c: 2 });
  });
});

describe('schedule: filters', () => {
  it('places nothing on a node that is down, paused or draining', () => {
    const nodes = [node('a', { state: 'down' }), node('b', { availability: 'pause' }), node('c', { availability: 'drain' }), node('d')];
    const d = schedule(input(nodes, [service('s1', 'web')], pendingTasks('s1', 3)));
    expect(perNode(d.placed)).toEqual({ d: 3 });
  });

  it('explains a constraint no node satisfies with what the nodes have instead', () => {
    const nodes = [node('a', { labels: { zone: 'us' } }), node('b', { labels: { zone: 'us' } }), node('c', { labels: { zone: 'us' } })];
    const s = service('s1', 'web', { placement: { constraints: ['node.labels.zone==eu'], preferences: [] } });
    const d = schedule(input(nodes, [s], pendingTasks('s1', 1)));
    expect(d.unplaced).toEqual([{ taskId: 's1-t1', reason: 'no node satisfies node.labels.zone==eu: 3 nodes have zone=us' }]);
  });

  it('explains missing memory with the most any node has free', () => {
    const nodes = [node('a', { memoryGb: 1 }), node('b', { memoryGb: 0.5 })];
    const s = service('s1', 'web', { resources: { limits: {}, reservations: { memoryBytes: 2 * GB } } });
    const d = schedule(input(nodes, [s], pendingTasks('s1', 1)));
    expect(d.unplaced[0]?.reason).toBe('insufficient memory on every node (the most any has is 1 GB free of the 2 GB reserved)');
  });

  it('counts reservations of tasks placed earlier in the same pass', () => {
    const nodes = [node('a', { memoryGb: 4 }), node('b', { memoryGb: 4 })];
    const s = service('s1', 'web', { resources: { limits: {}, reservations: { memoryBytes: 3 * GB } } });
    const d = schedule(input(nodes, [s], pendingTasks('s1', 3)));
    expect(perNode(d.placed)).toEqual({ a: 1, b: 1 });
    expect(d.unplaced[0]?.reason).toMatch(/^insufficient memory on every node \(the most any has is 1 GB free/);
  });

  it('charges running tasks against capacity but not ended ones', () => {
    const s = service('s1', 'web', { resources: { limits: {}, reservations: { nanoCpus: 3e9 } } });
    const ended = task('old', 's1', { nodeId: 'a', status: { state: 'failed', message: '', at: '' } });
    const d = schedule(input([node('a', { cpus: 4 })], [s], pendingTasks('s1', 1), [ended]));
    expect(d.placed).toEqual([{ taskId: 's1-t1', nodeId: 'a' }]);
    const busy = schedule(input([node('a', { cpus: 4 })], [s], pendingTasks('s1', 1), [running('r', 's1', 'a')]));
    expect(busy.unplaced[0]?.reason).toBe('insufficient CPU on every node (the most any has is 1 CPU free of the 3 CPUs reserved)');
  });

  it('stops at the maximum replicas per node and says so', () => {
    const s = service('s1', 'web', { placement: { constraints: [], preferences: [], maxReplicasPerNode: 1 } });
    const d = schedule(input([node('a'), node('b'), node('c')], [s], pendingTasks('s1', 4)));
    expect(d.placed).toHaveLength(3);
    expect(d.unplaced[0]?.reason).toBe('every node already runs 1 task of web (max replicas per node 1)');
  });

  it('lists each cause with its count when nodes fail in different ways', () => {
    const nodes = [node('a', { labels: { zone: 'us' } }), node('b'), node('c', { state: 'down', labels: { zone: 'eu' } })];
    const s = service('s1', 'web', { placement: { constraints: ['node.labels.zone==eu'], preferences: [] } });
    const d = schedule(input(nodes, [s], pendingTasks('s1', 1)));
    expect(d.unplaced[0]?.reason).toBe('no suitable node: 2 nodes fail node.labels.zone==eu (no label zone, zone=us); 1 node is down');
  });

  it('checks a global task against its own node only', () => {
    const s = service('s1', 'agent', { mode: { kind: 'global' }, resources: { limits: {}, reservations: { memoryBytes: 2 * GB } } });
    const onA = task('ga', 's1', { slot: undefined, nodeId: 'a', status: { state: 'pending', message: '', at: '' } });
    const onB = task('gb', 's1', { slot: undefined, nodeId: 'b', status: { state: 'pending', message: '', at: '' } });
    const d = schedule(input([node('a', { memoryGb: 1 }), node('b')], [s], [onA, onB]));
    expect(d.placed).toEqual([{ taskId: 'gb', nodeId: 'b' }]);
    expect(d.unplaced).toEqual([{ taskId: 'ga', reason: 'node host-a has 1 GB free of the 2 GB of memory reserved' }]);
  });

  it('says so when the cluster has no node at all', () => {
    const d = schedule(input([], [service('s1', 'web')], pendingTasks('s1', 1)));
    expect(d.unplaced[0]?.reason).toBe('no node in the cluster');
  });
});

describe('schedulePass', () => {
  it('assigns only allocated pending tasks and writes an unchanged reason once', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'node', object: node('a', { labels: { zone: 'us' } }) },
      { op: 'create', kind: 'service', object: service('s1', 'web') },
      { op: 'create', kind: 'service', object: service('s2', 'eu-only', { placement: { constraints: ['node.labels.zone==eu'], preferences: [] } }) },
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'create', kind: 'task', object: task('t2', 's2') },
    );
    // Not yet allocated: the scheduler must leave them alone.
    expect(schedulePass(log.store, log.now).commands).toEqual([]);
    log.batch(allocatePass(log.store, new Allocator(), log.now).commands);
    const first = schedulePass(log.store, log.now);
    log.batch(first.commands);
    expect(log.store.get('task', 't1')).toMatchObject({ nodeId: 'a', status: { state: 'assigned', message: 'assigned to host-a' } });
    expect(log.store.get('task', 't2')?.status).toMatchObject({ state: 'pending', message: 'no node satisfies node.labels.zone==eu: 1 node has zone=us' });
    expect(schedulePass(log.store, log.now).commands).toEqual([]);
  });

  it('allocates and places at most `limit` tasks per pass, and the rest on the next passes', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'node', object: node('a') },
      { op: 'create', kind: 'node', object: node('b') },
      { op: 'create', kind: 'service', object: service('s1', 'web') },
      ...['t1', 't2', 't3', 't4', 't5'].map((id) => ({ op: 'create' as const, kind: 'task' as const, object: task(id, 's1') })),
    );
    const allocator = new Allocator();
    const some = allocatePass(log.store, allocator, log.now, 3);
    expect(some.commands).toHaveLength(3);
    log.batch(some.commands);
    log.batch(allocatePass(log.store, allocator, log.now, 3).commands);
    expect(allocatePass(log.store, allocator, log.now, 3).commands).toEqual([]);
    const first = schedulePass(log.store, log.now, 2);
    expect(first.decision.placed).toHaveLength(2);
    log.batch(first.commands);
    log.batch(schedulePass(log.store, log.now, 2).commands);
    log.batch(schedulePass(log.store, log.now, 2).commands);
    const tasks = log.store.list('task');
    expect(tasks.filter((t) => t.status.state === 'assigned')).toHaveLength(5);
    // spread holds across slices: each pass saw the placements committed before it
    expect(perNode(tasks.map((t) => ({ nodeId: t.nodeId ?? '' })))).toEqual({ a: 3, b: 2 });
  });
});
