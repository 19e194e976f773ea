// npm run bench:dataplane (third part) — DNS queries/s and p99: Shoal's resolver vs Docker's
// embedded DNS on the same lab host. Shoal: a real coordinator (one raft-ts member, in this
// process) and a real agent on h1; a client task and 3 dnsrr replicas of `web` on an overlay,
// dnsperf asks the client's resolver (the agent's, on the gateway bridge) for `b_web`. Docker:
// on the same host, a user-defined bridge network with 3 containers sharing the alias `web`,
// dnsperf in a fourth asks 127.0.0.11 for `web`. Both answer 3 A records. Each round measures
// both, alternating which goes first; dnsperf runs from inside the client's network namespace,
// saturated (4 clients, 100 outstanding) and at a fixed rate for the p99. Target (issue 5):
// ≥ 1.0× Docker's q/s, p99 < 2 ms at 50k q/s. A script that prints figures, never a test.
// Env: BENCH_ROUNDS, BENCH_SECONDS, BENCH_DNS_QPS (the fixed rate), BENCH_DNS_WORKERS.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { Lab } from '@shoal/lab';
import { Manager, natsBus } from '@shoal/coordinator';
import { apiRequest, decodeApiResponse, loadStack, unwrapResponse } from '@shoal/core';
import { dnsperf, listening, median, resolve as dig, whenTrue } from './lib/probe.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FIXED_QPS = Number(process.env.BENCH_DNS_QPS ?? 50_000);
// the agent's --dns-workers (processes answering besides the agent); unset: the agent's default
const WORKERS = process.env.BENCH_DNS_WORKERS;
const LAB = 'bdns';
const CLUSTER = 'bdnsq';
const NATS_PORT = 14291;
const RAFT_PORT = 17191;
const AGENT_BIN = fileURLToPath(new URL('../packages/agent/dist/bin.js', import.meta.url));
const STACK = `
services:
  client:
    image: shoal/busybox
    command: ["sleep", "100000"]
    networks: [net]
  web:
    image: shoal/busybox
    command: ["sleep", "100000"]
    deploy: { replicas: 3, endpoint_mode: dnsrr }
    networks: [net]
networks:
  net: { driver: overlay }
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = whenTrue;

await Lab.down(LAB);
const lab = await Lab.up({ name: LAB, hosts: 1 });
const must = async (argv) => {
  const r = await lab.exec('h1', argv, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`h1: ${argv.join(' ')} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim();
};
const pidOf = async (container) => Number(await must(['docker', 'inspect', '-f', '{{.State.Pid}}', container]));
const children = [];
const dir = await mkdtemp(join(tmpdir(), 'shoal-bdnsq-'));
let manager;
let nc;
const runs = { shoal: [], docker: [] };
try {
  // Docker's side: its embedded DNS answers on 127.0.0.11 inside each container of a user-defined network
  await must(['docker', 'network', 'create', 'dnsbench']);
  for (const i of [1, 2, 3]) await must(['docker', 'run', '-d', '--name', `dweb${i}`, '--network', 'dnsbench', '--network-alias', 'web', 'shoal/busybox', 'sleep', '100000']);
  await must(['docker', 'run', '-d', '--name', 'dcli', '--network', 'dnsbench', 'shoal/busybox', 'sleep', '100000']);
  const dockerPid = await pidOf('dcli');

  // Shoal's side: a coordinator in this process, an agent on h1
  const nats = spawn('nats-server', ['-a', lab.state.gateway, '-p', String(NATS_PORT)], { stdio: 'ignore' });
  children.push(nats);
  await until('nats-server', () => listening(lab.state.gateway, NATS_PORT));
  const url = `nats://${lab.state.gateway}:${NATS_PORT}`;
  nc = await connect({ servers: url });
  const [cmd, ...args] = lab.commandIn('h1', [process.execPath, AGENT_BIN, '--cluster', CLUSTER, '--nats', url, '--data-dir', '/var/lib/shoal/agent', ...(WORKERS === undefined ? [] : ['--dns-workers', WORKERS])]);
  children.push(spawn(cmd, args, { stdio: 'ignore' }));
  manager = new Manager({ cluster: CLUSTER, id: 1, peers: new Map([[1, { host: '127.0.0.1', port: RAFT_PORT }]]), dataDir: join(dir, 'c1'), bus: natsBus(nc), heartbeatPeriodMs: 1000, missedHeartbeats: 3 });
  await manager.start();
  const store = manager.store;
  await until('the node ready', () => manager.leading && store.list('node').some((n) => n.status.state === 'ready'));
  const msg = await nc.request(
    `shoal.${CLUSTER}.api.stack.deploy`,
    new TextEncoder().encode(JSON.stringify(apiRequest('b1', 'stack.deploy', { spec: loadStack([{ name: 'b.yml', text: STACK }], { stackName: 'b', env: {} }).stack }))),
    { timeout: 20_000 },
  );
  unwrapResponse(decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data))));
  const running = (name) => {
    const s = store.serviceByName(name);
    return s ? store.tasksOfService(s.id).filter((t) => t.desiredState === 'running' && t.status.state === 'running') : [];
  };
  await until('the stack running', () => running('b_client').length === 1 && running('b_web').length === 3);
  const shoalPid = await pidOf(running('b_client')[0].status.containerId);
  const shoalResolver = (await must(['docker', 'exec', running('b_client')[0].status.containerId, 'sed', '-n', 's/^nameserver //p', '/etc/resolv.conf'])).split('\n')[0];

  const sides = {
    shoal: { pid: shoalPid, resolver: shoalResolver, name: 'b_web' },
    docker: { pid: dockerPid, resolver: '127.0.0.11', name: 'web' },
  };
  for (const [side, s] of Object.entries(sides)) {
    const got = await until(`${side}'s resolver answering ${s.name}`, async () => ((await dig(s.pid, s.resolver, s.name)).length === 3 ? true : undefined), 30_000);
    if (!got) throw new Error(`${side}: ${s.name} does not resolve to 3 addresses`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['shoal', 'docker'] : ['docker', 'shoal'];
    for (const side of order) {
      const s = sides[side];
      const load = loadavg()[0];
      const r = await dnsperf(s.pid, s.resolver, s.name, { seconds: SECONDS, fixedQps: FIXED_QPS });
      runs[side].push({ ...r, load });
      process.stderr.write(
        `round ${round + 1} ${side.padEnd(6)}: ${Math.round(r.qps)} q/s saturated (lost ${r.lost}); at ${FIXED_QPS} q/s p99 ${r.p99Ms.toFixed(2)} ms, ${r.answered} answered; load ${load.toFixed(2)}\n`,
      );
    }
  }
} finally {
  await manager?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  await Lab.down(LAB);
  await rm(dir, { recursive: true, force: true });
}

