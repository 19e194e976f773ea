// The raft-ts benchmark (issue 3, "Figures"): prints a table, no assertions.
//   node dist/example/bench.js [--seconds 20] [--rounds 3] [--clients 64] [--failovers 20] [--entries 1000000]
//        [--skip-etcd] [--profile DIR] [--blocking-sync] [--snapshot-every N]   (etcd: Debian's etcd-server, installed by scripts/setup.sh)
// 1. throughput: a 3-member raft-ts KV and a 3-member etcd (both fsyncing, same disk), the same
//    load generator (keep-alive HTTP, 256-byte values) against each leader;
// 2. failover: kill -9 the raft-ts leader, time until a write commits on the new leader;
// 3. recovery: open a member whose log holds N entries plus a snapshot, time until it is ready.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SeededRng } from '../core/rng.js';
import { RaftNode } from '../core/node.js';
import type { Entry } from '../core/types.js';
import { FileStorage } from '../storage/file.js';
import { bootstrap } from '../storage/bootstrap.js';

const arg = (n: string, d: number): number => {
  const i = process.argv.indexOf(`--${n}`);
  return i < 0 ? d : Number(process.argv[i + 1]);
};
const flag = (n: string): boolean => process.argv.includes(`--${n}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reply {
  readonly status: number;
  readonly body: string;
}

// Every process the benchmark starts, so that none outlives it, whatever goes wrong.
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

function request(port: number, method: string, path: string, body: string, timeoutMs = 5000): Promise<Reply> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, timeout: timeoutMs, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(body);
  });
}

interface Load {
  readonly ops: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly seconds: number;
}

async function load(clients: number, seconds: number, one: (i: number) => Promise<boolean>): Promise<Load> {
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const t = performance.now();
      if (await one(n++)) lat.push(performance.now() - t);
      else errors++;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: clients }, worker));
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? NaN;
  return { ops: lat.length, errors, p50: q(0.5), p99: q(0.99), seconds: (Date.now() - started) / 1000 };
}

// The ports this machine grants the benchmark: raft-ts on 17501-17503 (raft) and 17511-17513
// (HTTP), etcd on 23791-23793 (clients) and 23794-23796 (peers).
const RAFT_PORT = 17500;
const HTTP_PORT = 17510;
const ETCD_CLIENT_PORT = 23790;
const ETCD_PEER_PORT = 23793;

const value = 'v'.repeat(256);
const key = (i: number): string => `k${i % 1000}`;

/** CPU time (user + system) a process has used so far, from /proc, in ms. */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}

interface Measured {
  readonly load: Load;
  /** CPU used by the system under test (all its members) and by this load generator. */
  readonly serverCpuMs: number;
  readonly clientCpuMs: number;
}

async function measured(procs: readonly ChildProcess[], run: () => Promise<Load>): Promise<Measured> {
  const server0 = procs.reduce((n, p) => n + cpuMs(p.pid), 0);
  const client0 = process.cpuUsage();
  const l = await run();
  const client = process.cpuUsage(client0);
  const server = procs.reduce((n, p) => n + cpuMs(p.pid), 0) - server0;
  return { load: l, serverCpuMs: server, clientCpuMs: (client.user + client.system) / 1000 };
}

/** Each figure's median over the runs (per figure, so one noisy run moves none of them far). */
function median(runs: readonly Measured[]): Measured | undefined {
  if (runs.length === 0) return undefined;
  const mid = (f: (m: Measured) => number): number => {
    const v = runs.map(f).sort((a, b) => a - b);
    return v.length % 2 === 1 ? (v[(v.length - 1) / 2] ?? NaN) : ((v[v.length / 2 - 1] ?? NaN) + (v[v.length / 2] ?? NaN)) / 2;
  };
  const seconds = mid((m) => m.load.seconds);
  return {
    // Throughput, CPU per write and latency each take their own median.
    load: { ops: mid((m) => m.load.ops / m.load.seconds) * seconds, errors: mid((m) => m.load.errors), p50: mid((m) => m.load.p50), p99: mid((m) => m.load.p99), seconds },
    serverCpuMs: mid((m) => m.serverCpuMs / m.load.ops) * mid((m) => m.load.ops / m.load.seconds) * seconds,
    clientCpuMs: mid((m) => m.clientCpuMs / m.load.ops) * mid((m) => m.load.ops / m.load.seconds) * seconds,
  };
}

// ---------------------------------------------------------------- raft-ts KV

interface KvCluster {
  readonly procs: Map<number, ChildProcess>;
  readonly start: (id: number) => Promise<void>;
  readonly stop: () => Promise<void>;
}

async function raftKv(root: string, profileDir?: string): Promise<KvCluster> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'kv-server.js');
  const peers = [1, 2, 3].map((i) => `${i}=127.0.0.1:${RAFT_PORT + i}`).join(',');
  const procs = new Map<number, ChildProcess>();
  const start = async (id: number): Promise<void> => {
    const prof = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
    const sync = process.argv.includes('--blocking-sync') ? ['--sync', 'blocking'] : [];
    const snapIdx = process.argv.indexOf('--snapshot-every');
    if (snapIdx > 0) sync.push('--snapshot-every', process.argv[snapIdx + 1] ?? '20000');
    const p = spawn(process.execPath, [...prof, script, '--id', String(id), '--peers', peers, '--http', String(HTTP_PORT + id), '--data', join(root, `kv${id}`), ...sync], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.set(id, p);
    children.add(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('ready')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`kv ${id} exited with ${code}`)));
    });
  };
  await Promise.all([1, 2, 3].map(start));
  return {
    procs,
    start,
    stop: async () => {
      // SIGTERM lets a profiled process write its profile.
      for (const p of procs.values()) p.kill(profileDir === undefined ? 'SIGKILL' : 'SIGTERM');
      await sleep(100);
    },
  };
}

async function leaderSyncs(id: number): Promise<number> {
  const r = await request(HTTP_PORT + id, 'GET', '/status', '', 2000);
  return r.status === 200 ? ((JSON.parse(r.body) as { walSyncs?: number }).walSyncs ?? 0) : 0;
}

async function raftLeader(except = 0): Promise<number> {
  for (;;) {
    for (const id of [1, 2, 3]) {
      if (id === except) continue;
      const r = await request(HTTP_PORT + id, 'GET', '/status', '', 500);
      if (r.status === 200 && (JSON.parse(r.body) as { role: string }).role === 'leader') return id;
    }
    await sleep(20);
  }
}

// ---------------------------------------------------------------- etcd

async function etcd(root: string): Promise<{ leaderPort: number; procs: ChildProcess[]; stop: () => void }> {
  const cluster = [1, 2, 3].map((i) => `e${i}=http://127.0.0.1:${ETCD_PEER_PORT + i}`).join(',');
  const procs = [1, 2, 3].map((i) =>
    spawn('etcd', [
      '--name', `e${i}`, '--data-dir', join(root, `etcd${i}`),
      '--listen-client-urls', `http://127.0.0.1:${ETCD_CLIENT_PORT + i}`, '--advertise-client-urls', `http://127.0.0.1:${ETCD_CLIENT_PORT + i}`,
      '--listen-peer-urls', `http://127.0.0.1:${ETCD_PEER_PORT + i}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ETCD_PEER_PORT + i}`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--log-level', 'error',
    ], { stdio: 'ignore' }),
  );
  for (const p of procs) children.add(p);
  for (;;) {
    for (const i of [1, 2, 3]) {
      const r = await request(ETCD_CLIENT_PORT + i, 'POST', '/v3/maintenance/status', '{}', 500);
      if (r.status !== 200) continue;
      const s = JSON.parse(r.body) as { leader?: string; header?: { member_id?: string } };
      if (s.leader !== undefined && s.leader === s.header?.member_id) {
        return { leaderPort: ETCD_CLIENT_PORT + i, procs, stop: () => procs.forEach((p) => p.kill('SIGKILL')) };
      }
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------- recovery

async function recovery(root: string, entries: number): Promise<{ buildSeconds: number; readyMs: number }> {
  const dir = join(root, 'recovery');
  const began = Date.now();
  const { storage } = FileStorage.open(dir, { fsync: false });
  bootstrap(storage, [1, 2, 3]);
  const data = Buffer.from(value);
  let index = storage.lastIndex();
  const batch: Entry[] = [];
  while (index < entries) {
    batch.length = 0;
    for (let i = 0; i < 1000 && index < entries; i++) batch.push({ kind: 'normal', term: 1, index: ++index, data });
    storage.append(batch);
  }
  storage.setHardState({ term: 1, vote: 1, commit: index });
  // A snapshot part-way, as a running member has: the log after it must be replayed.
  storage.createSnapshot(Math.floor(entries / 2), { voters: [1, 2, 3], learners: [] }, Buffer.from('{}'));
  await storage.sync();
  storage.close();
  const buildSeconds = (Date.now() - began) / 1000;
  const t = performance.now();
  const { storage: reopened } = FileStorage.open(dir);
  const node = new RaftNode({ id: 1, storage: reopened, rng: new SeededRng(1), applied: reopened.snapshot().meta.index });
  const readyMs = performance.now() - t;
  if (node.status().lastIndex !== entries) throw new Error(`recovered ${node.status().lastIndex} of ${entries}`);
  reopened.close();
  return { buildSeconds, readyMs };
}

// ---------------------------------------------------------------- main

/** Whether an `etcd` executable is on the PATH. */
function haveEtcd(): boolean {
  return (process.env['PATH'] ?? '').split(':').some((d) => d !== '' && fs.existsSync(join(d, 'etcd')));
}

async function main(): Promise<void> {
  if (!flag('skip-etcd') && !haveEtcd()) {
    console.error("error: etcd is not installed, and the benchmark compares raft-ts with it — run `npm run setup` (or apt-get install etcd-server), or pass --skip-etcd to measure raft-ts alone");
    process.exitCode = 1;
    return;
  }
  const seconds = arg('seconds', 20);
  const clients = arg('clients', 64);
  const failovers = arg('failovers', 20);
  const entries = arg('entries', 1_000_000);
  const root = fs.mkdtempSync(join(tmpdir(), 'raft-bench-'));
  const rows: string[] = [];
  try {
    const profileIdx = process.argv.indexOf('--profile');
    const kv = await raftKv(root, profileIdx < 0 ? undefined : process.argv[profileIdx + 1]);
    let leader = await raftLeader();
    const ec = flag('skip-etcd') ? undefined : await etcd(root);
    const b64 = (s: string): string => Buffer.from(s).toString('base64');
    const raftRuns: Measured[] = [];
    // Whether proposals really share fsyncs under load: the leader's writes per fsync, per round.
    const writesPerSync: number[] = [];
    const etcdRuns: Measured[] = [];
    const rounds = arg('rounds', 3);
    // Rounds alternate which system goes first, so a burst of load from elsewhere on a shared
    // machine falls on both alike; the table shows every round and the medians.
    // A short unmeasured run each first: JIT warm-up for Node, startup work for etcd.
    const warm = Math.min(3, seconds);
    await load(clients, warm, async (i) => (await request(HTTP_PORT + leader, 'PUT', `/kv/${key(i)}`, value)).status === 200);
    if (ec !== undefined) await load(clients, warm, async (i) => (await request(ec.leaderPort, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key(i)), value: b64(value) }))).status === 200);
    for (let round = 0; round < rounds; round++) {
      const runRaft = async (): Promise<void> => {
        const syncs0 = await leaderSyncs(leader);
        const m = await measured([...kv.procs.values()], () => load(clients, seconds, async (i) => (await request(HTTP_PORT + leader, 'PUT', `/kv/${key(i)}`, value)).status === 200));
        raftRuns.push(m);
        writesPerSync.push(m.load.ops / Math.max(1, (await leaderSyncs(leader)) - syncs0));
      };
      const runEtcd = async (): Promise<void> => {
        if (ec === undefined) return;
        etcdRuns.push(await measured(ec.procs, () => load(clients, seconds, async (i) => (await request(ec.leaderPort, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key(i)), value: b64(value) }))).status === 200)));
      };
      if (round % 2 === 0) {
        await runRaft();
        await runEtcd();
      } else {
        await runEtcd();
        await runRaft();
      }
    }
    ec?.stop();
    rows.push(`| throughput (${clients} clients, 256 B values, ${seconds} s) | writes/s | p50 ms | p99 ms | errors | server CPU ms / 1000 writes | load generator CPU ms / 1000 writes |`, '|---|---|---|---|---|---|---|');
    const row = (name: string, m: Measured): string =>
      `| ${name} | ${(m.load.ops / m.load.seconds).toFixed(0)} | ${m.load.p50.toFixed(1)} | ${m.load.p99.toFixed(1)} | ${m.load.errors} | ${((m.serverCpuMs / m.load.ops) * 1000).toFixed(0)} | ${((m.clientCpuMs / m.load.ops) * 1000).toFixed(0)} |`;
    for (let i = 0; i < rounds; i++) {
      const r = raftRuns[i];
      const e = etcdRuns[i];
      if (r !== undefined) rows.push(row(`raft-ts, round ${i + 1}`, r));
      if (e !== undefined) rows.push(row(`etcd 3.4, round ${i + 1}`, e));
    }
    const r = median(raftRuns);
    const e = median(etcdRuns);
    if (rounds > 1 && r !== undefined) rows.push(row('raft-ts, median', r));
    if (rounds > 1 && e !== undefined) rows.push(row('etcd 3.4, median', e));
    if (r !== undefined && e !== undefined) {
      rows.push(`| ratio raft-ts / etcd (target: ≥ 1.00× writes/s, p99 ≤ 1.00×) | ${(r.load.ops / r.load.seconds / (e.load.ops / e.load.seconds)).toFixed(2)}× | p50 ${(r.load.p50 / e.load.p50).toFixed(2)}× | p99 ${(r.load.p99 / e.load.p99).toFixed(2)}× | | | |`);
    }

    if (writesPerSync.length > 0) rows.push('', `raft-ts leader: ${writesPerSync.map((w) => w.toFixed(1)).join(', ')} writes per fsync (per round)`);

    const times: number[] = [];
    for (let n = 0; n < failovers; n++) {
      leader = await raftLeader();
      kv.procs.get(leader)?.kill('SIGKILL');
      const t0 = performance.now();
      for (let done = false; !done; ) {
        for (const id of [1, 2, 3]) {
          if (id === leader) continue;
          if ((await request(HTTP_PORT + id, 'PUT', '/kv/failover', String(n), 1000)).status === 200) {
            done = true;
            break;
          }
        }
        if (!done) await sleep(5);
      }
      times.push(performance.now() - t0);
      await kv.start(leader);
      // Let the restarted member catch up before the next round.
      await sleep(300);
    }
    await kv.stop();
    times.sort((a, b) => a - b);
    if (times.length > 0) {
      rows.push('', `| failover (kill -9 the leader, ${times.length} times) | median ms | max ms |`, '|---|---|---|');
      rows.push(`| time to the first write committed by the new leader | ${(times[Math.floor(times.length / 2)] ?? NaN).toFixed(0)} | ${(times[times.length - 1] ?? NaN).toFixed(0)} |`);
    }
    if (entries > 0) {
      const rec = await recovery(root, entries);
      rows.push('', '| recovery | entries | time to ready ms |', '|---|---|---|');
      rows.push(`| open the WAL and rebuild the member (snapshot at half) | ${entries} | ${rec.readyMs.toFixed(0)} |`);
    }
    console.log(rows.join('\n'));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
    agent.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
