import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, applyAssignment, decodeAssignment, type AssignmentSet, type Task } from '@shoal/core';
import { Dispatcher, Store, assignmentFor, type Bus, type BusMessage, type Command } from '@shoal/coordinator';
import { rng, until } from './harness.js';
import { entry, network, service, task } from './fixtures.js';

// The dispatcher sends deltas built from a cache of network assignments: whatever the store goes
// through, what each agent ends up holding (the full set, then every delta applied) must be
// exactly what assignmentFor computes from the store afresh.

class MemoryBus implements Bus {
  readonly subs = new Map<string, (m: BusMessage) => void>();
  readonly held = new Map<string, AssignmentSet | undefined>();
  /** Messages that carried network patches, and those that carried a network whole. */
  patches = 0;
  wholes = 0;
  fulls = 0;
  /** Deltas an agent could not apply on what it holds. */
  gaps = 0;
  /** Nodes whose next message is lost on the way. */
  readonly lose = new Set<string>();
  subscribe(subject: string, handler: (m: BusMessage) => void): () => void {
    this.subs.set(subject, handler);
    return () => this.subs.delete(subject);
  }
  publish(subject: string, data: Uint8Array): void {
    const nodeId = subject.split('.')[3] ?? '';
    if (this.lose.delete(nodeId)) return;
    const msg = decodeAssignment(JSON.parse(new TextDecoder().decode(data)));
    if (msg.kind === 'assign.full') this.fulls++;
    else {
      if ((msg.patchNetworks ?? []).length > 0) this.patches++;
      if (msg.upsertNetworks.length > 0) this.wholes++;
    }
    const out = applyAssignment(this.held.get(nodeId), msg);
    if (out.kind === 'gap') {
      this.gaps++;
      if (this.held.get(nodeId)?.seq === out.set?.seq && out.set !== undefined) return; // waits for a full set
      throw new Error(`gap at node ${nodeId}`);
    }
    this.held.set(nodeId, out.set);
  }
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('none'));
  }
  heartbeat(nodeId: string, sessionId: string, appliedSeq: number): void {
    const h = this.subs.get('shoal.t.node.*.hb');
    if (!h) throw new Error('not served');
    const hb = { v: PROTOCOL_VERSION, kind: 'node.hb', nodeId, sessionId, appliedSeq };
    h({ subject: `shoal.t.node.${nodeId}.hb`, data: new TextEncoder().encode(JSON.stringify(hb)), respond: () => undefined });
  }
  register(nodeId: string): Promise<void> {
    const h = this.subs.get('shoal.t.node.*.register');
    if (!h) throw new Error('not served');
    const reg = { v: PROTOCOL_VERSION, kind: 'node.register', nodeId, hostname: nodeId, address: '192.168.0.9', platform: { os: 'linux', arch: 'x86_64' }, resources: { nanoCpus: 4e9, memoryBytes: 2 ** 33 }, engineLabels: {}, agentVersion: 't', runningTasks: [] };
    return new Promise((resolve) => h({ subject: `shoal.t.node.${nodeId}.register`, data: new TextEncoder().encode(JSON.stringify(reg)), respond: () => resolve() }));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('dispatcher deltas from the assignment cache', () => {
  it('leave every agent holding exactly assignmentFor(store, node), through random changes', async () => {
    for (const seed of [1, 2, 3]) {
      const store = new Store();
      const apply = (c: Command): void => {
        const r = store.apply(c, entry(store.index + 1));
        if (!r.ok) throw r.error;
      };
      const bus = new MemoryBus();
      const d = new Dispatcher({ cluster: 't', store, bus, propose: (c) => Promise.resolve(apply(c)), heartbeatPeriodMs: 60_000 });
      d.start();
      const nodes = ['n1', 'n2', 'n3', 'n4'];
      for (const n of nodes) await bus.register(n);
      const nets = ['a', 'b', 'c'].map((name, i) => network(`net-${name}`, name, {}, { allocation: { vni: 4096 + i, subnet: `10.0.${i}.0/24`, gateway: `10.0.${i}.1` } }));
      for (const n of nets) apply({ op: 'create', kind: 'network', object: n });
      const services = [0, 1, 2, 3].map((i) => service(`s${i}`, `svc${i}`, { networks: [{ target: nets[i % 3]?.spec.name ?? 'a', aliases: [`al${i}`] }], endpoint: { mode: i % 2 ? 'dnsrr' : 'vip', ports: [] } }, { vips: i % 2 ? [] : [{ networkId: nets[i % 3]?.id ?? '', address: `10.0.${i % 3}.${200 + i}` }] }));
      for (const s of services) apply({ op: 'create', kind: 'service', object: s });
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
      let ids = 0;
      for (let step = 0; step < 120; step++) {
        const tasks = store.list('task');
        const roll = r();
        if (roll < 0.4 || tasks.length === 0) {
          const s = pick(services);
          const netId = store.networkByName(s.spec.networks[0]?.target ?? '')?.id ?? '';
          const k = ++ids;
          apply({ op: 'create', kind: 'task', object: task(`t${k}`, s.id, { slot: k, nodeId: pick(nodes), status: { state: 'assigned', message: '', at: '' }, attachments: [{ networkId: netId, address: `10.0.${nets.findIndex((n) => n.id === netId)}.${(k % 200) + 2}/24`, mac: '02:42:0a:00:00:01' }] }) });
        } else if (roll < 0.8) {
          const t = pick(tasks);
          const next: Task['status']['state'] = pick(['starting', 'running', 'failed', 'shutdown'] as const);
          apply({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, state: next } } });
        } else if (roll < 0.9) {
          const t = pick(tasks);
          apply({ op: 'delete', kind: 'task', id: t.id, version: t.meta.version });
        } else {
          const n = store.get('node', pick(nodes));
          if (n) apply({ op: 'update', kind: 'node', object: { ...n, address: `192.168.0.${Math.floor(r() * 200) + 1}` } });
        }
        // now and then let the dispatcher catch up, so rounds see one change as well as many
        if (r() < 0.3) await sleep(30);
      }
      await sleep(100);
      for (const n of nodes) {
        const want = assignmentFor(store, n);
        const held = bus.held.get(n);
        expect(Object.values(held?.tasks ?? {}).sort((a, b) => a.taskId.localeCompare(b.taskId)), `seed ${seed} node ${n} tasks`).toEqual([...want.tasks].sort((a, b) => a.taskId.localeCompare(b.taskId)));
        expect(Object.values(held?.networks ?? {}).sort((a, b) => a.networkId.localeCompare(b.networkId)), `seed ${seed} node ${n} networks`).toEqual(want.networks);
      }
      // the networks travelled as patches, not whole every time
      expect(bus.patches, `seed ${seed}`).toBeGreaterThan(0);
      d.stop();
    }
  });

  it('resend the full set after a lost delta, once heartbeats show the agent stuck behind for a grace period', async () => {
    // the real clock, plus a jump the test makes past the heartbeat's grace period
    let skew = 0;
    const store = new Store();
    const apply = (c: Command): void => {
      const r = store.apply(c, entry(store.index + 1));
      if (!r.ok) throw r.error;
    };
    const bus = new MemoryBus();
    const d = new Dispatcher({ cluster: 't', store, bus, propose: (c) => Promise.resolve(apply(c)), heartbeatPeriodMs: 1000, now: () => Date.now() + skew });
    d.start();
    for (const n of ['n1', 'n2']) await bus.register(n);
    const net = network('net-a', 'a', {}, { allocation: { vni: 4096, subnet: '10.0.0.0/24', gateway: '10.0.0.1' } });
    apply({ op: 'create', kind: 'network', object: net });
    const s = service('s1', 'web', { networks: [{ target: 'a', aliases: [] }], endpoint: { mode: 'dnsrr', ports: [] } });
    apply({ op: 'create', kind: 'service', object: s });
    const running = { state: 'running' as const, message: '', at: '' };
    apply({ op: 'create', kind: 'task', object: task('t1', 's1', { slot: 1, nodeId: 'n1', status: running, attachments: [{ networkId: 'net-a', address: '10.0.0.2/24', mac: '02:42:0a:00:00:02' }] }) });
    apply({ op: 'create', kind: 'task', object: task('t2', 's1', { slot: 2, nodeId: 'n2', status: running, attachments: [{ networkId: 'net-a', address: '10.0.0.3/24', mac: '02:42:0a:00:00:03' }] }) });
    await until('n1 to hold both tasks\' names', () => bus.held.get('n1')?.networks['net-a']?.dns.some((r) => r.name === 'tasks.web' && r.addresses.length === 2) === true);
    const before = bus.held.get('n1');
    expect(before?.networks['net-a']?.dns.find((r) => r.name === 'tasks.web')?.addresses).toEqual(['10.0.0.2', '10.0.0.3']);
    // n1's next delta (the patch for t3) is lost; the one after is then a gap it does not apply
    bus.lose.add('n1');
    apply({ op: 'create', kind: 'task', object: task('t3', 's1', { slot: 3, nodeId: 'n2', status: running, attachments: [{ networkId: 'net-a', address: '10.0.0.4/24', mac: '02:42:0a:00:00:04' }] }) });
    await until('the delta to n1 to be lost', () => !bus.lose.has('n1'));
    apply({ op: 'create', kind: 'task', object: task('t4', 's1', { slot: 4, nodeId: 'n2', status: running, attachments: [{ networkId: 'net-a', address: '10.0.0.5/24', mac: '02:42:0a:00:00:05' }] }) });
    await until('the next delta to reach n1', () => bus.gaps > 0);
    expect(bus.held.get('n1')?.seq).toBe(before?.seq);
    const fulls = bus.fulls;
    // heartbeats that show it stuck behind, but not yet for a grace period: nothing yet
    bus.heartbeat('n1', before?.sessionId ?? '', before?.seq ?? 0);
    bus.heartbeat('n1', before?.sessionId ?? '', before?.seq ?? 0);
    await sleep(20);
    expect(bus.fulls).toBe(fulls);
    skew += 2500;
    bus.heartbeat('n1', before?.sessionId ?? '', before?.seq ?? 0);
    await until('a full set', () => bus.fulls > fulls);
    expect(bus.fulls).toBe(fulls + 1);
    expect(Object.values(bus.held.get('n1')?.networks ?? {})).toEqual(assignmentFor(store, 'n1').networks);
    expect(bus.held.get('n1')?.networks['net-a']?.dns.find((r) => r.name === 'tasks.web')?.addresses).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);
    d.stop();
  });
});
