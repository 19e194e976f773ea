// npm run bench:coordinator — the coordinator at the scale, as processes: a real
// nats-server, 3 shoal-coordinator processes (the built bin), simulated agents for 1,000 nodes
// (bench/sim-agents.mjs: the agent protocol without Docker), and one stack of 30,000 tasks.
// Prints each figure beside its target and writes them to bench/results/coordinator.json.
// Asserts nothing (no timed tests). Options: --nodes N --services N --replicas N --agents-procs N
// --heartbeat-ms MS --overlay (a network per service) --cpu-prof (profiles of the 3 coordinators)
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect } from 'nats';
import { apiRequest, parseCompose } from '@shoal/core';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '../dist/bin.js');
const { values: opt } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    services: { type: 'string', default: '300' },
    replicas: { type: 'string', default: '100' },
    'agents-procs': { type: 'string', default: '2' },
    'cpu-prof': { type: 'boolean', default: false },
    // the simulated nodes share this machine's 2 cores with everything else: a period a little
    // longer than the default 1 s keeps the bench's own CPU starvation from reading as dead nodes
    'heartbeat-ms': { type: 'string', default: '3000' },
    // for the same reason the coordinators' Raft waits longer for a silent leader than its
    // default 500 ms: with load averages of 10–25 on 2 cores, a leader's event loop pauses for
    // seconds, and shorter timeouts made leadership flap (36 leaders in 3 minutes), each new
    // leader owing every node a full set
    'election-ms': { type: 'string', default: '3000' },
    // each service on an overlay network of its own. Not the default: at 30,000 tasks over 300
    // networks every node is sent ~30 networks of 100 endpoints each, re-sent as they change,
    // and the coordinators do not converge (GBs of buffered assignments, leadership lost to
    // event-loop stalls); at 10,000 tasks over 100 networks they do. See the README.
    overlay: { type: 'boolean', default: false },
    // every process's whole output, kept in this directory (the default keeps the last lines)
    logs: { type: 'string' },
  },
});
const NODES = Number(opt.nodes);
const SERVICES = Number(opt.services);
const REPLICAS = Number(opt.replicas);
const TASKS = SERVICES * REPLICAS;
const CLUSTER = 'coordbench';
const NATS_PORT = 14275;
const RAFT_BASE = 17450;
const IDS = [1, 2, 3];
const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-coord-'));
const children = [];
const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (s) => process.stderr.write(`${s}\n`);

function start(cmd, args, name) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.out = '';
  child.stdout.on('data', (b) => (child.out = (child.out + b.toString()).slice(-20_000)));
  child.stderr.on('data', (b) => (child.out = (child.out + b.toString()).slice(-20_000)));
  child.name = name;
  if (opt.logs) {
    mkdirSync(opt.logs, { recursive: true });
    const file = createWriteStream(join(opt.logs, `${name.replace(/\s+/g, '-')}.log`));
    child.stdout.pipe(file);
    child.stderr.pipe(file);
  }
  children.push(child);
  return child;
}

async function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => void cleanup().then(() => process.exit(130)));

// NATS's default 1 MB payload is too small for the full assignment of a node on 30 overlay
// networks of 100 tasks each (every peer endpoint and DNS name): the bench raises it.
writeFileSync(join(dir, 'nats.conf'), `listen: 127.0.0.1:${NATS_PORT}\nmax_payload: 8MB\n`);
start('nats-server', ['-c', join(dir, 'nats.conf')], 'nats');
const url = `nats://127.0.0.1:${NATS_PORT}`;
let nc;
for (let i = 0; ; i++) {
  try {
    nc = await connect({ servers: url });
    break;
  } catch (err) {
    if (i > 50) throw err;
    await sleep(100);
  }
}

const coordinators = new Map();
const peers = IDS.map((id) => `${id}=127.0.0.1:${RAFT_BASE + id}`).join(',');
for (const id of IDS) {
  const prof = opt['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(here, 'results', 'profiles')}`] : [];
  coordinators.set(id, start(process.execPath, [...prof, BIN, '--cluster', CLUSTER, '--id', String(id), '--peers', peers, '--data-dir', join(dir, `c${id}`), '--nats', url, '--heartbeat-ms', opt['heartbeat-ms'], '--election-ms', opt['election-ms']], `coordinator ${id}`));
}

const ask = async (subject, body, timeout = 30_000) => JSON.parse(dec.decode((await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout })).data));
let n = 0;
const api = (verb, body, timeout) => ask(`shoal.${CLUSTER}.api.${verb}`, apiRequest(`b${++n}`, verb, body), timeout);
const status = (id) => ask(`shoal.${CLUSTER}.coordinator.${id}.status`, {}, 2000);

async function leader(ids) {
  for (let i = 0; i < 600; i++) {
    for (const id of ids) {
      try {
        const s = await status(id);
        if (s.role === 'leader' && s.serving) return id;
      } catch {
        // not up
      }
    }
    await sleep(100);
  }
  throw new Error('no leader');
}

function rssMiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (user + system) a process has used: on a shared machine, steadier than wall time. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const results = {};
try {
  const lead = await leader(IDS);
  log(`leader: coordinator ${lead}; starting ${NODES} simulated nodes`);
  const procs = Number(opt['agents-procs']);
  const per = Math.ceil(NODES / procs);
  for (let p = 0; p < procs; p++) {
    start(process.execPath, [join(here, 'sim-agents.mjs'), url, CLUSTER, String(p * per), String(Math.min(per, NODES - p * per)), opt['heartbeat-ms']], `agents ${p}`);
  }
  for (;;) {
    const r = await api('node.ls', {});
    const ready = r.ok ? r.body.filter((x) => x.state === 'ready').length : 0;
    if (ready >= NODES) break;
    await sleep(500);
  }
  log(`${NODES} nodes ready; deploying ${SERVICES} services × ${REPLICAS} replicas = ${TASKS} tasks`);

  // one stack: each service on an overlay network of its own (or on none)
  const nets = opt.overlay;
  const yml = ['services:'];
  for (let s = 0; s < SERVICES; s++) yml.push(`  s${s}:`, '    image: shoal/busybox', ...(nets ? [`    networks: [n${s}]`] : ['    network_mode: host']), '    deploy:', `      replicas: ${REPLICAS}`);
  if (nets) yml.push('networks:');
  if (nets) for (let s = 0; s < SERVICES; s++) yml.push(`  n${s}: {}`);
  const parsed = parseCompose({ name: 'bench.yml', text: yml.join('\n') }, { stackName: 'bench' });
  if (!parsed.stack) throw new Error(JSON.stringify(parsed.errors.slice(0, 3)));

  // leadership may move under load: the figure is the largest RSS of any coordinator, which
  // bounds the leader's (the leader holds the followers' state plus its components)
  const rssAll = () => Math.max(...[...coordinators.values()].map((c) => rssMiB(c.pid)));
  let rssMax = rssAll();
  const lsMs = [];
  const cpu0 = new Map([...coordinators].map(([id, c]) => [id, cpuSeconds(c.pid)]));
  const t0 = performance.now();
  const deployed = api('stack.deploy', { spec: parsed.stack }, 120_000).catch((err) => ({ ok: false, error: { code: 'client', message: String(err) } }));
  let deployMs;
  void deployed.then(() => (deployMs = performance.now() - t0));
  let running = 0;
  let assigned = 0;
  const cap = Number(process.env.BENCH_CAP_MS ?? 300_000);
  while (performance.now() - t0 < cap) {
    const q = performance.now();
    const r = await api('service.ls', { stack: 'bench' }, 60_000).catch((err) => ({ ok: false, error: String(err) }));
    lsMs.push(performance.now() - q);
    rssMax = Math.max(rssMax, rssAll());
    if (r.ok) {
      running = r.body.reduce((x, s) => x + s.running, 0);
      if (running >= TASKS) break;
    }
    await sleep(250);
  }
  const convergeMs = performance.now() - t0;
  const cpuUsed = [...coordinators].map(([id, c]) => cpuSeconds(c.pid) - (cpu0.get(id) ?? NaN));
  results.deployCpuSeconds = cpuUsed.map((x) => Math.round(x * 10) / 10);
  if (running < TASKS) for (const [id, c] of coordinators) log(`--- coordinator ${id} (last lines):\n${c.out.slice(-3000)}`);
  const deployReply = await deployed;
  if (!deployReply.ok) throw new Error(`deploy failed: ${JSON.stringify(deployReply.error)}`);
  try {
    const s = await status(lead);
    assigned = s.counts.tasks;
  } catch {
    // leave it
  }
  results.deployToRunningMs = running >= TASKS ? Math.round(convergeMs) : null;
  results.deployAckMs = Math.round(deployMs ?? NaN);
  results.tasksRunning = running;
  results.coordinatorRssMiB = Math.round(rssMax);
  results.serviceLsP99Ms = Math.round(pct(lsMs, 99));
  results.serviceLsP50Ms = Math.round(pct(lsMs, 50));
  results.serviceLsSamples = lsMs.length;
  log(`deploy: ${running}/${TASKS} running after ${(convergeMs / 1000).toFixed(1)} s (${assigned} tasks in the store)`);

  if (opt['cpu-prof']) {
    // profiles are written on a clean exit: stop every coordinator with SIGTERM, skip failover
    for (const c of coordinators.values()) c.kill('SIGTERM');
    for (let i = 0; i < 300 && [...coordinators.values()].some((c) => c.exitCode === null && c.signalCode === null); i++) await sleep(100);
    throw new Error(`profiles written to ${join(here, 'results', 'profiles')}; no failover measured`);
  }
  // failover under that load: agents keep heartbeating and the new leader re-sends every assignment
  const current = await leader(IDS);
  coordinators.get(current).kill('SIGKILL');
  const t1 = performance.now();
  let k = 0;
  for (;;) {
    try {
      const r = await api('network.create', { spec: { name: `after-failover-${++k}`, driver: 'overlay', driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} } }, 30_000);
      if (r.ok) break;
    } catch {
      // no responder: ask again (a coordinator that got it waits for the new leader itself)
    }
    if (performance.now() - t1 > 120_000) break;
  }
  results.failoverMs = Math.round(performance.now() - t1);
  const next = await leader(IDS.filter((id) => id !== current));
  results.newLeaderRssMiB = Math.round(rssMiB(coordinators.get(next).pid));
} finally {
  await nc?.close();
  await cleanup();
}

