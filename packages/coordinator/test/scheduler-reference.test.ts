import { describe, expect, it } from 'vitest';
import type { Node, Service, Task } from '@shoal/core';
import { constraintTarget, isTerminalTaskState, matchesConstraints, parseConstraint } from '@shoal/core';
import { schedule } from '@shoal/coordinator';
import { node, service, task } from './fixtures.js';
import { rng } from './harness.js';

const GB = 2 ** 30;

/**
 * The scheduler's rules written the slow, obvious way: every task looks at every node. The real
 * one keeps nodes in spread order and drops the ones that stop fitting; it must choose the same.
 */
function reference(nodes: Node[], services: Service[], tasks: Task[], pending: Task[]): { taskId: string; nodeId: string }[] {
  const byId = new Map(services.map((s) => [s.id, s]));
  const load = new Map(nodes.map((n) => [n.id, { mem: n.resources.memoryBytes, total: 0, of: new Map<string, number>() }]));
  const add = (nodeId: string, s: Service | undefined, serviceId: string): void => {
    const l = load.get(nodeId);
    if (!l) return;
    l.mem -= s?.spec.resources.reservations.memoryBytes ?? 0;
    l.total++;
    l.of.set(serviceId, (l.of.get(serviceId) ?? 0) + 1);
  };
  for (const t of tasks) if (t.nodeId !== undefined && !['new', 'pending'].includes(t.status.state) && !isTerminalTaskState(t.status.state)) add(t.nodeId, byId.get(t.serviceId), t.serviceId);
  const out: { taskId: string; nodeId: string }[] = [];
  const sorted = [...pending].sort((a, b) => (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : (a.slot ?? 0) - (b.slot ?? 0)));
  for (const t of sorted) {
    const s = byId.get(t.serviceId);
    if (!s) continue;
    const cs = s.spec.placement.constraints.map(parseConstraint);
    const eligible = nodes.filter((n) => n.status.state === 'ready' && n.spec.availability === 'active' && matchesConstraints(cs, constraintTarget(n)));
    const of = (n: Node): number => load.get(n.id)?.of.get(s.id) ?? 0;
    let pool = eligible.filter((n) => (s.spec.resources.reservations.memoryBytes ?? 0) <= (load.get(n.id)?.mem ?? 0) && (s.spec.placement.maxReplicasPerNode === undefined || of(n) < s.spec.placement.maxReplicasPerNode));
    let branch = eligible;
    for (const { spread } of s.spec.placement.preferences) {
      const label = spread.slice('node.labels.'.length);
      const value = (n: Node): string => n.spec.labels[label] ?? '';
      const sum = (v: string): number => branch.filter((n) => value(n) === v).reduce((acc, n) => acc + of(n), 0);
      const best = [...new Set(pool.map(value))].sort((a, b) => sum(a) - sum(b) || (a < b ? -1 : 1))[0];
      pool = pool.filter((n) => value(n) === best);
      branch = branch.filter((n) => value(n) === best);
    }
    const chosen = [...pool].sort((a, b) => of(a) - of(b) || (load.get(a.id)?.total ?? 0) - (load.get(b.id)?.total ?? 0) || (a.id < b.id ? -1 : 1))[0];
    if (!chosen) continue;
    add(chosen.id, s, s.id);
    out.push({ taskId: t.id, nodeId: chosen.id });
  }
  return out;
}

describe('schedule against the slow reference', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    it(`places every task where the reference does (seed ${seed})`, () => {
      const random = rng(seed);
      const int = (n: number): number => Math.floor(random() * n);
      const zones = ['eu', 'us', 'ap'];
      const racks = ['r1', 'r2'];
      const nodes = Array.from({ length: 3 + int(12) }, (_, i) =>
        node(`n${String(i).padStart(2, '0')}`, {
          memoryGb: 1 + int(6),
          labels: { ...(random() < 0.85 ? { zone: zones[int(3)] ?? 'eu' } : {}), rack: racks[int(2)] ?? 'r1', ...(random() < 0.5 ? { ssd: 'yes' } : {}) },
          state: random() < 0.1 ? 'down' : 'ready',
          availability: random() < 0.1 ? 'drain' : 'active',
        }),
      );
      const services = Array.from({ length: 1 + int(4) }, (_, i) =>
        service(`s${i}`, `svc${i}`, {
          resources: { limits: {}, reservations: { memoryBytes: int(3) * GB / 2 } },
          placement: {
            constraints: random() < 0.3 ? ['node.labels.ssd==yes'] : [],
            preferences: [...(random() < 0.5 ? [{ spread: 'node.labels.zone' }] : []), ...(random() < 0.3 ? [{ spread: 'node.labels.rack' }] : [])],
            ...(random() < 0.3 ? { maxReplicasPerNode: 1 + int(2) } : {}),
          },
        }),
      );
      const existing = Array.from({ length: int(15) }, (_, i) => task(`e${i}`, `s${int(services.length)}`, { nodeId: nodes[int(nodes.length)]?.id ?? 'n00', status: { state: 'running', message: '', at: '' } }));
      const pending = services.flatMap((s) => Array.from({ length: int(12) }, (_, i) => task(`${s.id}-p${i}`, s.id, { slot: i + 1, status: { state: 'pending', message: '', at: '' } })));
      const byId = new Map(services.map((s) => [s.id, s]));
      const got = schedule({ nodes, tasks: existing, pending, service: (id) => byId.get(id) });
      expect(got.placed).toEqual(reference(nodes, services, existing, pending));
      expect(got.placed.length + got.unplaced.length).toBe(pending.length);
    });
  }
});
