// The raft-ts benchmark (issue 3, "Figures"): prints a table, no assertions.
//   node dist/example/bench.js [--seconds 20] [--clients 64] [--failovers 20] [--entries 1000000] [--skip-etcd]
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

const value = 'v'.repeat(256);
const key = (i: number): string => `k${i % 1000}`;

// ---------------------------------------------------------------- raft-ts KV

interface KvCluster {
  readonly procs: Map<number, ChildProcess>;
  readonly start: (id: number) => Promise<void>;
  readonly stop: () => Promise<void>;
}

async function raftKv(root: string): Promise<KvCluster> {
  const script = join(fileURLToPath(new URL('.', import.meta.url)), 'kv-server.js');
  const peers = [1, 2, 3].map((i) => `${i}=127.0.0.1:${27000 + i}`).join(',');
  const procs = new Map<number, ChildProcess>();
  const start = async (id: number): Promise<void> => {
    const p = spawn(process.execPath, [script, '--id', String(id), '--peers', peers, '--http', String(28000 + id), '--data', join(root, `kv${id}`)], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.set(id, p);
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
      for (const p of procs.values()) p.kill('SIGKILL');
      await sleep(100);
    },
  };
}

async function raftLeader(except = 0): Promise<number> {
  for (;;) {
    for (const id of [1, 2, 3]) {
      if (id === except) continue;
      const r = await request(28000 + id, 'GET', '/status', '', 500);
      if (r.status === 200 && (JSON.parse(r.body) as { role: string }).role === 'leader') return id;
    }
    await sleep(20);
  }
}

// ---------------------------------------------------------------- etcd

async function etcd(root: string): Promise<{ leaderPort: number; stop: () => void }> {
  const cluster = [1, 2, 3].map((i) => `e${i}=http://127.0.0.1:${23800 + i}`).join(',');
  const procs = [1, 2, 3].map((i) =>
    spawn('etcd', [
      '--name', `e${i}`, '--data-dir', join(root, `etcd${i}`),
      '--listen-client-urls', `http://127.0.0.1:${23790 + i}`, '--advertise-client-urls', `http://127.0.0.1:${23790 + i}`,
      '--listen-peer-urls', `http://127.0.0.1:${23800 + i}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${23800 + i}`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--log-level', 'error',
    ], { stdio: 'ignore' }),
  );
  for (;;) {
    for (const i of [1, 2, 3]) {
      const r = await request(23790 + i, 'POST', '/v3/maintenance/status', '{}', 500);
      if (r.status !== 200) continue;
      const s = JSON.parse(r.body) as { leader?: string; header?: { member_id?: string } };
      if (s.leader !== undefined && s.leader === s.header?.member_id) {
        return { leaderPort: 23790 + i, stop: () => procs.forEach((p) => p.kill('SIGKILL')) };
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

async function main(): Promise<void> {
  const seconds = arg('seconds', 20);
  const clients = arg('clients', 64);
  const failovers = arg('failovers', 20);
  const entries = arg('entries', 1_000_000);
  const root = fs.mkdtempSync(join(tmpdir(), 'raft-bench-'));
  const rows: string[] = [];
  try {
    const kv = await raftKv(root);
    let leader = await raftLeader();
    const r = await load(clients, seconds, async (i) => (await request(28000 + leader, 'PUT', `/kv/${key(i)}`, value)).status === 200);
    let e: Load | undefined;
    if (!flag('skip-etcd')) {
      const ec = await etcd(root);
      const b64 = (s: string): string => Buffer.from(s).toString('base64');
      e = await load(clients, seconds, async (i) => (await request(ec.leaderPort, 'POST', '/v3/kv/put', JSON.stringify({ key: b64(key(i)), value: b64(value) }))).status === 200);
      ec.stop();
    }
    rows.push(`| throughput (${clients} clients, 256 B, ${seconds} s) | writes/s | p50 ms | p99 ms | errors |`, '|---|---|---|---|---|');
    rows.push(`| raft-ts | ${(r.ops / r.seconds).toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} |`);
    if (e !== undefined) {
      rows.push(`| etcd 3.4 | ${(e.ops / e.seconds).toFixed(0)} | ${e.p50.toFixed(1)} | ${e.p99.toFixed(1)} | ${e.errors} |`);
      rows.push(`| ratio raft-ts / etcd | ${(r.ops / r.seconds / (e.ops / e.seconds)).toFixed(2)}× | | p99 ${(r.p99 / e.p99).toFixed(2)}× | |`);
    }

    const times: number[] = [];
    for (let n = 0; n < failovers; n++) {
      leader = await raftLeader();
      kv.procs.get(leader)?.kill('SIGKILL');
      const t0 = performance.now();
      for (let done = false; !done; ) {
        for (const id of [1, 2, 3]) {
          if (id === leader) continue;
          if ((await request(28000 + id, 'PUT', '/kv/failover', String(n), 1000)).status === 200) {
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
