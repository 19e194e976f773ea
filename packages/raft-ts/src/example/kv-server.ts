// A small KV store on raft-ts, for the benchmark and for trying it by hand:
//   node dist/example/kv-server.js --id 1 --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//        --http 8001 --data /tmp/kv1 [--tick-ms 50] [--sync blocking|async] [--snapshot-every 20000]
// PUT /kv/<key> (body = value), GET /kv/<key> (linearizable), POST /cas/<key> ({"expect","value"}),
// GET /status. A member that is not the leader answers 421 with the leader's id.
import { setMaxListeners } from 'node:events';
import * as http from 'node:http';
import type { Entry, NodeId, Snapshot } from '../core/types.js';
import { bootstrap } from '../storage/bootstrap.js';
import { FileStorage } from '../storage/file.js';
import { RaftDriver, RaftError } from '../driver/driver.js';
import { TcpTransport, type Endpoint } from '../driver/tcp.js';

interface Op {
  readonly op: 'put' | 'cas';
  readonly key: string;
  readonly value: string;
  readonly expect?: string;
}

// An op as bytes: u8 kind (0 put, 1 cas) | u32 key bytes | key | u32 expect bytes | expect | value.
// One allocation and no JSON pass per write; keys and values are UTF-8 text.
const PUT = 0;
const CAS = 1;

export function encodeKvOp(op: Op): Buffer {
  const expect = op.expect ?? '';
  const size = 9 + Buffer.byteLength(op.key) + Buffer.byteLength(expect) + Buffer.byteLength(op.value);
  const b = Buffer.allocUnsafe(size);
  let o = b.writeUInt8(op.op === 'put' ? PUT : CAS, 0);
  const k = b.write(op.key, o + 4);
  o = b.writeUInt32LE(k, o) + k;
  const x = b.write(expect, o + 4);
  o = b.writeUInt32LE(x, o) + x;
  b.write(op.value, o);
  return b;
}

export function decodeKvOp(data: Uint8Array): Op {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < 9) throw new Error(`kv op of ${b.length} bytes is too short`);
  const kind = b.readUInt8(0);
  const k = b.readUInt32LE(1);
  const key = b.toString('utf8', 5, 5 + k);
  const x = b.readUInt32LE(5 + k);
  const expect = b.toString('utf8', 9 + k, 9 + k + x);
  const value = b.toString('utf8', 9 + k + x);
  if (kind === PUT) return { op: 'put', key, value };
  if (kind === CAS) return { op: 'cas', key, value, expect };
  throw new Error(`kv op of unknown kind ${kind}`);
}

/**
 * A timeout signal shared by every request started in the same second (a request then times out
 * after `ms` to `ms` + 1 s): one timer per second instead of one per request.
 */
function sharedTimeout(ms: number): () => AbortSignal {
  let signal: AbortSignal | undefined;
  let until = 0;
  return () => {
    const now = Date.now();
    if (signal === undefined || now >= until) {
      signal = AbortSignal.timeout(ms + 1000);
      // Every request of that second listens to it: that is the point, not a leak.
      setMaxListeners(0, signal);
      until = now + 1000;
    }
    return signal;
  };
}

class KvMachine {
  readonly kv = new Map<string, string>();
  readonly results = new Map<number, { ok: boolean; before: string }>();
  applied = 0;
  appliedTerm = 0;

  apply(e: Entry): void {
    this.applied = e.index;
    this.appliedTerm = e.term;
    if (e.kind !== 'normal' || e.data.byteLength === 0) return;
    const op = decodeKvOp(e.data);
    const before = this.kv.get(op.key) ?? '';
    const ok = op.op === 'put' || before === (op.expect ?? '');
    if (ok) this.kv.set(op.key, op.value);
    // Only a cas reports its outcome; a put's would be an allocation nobody reads.
    if (op.op === 'cas') {
      this.results.set(e.index, { ok, before });
      if (this.results.size > 100_000) this.results.clear();
    }
  }

  restore(s: Snapshot): void {
    this.kv.clear();
    const pairs = JSON.parse(Buffer.from(s.data).toString('utf8')) as [string, string][];
    for (const [k, v] of pairs) this.kv.set(k, v);
    this.applied = s.meta.index;
    this.appliedTerm = s.meta.term;
  }

  serialize(): Uint8Array {
    return Buffer.from(JSON.stringify([...this.kv]), 'utf8');
  }
}

export interface KvServerOptions {
  readonly id: NodeId;
  readonly peers: ReadonlyMap<NodeId, Endpoint>;
  readonly httpPort: number;
  readonly dataDir: string;
  readonly tickMs?: number;
  readonly snapshotEvery?: number;
  /** fsync on the event loop's thread (see FileStorageOptions.blockingSync): default false, as a disk shared with other work can take 5–25 ms per fsync. */
  readonly blockingSync?: boolean;
}