const fmt = (v, unit) => (v === null || Number.isNaN(v) ? 'n/a' : `${v.toLocaleString('en')} ${unit}`);
const rows = [
  [`deploy → all ${TASKS.toLocaleString('en')} tasks running`, fmt(results.deployToRunningMs, 'ms'), '< 30,000 ms', results.deployToRunningMs !== null && results.deployToRunningMs < 30_000],
  [`CPU used by the 3 coordinators during it (s)`, (results.deployCpuSeconds ?? []).join(' / '), '(figure)', true],
  ['coordinator RSS (largest of the 3, max during deploy)', fmt(results.coordinatorRssMiB, 'MiB'), '< 1,024 MiB', results.coordinatorRssMiB < 1024],
  [`service ls p99 during deploy (${results.serviceLsSamples} calls, p50 ${results.serviceLsP50Ms} ms)`, fmt(results.serviceLsP99Ms, 'ms'), '(figure)', true],
  ['leader failover under load (kill -9 → next write)', fmt(results.failoverMs, 'ms'), '(figure)', true],
];
console.log(`coordinator bench: 3 coordinators, ${NODES} simulated nodes (heartbeat ${opt['heartbeat-ms']} ms), ${SERVICES} services × ${REPLICAS} replicas, ${opt.overlay ? 'each service on its own overlay network' : 'on no overlay network (network_mode: host)'}`);
for (const [what, got, target, ok] of rows) console.log(`${what.padEnd(62)} ${got.padStart(12)}   target ${target}${ok ? '' : '   MISSED'}`);
const load = loadavg().map((x) => x.toFixed(1)).join(' ');
console.log(`load average at the end: ${load} (2 cores shared with other work: expect ±30% and worse between runs)`);
const out = join(here, 'results', 'coordinator.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), loadAverage: load, heartbeatMs: Number(opt['heartbeat-ms']), electionMs: Number(opt['election-ms']), overlayPerService: opt.overlay, nodes: NODES, services: SERVICES, replicas: REPLICAS, tasks: TASKS, targets: { deployToRunningMs: 30_000, coordinatorRssMiB: 1024 }, ...results }, null, 2)}\n`);
console.log(`written to ${out}`);

// The root `npm run bench` (bench/compare.mjs) prints these rows from bench/results/scale.json.
// A run replaces the rows of its own shape (with or without an overlay per service) and keeps the other's.
const scaleFile = join(here, '../../../bench/results/scale.json');
const shape = opt.overlay ? 'overlay per service' : 'no overlay';
const sec = (ms) => (ms === null || Number.isNaN(ms) ? 'not converged' : `${(ms / 1000).toFixed(1)} s`);
let kept = [];
try {
  kept = (JSON.parse(readFileSync(scaleFile, 'utf8')).figures ?? []).filter((f) => !f.metric.endsWith(`(${shape})`));
} catch {
  // first run
}
const figures = [
  { metric: `deploy → ${TASKS.toLocaleString('en')} tasks on ${NODES.toLocaleString('en')} nodes running (${shape})`, value: sec(results.deployToRunningMs), target: '< 30 s', met: results.deployToRunningMs !== null && results.deployToRunningMs < 30_000 },
  { metric: `CPU seconds of the 3 coordinators during the deploy (${shape})`, value: (results.deployCpuSeconds ?? []).join(' / ') },
  { metric: `largest coordinator RSS during the deploy (${shape})`, value: `${results.coordinatorRssMiB} MiB`, target: '< 1,024 MiB', met: results.coordinatorRssMiB < 1024 },
  { metric: `service ls p99 during the deploy (${shape})`, value: `${results.serviceLsP99Ms} ms (p50 ${results.serviceLsP50Ms})` },
  { metric: `leader failover under that load, kill -9 → next write (${shape})`, value: results.failoverMs === undefined ? 'n/a' : sec(results.failoverMs) },
];
mkdirSync(dirname(scaleFile), { recursive: true });
writeFileSync(scaleFile, `${JSON.stringify({ at: new Date().toISOString(), loadAverage: load, figures: [...kept, ...figures] }, null, 2)}\n`);
console.log(`and to ${scaleFile}`);