const m = (side, key) => median(runs[side].map((r) => r[key]));
const qps = { shoal: m('shoal', 'qps'), docker: m('docker', 'qps') };
const p99 = { shoal: m('shoal', 'p99Ms'), docker: m('docker', 'p99Ms') };
const done = { shoal: m('shoal', 'answered'), docker: m('docker', 'answered') };
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
console.log('');
console.log(`DNS on one lab host, dnsperf from inside a client container, ${SECONDS} s per run, median of ${ROUNDS} alternating rounds; agent --dns-workers ${WORKERS ?? 'default'}`);
console.log(`(load average during the runs: ${runs.shoal.concat(runs.docker).map((r) => r.load.toFixed(1)).join(' ')}; 2 shared cores, dnsperf needs one)`);
console.log('');
console.log('metric                                  Docker    Shoal    ratio   target            met?');
console.log(`queries/s, saturated (4×100 in flight) ${f0(qps.docker).padStart(7)}  ${f0(qps.shoal).padStart(7)}   ${f2(qps.shoal / qps.docker).padStart(5)}×   ≥ 1.0× Docker     ${qps.shoal >= qps.docker ? 'yes' : 'no'}`);
console.log(`${`p99 at ${f0(FIXED_QPS)} q/s (ms)`.padEnd(39)} ${f2(p99.docker).padStart(7)}  ${f2(p99.shoal).padStart(7)}   ${f2(p99.shoal / p99.docker).padStart(5)}×   < 2 ms            ${p99.shoal < 2 ? 'yes' : 'no'}`);
console.log(`${`answered of ${f0(FIXED_QPS * SECONDS)} at ${f0(FIXED_QPS)} q/s`.padEnd(39)} ${f0(done.docker).padStart(7)}  ${f0(done.shoal).padStart(7)}`);
console.log('');
console.log('runs (q/s saturated / p99 ms):');
for (const side of ['docker', 'shoal']) console.log(`  ${side.padEnd(6)} ${runs[side].map((r) => `${f0(r.qps)}/${f2(r.p99Ms)}`).join('  ')}`);
