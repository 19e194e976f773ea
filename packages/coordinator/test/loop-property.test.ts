import { describe, expect, it } from 'vitest';
import type { Node } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import { network, node, service } from './fixtures.js';
import { Cluster, rng } from './harness.js';

const GB = 2 ** 30;

/** What must hold after the leader's loop has settled, whatever happened before. */
function checkCluster(c: Cluster): void {
  const nodes = new Map(c.store.list('node').map((n) => [n.id, n]));
  const live = c.store.list('task').filter((t) => !isTerminalTaskState(t.status.state));
  // No address twice, and the allocator holds exactly what the store records.
  const addresses = [...live.flatMap((t) => t.attachments.map((a) => `${a.networkId} ${a.address.split('/')[0] ?? ''}`)), ...c.store.list('service').flatMap((s) => s.vips.map((v) => `${v.networkId} ${v.address}`))];
  expect(new Set(addresses).size).toBe(addresses.length);
  expect(c.allocator.usage().addresses).toBe(addresses.length);
  // No node holds more than its capacity.
  const used = new Map<string, number>();
  for (const t of live) {
    if (t.nodeId === undefined || t.status.state === 'new' || t.status.state === 'pending') continue;
    const mem = c.store.get('service', t.serviceId)?.spec.resources.reservations.memoryBytes ?? 0;
    used.set(t.nodeId, (used.get(t.nodeId) ?? 0) + mem);
  }
  for (const [id, mem] of used) expect(mem).toBeLessThanOrEqual(nodes.get(id)?.resources.memoryBytes ?? 0);
  for (const s of c.store.list('service')) {
    const wanted = c.wanted(s.id);
    if (s.spec.mode.kind === 'replicated') {
      expect(wanted.map((t) => t.slot).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: s.spec.mode.replicas }, (_, i) => i + 1));
    } else {
      const eligible = [...nodes.values()].filter((n) => n.status.state === 'ready' && n.spec.availability === 'active').map((n) => n.id).sort();
      expect(wanted.map((t) => t.nodeId).sort()).toEqual(eligible);
    }
    for (const t of wanted) {
      if (t.nodeId === undefined || isTerminalTaskState(t.status.state)) continue;
      const n = nodes.get(t.nodeId);
      // A wanted task never stays on a node that is down or drained.
      expect(n?.status.state).not.toBe('down');
      expect(n?.spec.availability).not.toBe('drain');
    }
  }
}

function run(seed: number): Cluster {
  const random = rng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const c = new Cluster();
  c.log.propose({ op: 'create', kind: 'network', object: network('net', 'front') });
  let serial = 0;
  const edit = (n: Node, change: (n: Node) => Node): void => c.log.propose({ op: 'update', kind: 'node', object: change(n) });
  for (let step = 0; step < 60; step++) {
    const nodes = c.store.list('node');
    const services = c.store.list('service');
    const someNode = nodes[int(nodes.length)];
    const someService = services[int(services.length)];
    const r = random();
    if (r < 0.15 || nodes.length === 0) {
      c.log.propose({ op: 'create', kind: 'node', object: node(`n${++serial}`, { memoryGb: 1 + int(4) }) });
    } else if (r < 0.25 && someNode) {
      edit(someNode, (n) => ({ ...n, status: { state: n.status.state === 'down' ? 'ready' : 'down' } }));
    } else if (r < 0.32 && someNode) {
      edit(someNode, (n) => ({ ...n, spec: { ...n.spec, availability: n.spec.availability === 'active' ? 'drain' : 'active' } }));
    } else if (r < 0.47) {
      const global = random() < 0.25;
      c.log.propose({
        op: 'create',
        kind: 'service',
        object: service(`s${++serial}`, `svc${serial}`, {
          mode: global ? { kind: 'global' } : { kind: 'replicated', replicas: int(5) },
          resources: { limits: {}, reservations: global ? {} : { memoryBytes: int(3) * GB } },
          networks: random() < 0.6 ? [{ target: 'front', aliases: [] }] : [],
          restartPolicy: { condition: 'any', delayMs: 0 },
        }),
      });
    } else if (r < 0.62 && someService && someService.spec.mode.kind === 'replicated') {
      c.log.propose({ op: 'update', kind: 'service', object: { ...someService, spec: { ...someService.spec, mode: { kind: 'replicated', replicas: int(6) } } } });
    } else if (r < 0.7 && someService) {
      const spec = someService.spec;
      c.log.propose({ op: 'update', kind: 'service', object: { ...someService, previousSpec: spec, spec: { ...spec, container: { ...spec.container, image: `img:${++serial}` } } } });
    } else if (r < 0.77 && someService) {
      c.log.propose({ op: 'delete', kind: 'service', id: someService.id });
    } else {
      const victim = c.store.list('task').filter((t) => t.status.state === 'running')[0];
      if (victim) c.report(victim.id, 'failed');
    }
    c.now += 10_000;
    c.settle(30);
    checkCluster(c);
  }
  return c;
}

describe('the leader loop under random cluster events', () => {
  for (const seed of [11, 12, 13, 14, 15, 16]) {
    it(`keeps every replica count, node and address invariant (seed ${seed})`, () => {
      run(seed);
    });
  }

  it('reaches the same store from the same events, byte for byte', () => {
    expect(JSON.stringify(run(21).store.snapshot())).toBe(JSON.stringify(run(21).store.snapshot()));
  });
});
