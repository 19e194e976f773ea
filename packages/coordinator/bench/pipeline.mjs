// The leader's pure pipeline at the scale, without NATS or agents: 1,000 nodes and
// 30 services of 1,000 replicas, through orchestrate → allocate → schedule, each proposal
// applied to the store as one Raft entry. Prints the time of each stage and the heap; it
// asserts nothing (no timed tests). Run after `npx tsc -b packages/coordinator`:
//   node packages/coordinator/bench/pipeline.mjs [nodes] [services] [replicas]
import { Allocator, Store, allocatePass, orchestrate, schedulePass } from '../dist/index.js';

const [nodes = 1000, services = 30, replicas = 1000] = process.argv.slice(2).map(Number);
const META = { version: 0, createdAt: '', updatedAt: '' };
const policy = { parallelism: 1, delayMs: 0, failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0, order: 'stop-first' };

const store = new Store();
let index = 0;
const apply = (command) => {
  index++;
  const r = store.apply(command, { index, at: new Date(Date.UTC(2026, 0, 1) + index).toISOString() });
  if (!r.ok) throw r.error;
};
const timed = (label, f) => {
  const t0 = performance.now();
  const out = f();
  console.log(`${label.padEnd(28)} ${String(Math.round(performance.now() - t0)).padStart(6)} ms`);
  return out;
};

for (let i = 0; i < nodes; i++) {
  apply({ op: 'create', kind: 'node', object: {
    id: `n${i}`, meta: META, spec: { role: 'worker', availability: 'active', labels: { zone: `z${i % 3}` } },
    hostname: `host-${i}`, address: '192.168.0.1', platform: { os: 'linux', arch: 'x86_64' },
    resources: { nanoCpus: 8e9, memoryBytes: 32 * 2 ** 30 }, engineLabels: {}, status: { state: 'ready' },
  } });
}
apply({ op: 'create', kind: 'network', object: { id: 'front', meta: META, spec: { name: 'front', driver: 'overlay', driverOpts: {}, ipam: [{ subnet: '10.128.0.0/14' }], attachable: false, internal: false, labels: {} } } });
for (let s = 0; s < services; s++) {
  apply({ op: 'create', kind: 'service', object: {
    id: `s${s}`, meta: META, vips: [], ports: [],
    spec: {
      name: `svc${s}`, labels: {}, container: { image: 'nginx', env: {}, labels: {}, expose: [] },
      mode: { kind: 'replicated', replicas }, placement: { constraints: [], preferences: s % 2 ? [{ spread: 'node.labels.zone' }] : [] },
      resources: { limits: {}, reservations: { memoryBytes: 64 * 2 ** 20 } }, restartPolicy: { condition: 'any', delayMs: 5000 },
      update: policy, rollback: policy, networks: [{ target: 'front', aliases: [] }], endpoint: { mode: 'vip', ports: [] },
    },
  } });
}
let ids = 0;
const now = Date.UTC(2026, 0, 1);
const at = new Date(now).toISOString();
const allocator = new Allocator();
const total = performance.now();
const pass = timed('orchestrate', () => orchestrate(store, { now, newId: () => `t${++ids}` }));
timed('apply task creates', () => pass.batches.forEach((b) => apply({ op: 'batch', commands: b })));
const alloc = timed('allocate', () => allocatePass(store, allocator, at));
timed('apply allocations', () => apply({ op: 'batch', commands: alloc.commands }));
const sched = timed('schedule', () => schedulePass(store, at));
timed('apply assignments', () => apply({ op: 'batch', commands: sched.commands }));
console.log(`${'all tasks assigned'.padEnd(28)} ${String(Math.round(performance.now() - total)).padStart(6)} ms (${sched.decision.placed.length} placed, ${sched.decision.unplaced.length} not)`);
const snapshot = timed('snapshot to JSON', () => JSON.stringify(store.snapshot()));
timed('restore from JSON', () => Store.fromSnapshot(JSON.parse(snapshot)));
timed('rebuild allocator', () => Allocator.rebuild({ networks: store.list('network'), services: store.list('service'), tasks: store.list('task') }));
console.log(`snapshot ${(snapshot.length / 2 ** 20).toFixed(1)} MiB, heap ${Math.round(process.memoryUsage().heapUsed / 2 ** 20)} MiB`);