export async function startKvServer(o: KvServerOptions): Promise<{ close: () => Promise<void> }> {
  const { storage, report } = FileStorage.open(o.dataDir, { blockingSync: o.blockingSync ?? false });
  if (report.tornTail !== undefined) console.error(`kv ${o.id}: truncated a torn tail in ${report.tornTail.segment}`);
  if (storage.lastIndex() === 0 && storage.snapshot().meta.index === 0) bootstrap(storage, [...o.peers.keys()]);
  const self = o.peers.get(o.id);
  if (self === undefined) throw new Error(`--peers must include ${o.id}`);
  // Refused input is logged, at most one line per reason and second (a flood must not become one).
  const lastLogged = new Map<string, { at: number; unlogged: number }>();
  const logReject = (reason: string, detail: string): void => {
    const now = Date.now();
    const l = lastLogged.get(reason) ?? { at: 0, unlogged: 0 };
    lastLogged.set(reason, l);
    if (now - l.at < 1000) {
      l.unlogged++;
      return;
    }
    console.error(`kv ${o.id}: refused a message (${reason}): ${detail}${l.unlogged > 0 ? ` (and ${l.unlogged} more since the last line)` : ''}`);
    l.at = now;
    l.unlogged = 0;
  };
  const transport = new TcpTransport({ listen: self, peers: o.peers, onReject: logReject });
  await transport.start();
  const sm = new KvMachine();
  const driver = new RaftDriver({ id: o.id, storage, transport, stateMachine: sm, tickMs: o.tickMs ?? 50, electionTick: 10, disableProposalForwarding: true, onReject: logReject });
  driver.start();
  const every = o.snapshotEvery ?? 20_000;
  const maybeSnapshot = (): void => {
    if (sm.applied - storage.snapshot().meta.index < every) return;
    // Entries are applied once committed, possibly before this member wrote them: a snapshot
    // at `applied` waits until the storage holds that very entry.
    if (storage.term(sm.applied) !== sm.appliedTerm) return;
    storage.createSnapshot(sm.applied, driver.confStateAt(sm.applied), sm.serialize());
    storage.compact(Math.max(storage.snapshot().meta.index - 1000, storage.firstIndex() - 1));
  };
  // Every member, not only the leader, snapshots and compacts: a follower whose log only grows
  // pays for it in ever longer garbage collections, which the leader sees as slow acks. Off the
  // request path, once a second.
  const snapshotTimer = setInterval(maybeSnapshot, 1000);

  const timeout = sharedTimeout(5000);
  const reply = (res: http.ServerResponse, code: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const fail = (res: http.ServerResponse, err: unknown): void => {
    if (err instanceof RaftError) reply(res, err.code === 'notLeader' || err.code === 'noLeader' ? 421 : 503, { error: err.code, leader: err.leader });
    else reply(res, 500, { error: String(err) });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '/';
      const key = decodeURIComponent(url.split('/')[2] ?? '');
      const run = async (): Promise<void> => {
        if (url === '/status') return reply(res, 200, { ...driver.status(), walSyncs: storage.syncs });
        if (url.startsWith('/kv/') && req.method === 'PUT') {
          const r = await driver.propose(encodeKvOp({ op: 'put', key, value: body }), timeout());
          return reply(res, 200, { index: r.index });
        }
        if (url.startsWith('/kv/') && req.method === 'GET') {
          await driver.linearizableRead(timeout());
          return reply(res, 200, { value: sm.kv.get(key) ?? null });
        }
        if (url.startsWith('/cas/') && req.method === 'POST') {
          const { expect, value } = JSON.parse(body) as { expect: string; value: string };
          const r = await driver.propose(encodeKvOp({ op: 'cas', key, value, expect }), timeout());
          return reply(res, 200, { index: r.index, ...sm.results.get(r.index) });
        }
        reply(res, 404, { error: 'not found' });
      };
      run().catch((err: unknown) => fail(res, err));
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(o.httpPort, '127.0.0.1', resolve));
  return {
    close: async () => {
      clearInterval(snapshotTimer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await driver.stop();
      await transport.close();
      storage.close();
    },
  };
}

function parsePeers(s: string): Map<NodeId, Endpoint> {
  const out = new Map<NodeId, Endpoint>();
  for (const part of s.split(',')) {
    const [id, addr] = part.split('=');
    const [host, port] = (addr ?? '').split(':');
    out.set(Number(id), { host: host ?? '127.0.0.1', port: Number(port) });
  }
  return out;
}

if (process.argv[1]?.endsWith('kv-server.js') === true) {
  const arg = (n: string): string | undefined => {
    const i = process.argv.indexOf(`--${n}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  startKvServer({
    id: Number(arg('id')),
    peers: parsePeers(arg('peers') ?? ''),
    httpPort: Number(arg('http')),
    dataDir: arg('data') ?? '.',
    tickMs: arg('tick-ms') === undefined ? undefined : Number(arg('tick-ms')),
    blockingSync: arg('sync') === 'blocking',
    snapshotEvery: arg('snapshot-every') === undefined ? undefined : Number(arg('snapshot-every')),
  })
    .then((srv) => {
      console.log('ready');
      process.once('SIGTERM', () => void srv.close().then(() => process.exit(0)));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
