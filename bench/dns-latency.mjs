// npm run bench:dataplane (second part) — how long a new task's name takes to resolve on another
// host. A real coordinator (one raft-ts member, in this process) and real agents on a 2-host lab:
// a client runs on h1, then a task of service `probe` starts on h2; a loop in the client's
// network namespace asks h1's resolver for `probe` until it answers. Printed: from the task
// reported running (committed in the store) to its name resolving on h1, and from the scale
// request to the same. Target (issue 5): visible within 1 s of the assignment that carries it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { Lab } from '@shoal/lab';
import { Manager, natsBus } from '@shoal/coordinator';
import { apiRequest, decodeApiResponse, loadStack, unwrapResponse } from '@shoal/core';
import { listening, median, whenTrue } from './lib/probe.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LAB = 'bdns';
const CLUSTER = 'bdns';
const NATS_PORT = 14290;
const RAFT_PORT = 17190;
const AGENT_BIN = fileURLToPath(new URL('../packages/agent/dist/bin.js', import.meta.url));
const SERVE = 'trap "exit 0" TERM; nc -ll -p 7000 -e hostname & wait';
const STACK = `
services:
  client:
    image: shoal/busybox
    command: ["sh", "-c", '${SERVE}']
    deploy: { placement: { constraints: [node.hostname == h1] } }
    networks: [net]
  probe:
    image: shoal/busybox
    command: ["sh", "-c", '${SERVE}']
    deploy: { replicas: 0, endpoint_mode: dnsrr, placement: { constraints: [node.hostname == h2] } }
    networks: [net]
networks:
  net: { driver: overlay }
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = (what, fn, ms) => whenTrue(what, fn, ms, 50);

await Lab.down(LAB);
const lab = await Lab.up({ name: LAB, hosts: 2 });
const children = [];
const dir = await mkdtemp(join(tmpdir(), 'shoal-bdns-'));
let manager;
let nc;
try {
  const nats = spawn('nats-server', ['-a', lab.state.gateway, '-p', String(NATS_PORT)], { stdio: 'ignore' });
  children.push(nats);
  await until('nats-server', () => listening(lab.state.gateway, NATS_PORT));
  const url = `nats://${lab.state.gateway}:${NATS_PORT}`;
  nc = await connect({ servers: url });
  for (const h of lab.state.hosts) {
    const [cmd, ...args] = lab.commandIn(h.name, [process.execPath, AGENT_BIN, '--cluster', CLUSTER, '--nats', url, '--data-dir', '/var/lib/shoal/agent']);
    children.push(spawn(cmd, args, { stdio: 'ignore' }));
  }
  manager = new Manager({ cluster: CLUSTER, id: 1, peers: new Map([[1, { host: '127.0.0.1', port: RAFT_PORT }]]), dataDir: join(dir, 'c1'), bus: natsBus(nc), heartbeatPeriodMs: 1000, missedHeartbeats: 3 });
  await manager.start();
  const store = manager.store;
  await until('two nodes ready', () => manager.leading && store.list('node').filter((n) => n.status.state === 'ready').length === 2);
  let reqs = 0;
  const api = async (verb, body) => {
    const msg = await nc.request(`shoal.${CLUSTER}.api.${verb}`, new TextEncoder().encode(JSON.stringify(apiRequest(`b${++reqs}`, verb, body))), { timeout: 20_000 });
    return unwrapResponse(decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data))));
  };
  await api('stack.deploy', { spec: loadStack([{ name: 'b.yml', text: STACK }], { stackName: 'b', env: {} }).stack });
  const running = (name) => {
    const s = store.serviceByName(name);
    return s ? store.tasksOfService(s.id).filter((t) => t.desiredState === 'running' && t.status.state === 'running') : [];
  };
  await until('the client', () => running('b_client').length === 1);
  const client = running('b_client')[0];
  const cid = client.status.containerId;

  const fromRunning = [];
  const fromScale = [];
  for (let round = 0; round < ROUNDS; round++) {
    // the resolver loop starts first, then the task: it prints the moment the name answers
    const script = `ns=$(docker exec ${cid} sed -n 's/^nameserver //p' /etc/resolv.conf | head -1); pid=$(docker inspect -f '{{.State.Pid}}' ${cid});
      echo ready; while ! nsenter -t $pid -n dig +short +time=1 +tries=1 @$ns b_probe | grep -q .; do :; done; date +%s%3N`;
    const [cmd, ...args] = lab.commandIn('h1', ['sh', '-c', script]);
    const loop = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    loop.stdout.on('data', (b) => (out += b.toString()));
    await until('the resolver loop', () => out.includes('ready'));
    const scaledAt = Date.now();
    await api('service.scale', { service: 'b_probe', replicas: 1 });
    // the moment the store applies the task's running status: a change listener, not a poll
    let runningAt = 0;
    const off = store.subscribe(() => {
      if (!runningAt && running('b_probe').length > 0) runningAt = Date.now();
    });
    await until('the probe running', () => runningAt > 0);
    off();
    await new Promise((r) => loop.once('exit', r));
    const resolvedAt = Number(out.trim().split('\n').pop());
    fromRunning.push(resolvedAt - runningAt);
    fromScale.push(resolvedAt - scaledAt);
    process.stderr.write(`round ${round + 1}: running → resolvable ${resolvedAt - runningAt} ms, scale → resolvable ${resolvedAt - scaledAt} ms\n`);
    await api('service.scale', { service: 'b_probe', replicas: 0 });
    await until('the probe gone', () => running('b_probe').length === 0);
    await sleep(500);
  }
  console.log('');
  console.log(`name propagation on a 2-host lab, ${ROUNDS} rounds (median, max)`);
  console.log(`task running in the store → its name resolves on another host: ${median(fromRunning)} ms, ${Math.max(...fromRunning)} ms   target ≤ 1000 ms`);
  console.log(`scale request → the new task's name resolves on another host:  ${median(fromScale)} ms, ${Math.max(...fromScale)} ms   (includes starting the container)`);
} finally {
  await manager?.stop().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  for (const c of children) c.kill('SIGTERM');
  await sleep(500);
  await Lab.down(LAB);
  await rm(dir, { recursive: true, force: true });
}
