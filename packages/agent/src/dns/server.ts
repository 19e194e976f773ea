import { fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, connect, type Server, type Socket as TcpSocket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import type { AnswerSet, DnsClient, DnsTable, NameRecord } from './table.js';

export interface Upstream {
  address: string;
  port?: number;
}

export interface DnsServerOptions {
  table: DnsTable;
  /** Where to listen: on a host, the address containers use as their nameserver. */
  address: string;
  /** 53 on a host; 0 picks a free port (tests). */
  port?: number;
  /** The host's own resolvers, for every name that is not the cluster's. */
  upstreams: readonly Upstream[];
  /** Per upstream try. */
  upstreamTimeoutMs?: number;
  onError?: (err: unknown) => void;
  /**
   * Other processes answering UDP from the same socket, so that more than one core answers:
   * `script` is forked with SHOAL_DNS_WORKER=1 in its environment and must then call
   * serveDnsWorker (the agent's own entry does). Each gets every table change. TCP stays here.
   * Each process rotates answers on its own, so the workers read the socket only while this
   * process answers `busyQps` queries/s or more (default 15,000; 0: always): a client asking
   * one query after another still sees strict round-robin, a flood is spread over the cores.
   * One process alone answers 25–30k queries/s here; two readers on one socket cost latency
   * at moderate rates (p99 at 5k q/s: 1.4 ms with the worker reading, 0.5 ms without).
   */
  workers?: { count: number; script: string; busyQps?: number };
}

/** Set in a worker's environment: the forked script serves DNS instead of being itself. */
export const DNS_WORKER_ENV = 'SHOAL_DNS_WORKER';

/** Parent → worker. */
export type WorkerRequest =
  | { kind: 'table'; version: number; records: readonly NameRecord[]; clients: readonly DnsClient[] }
  | { kind: 'init'; address: string; upstreams: readonly Upstream[]; upstreamTimeoutMs: number }
  /** comes with the socket's handle: read it too */
  | { kind: 'socket' }
  /** stop reading the socket (this process answers alone again) */
  | { kind: 'release' }
  | { kind: 'count' };
/** Worker → parent. */
export type WorkerReply = { kind: 'applied'; version: number } | { kind: 'ready' } | { kind: 'count'; answered: number };

interface Worker {
  child: ChildProcess;
  applied: number;
  /** Answered once: only a worker that did is replaced when it exits, or a broken one would loop. */
  ready: boolean;
  /** Whether it was handed the socket (and not told to release it since). */
  reading: boolean;
}

/** How often the resolver looks at its own rate to decide whether the workers read too. */
const LOAD_TICK_MS = 250;
/** Quiet ticks (under a quarter of busyQps) before the workers stop reading: 2 s. */
const QUIET_TICKS = 8;

/** Response codes travel in the low four bits of the flags word. */
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;
type Rcode = keyof typeof RCODES;

/** Plain DNS over UDP caps an answer at 512 bytes unless the client's EDNS says more. */
const CLASSIC_UDP_LIMIT = 512;
/** A name pointer, type, class, TTL, length and four address bytes. */
const A_RECORD_BYTES = 16;

function udpLimit(query: Packet): number {
  const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
  return Math.max(CLASSIC_UDP_LIMIT, Math.min(opt?.udpPayloadSize ?? CLASSIC_UDP_LIMIT, 4096));
}

/** What the fast path reads of a query: one question, and the client's EDNS buffer size. */
interface PlainQuery {
  name: string;
  type: number;
  /** Where the question ends: the reply repeats the query up to here. */
  end: number;
  udpSize: number;
}

/**
 * Reads a query with one question, no compression and at most an EDNS OPT record: what every
 * resolver library sends. Anything else is left to dns-packet (undefined).
 */
export function readQuery(msg: Buffer): PlainQuery | undefined {
  if (msg.length < 17) return undefined;
  const flags = msg.readUInt16BE(2);
  // a query (QR 0), opcode QUERY, one question, no answers or authority, at most one additional
  if ((flags & 0xf800) !== 0 || msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) !== 0) return undefined;
  const additional = msg.readUInt16BE(10);
  if (additional > 1) return undefined;
  let at = 12;
  const labels: string[] = [];
  for (;;) {
    const len = msg[at];
    if (len === undefined || len > 63) return undefined; // a pointer or garbage
    at++;
    if (len === 0) break;
    if (at + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', at, at + len).toLowerCase());
    at += len;
  }
  if (at + 4 > msg.length || msg.readUInt16BE(at + 2) !== 1) return undefined; // class IN only
  const type = msg.readUInt16BE(at);
  const end = at + 4;
  let udpSize = CLASSIC_UDP_LIMIT;
  if (additional === 1) {
    // OPT: root name, type 41, the class field holds the payload size
    if (end + 11 > msg.length || msg[end] !== 0 || msg.readUInt16BE(end + 1) !== 41) return undefined;
    udpSize = Math.max(CLASSIC_UDP_LIMIT, Math.min(msg.readUInt16BE(end + 3), 4096));
  }
  return { name: labels.join('.'), type, end, udpSize };
}

/**
 * Where the question of a plain query ends (as readQuery would read it), or -1: a scan that
 * allocates nothing, for the answers kept per client.
 */
function questionEnd(msg: Buffer): number {
  if (msg.length < 17) return -1;
  // a query, opcode QUERY, one question, no answers or authority, at most one additional
  if ((msg[2]! & 0xf8) !== 0 || msg[4] !== 0 || msg[5] !== 1 || msg[6] !== 0 || msg[7] !== 0 || msg[8] !== 0 || msg[9] !== 0 || msg[10] !== 0) return -1;
  const additional = msg[11]!;
  if (additional > 1) return -1;
  let at = 12;
  for (;;) {
    const len = msg[at];
    if (len === undefined || len > 63) return -1;
    at += len + 1;
    if (len === 0) break;
  }
  if (at + 4 > msg.length || msg[at + 2] !== 0 || msg[at + 3] !== 1) return -1;
  const end = at + 4;
  if (additional === 1 && (end + 11 > msg.length || msg[end] !== 0 || msg[end + 1] !== 0 || msg[end + 2] !== 41)) return -1;
  return end;
}

/** The A records of one rotation of a set, as they follow the question in a reply. */
function answerRecords(addresses: readonly string[]): Buffer {
  const out = Buffer.alloc(addresses.length * A_RECORD_BYTES);
  let at = 0;
  for (const address of addresses) {
    out.writeUInt16BE(0xc00c, at); // the question's name, at offset 12
    out.writeUInt16BE(1, at + 2); // A
    out.writeUInt16BE(1, at + 4); // IN
    out.writeUInt32BE(0, at + 6); // TTL 0: never cached, so a change is seen at once
    out.writeUInt16BE(4, at + 10);
    const octets = address.split('.');
    for (let i = 0; i < 4; i++) out[at + 12 + i] = Number(octets[i]);
    at += A_RECORD_BYTES;
  }
  return out;
}

/**
 * A question answered before, for one client: the answer set (whose rotation it moves) and
 * every rotation's records made once, so a reply is the query's own header and question with
 * the flags set and those records behind. Only replies that fit a classic 512-byte message
 * are kept this way; larger ones take the general path (truncation, EDNS, TCP).
 */
interface Kept {
  set: AnswerSet | undefined;
  rcode: number;
  /** Per rotation start; one entry when the answer does not rotate. */
  records: Buffer[];
  count: number;
}

/** The reply to a plain query: its header and question, flags set, then the answers. */
function writeReply(msg: Buffer, q: PlainQuery, rcode: number, addresses: readonly string[], transport: 'udp' | 'tcp'): Buffer {
  const head = Buffer.from(msg.subarray(0, q.end));
  const rd = head.readUInt16BE(2) & dnsPacket.RECURSION_DESIRED;
  head.writeUInt16BE(0x8000 | dnsPacket.AUTHORITATIVE_ANSWER | rd | dnsPacket.RECURSION_AVAILABLE | rcode, 2);
  head.writeUInt16BE(0, 10); // the OPT record is not echoed
  return withAnswers(head, addresses, transport === 'tcp' ? Infinity : q.udpSize);
}

/**
 * A answers are written by hand so that each names the question by a pointer (0xC00C) instead
 * of repeating it: 16 bytes each, so a classic 512-byte reply holds 30 of them whatever the
 * name's length. A reply too large for a UDP client carries as many as fit, with TC set:
 * dig asks again over TCP and gets all, while a client that never uses TCP (busybox's
 * nslookup reads 512 bytes and ignores TC) still gets a full reply, and thanks to the
 * rotation a different part of the set on each query.
 */
function withAnswers(head: Buffer, addresses: readonly string[], limit: number): Buffer {
  const room = Math.floor((limit - head.length) / A_RECORD_BYTES);
  const count = Math.max(0, Math.min(addresses.length, room));
  const out = Buffer.alloc(head.length + count * A_RECORD_BYTES);
  head.copy(out);
  if (count < addresses.length) out.writeUInt16BE(out.readUInt16BE(2) | dnsPacket.TRUNCATED_RESPONSE, 2);
  out.writeUInt16BE(count, 6);
  let at = head.length;
  for (const address of addresses.slice(0, count)) {
    out.writeUInt16BE(0xc00c, at); // the question's name, at offset 12
    out.writeUInt16BE(1, at + 2); // A
    out.writeUInt16BE(1, at + 4); // IN
    out.writeUInt32BE(0, at + 6); // TTL 0: never cached, so a change is seen at once
    out.writeUInt16BE(4, at + 10);
    let octet = 0;
    let i = 0;
    for (let c = 0; c <= address.length; c++) {
      const ch = address.charCodeAt(c);
      if (c === address.length || ch === 46) {
        out[at + 12 + i++] = octet;
        octet = 0;
      } else octet = octet * 10 + (ch - 48);
    }
    at += A_RECORD_BYTES;
  }
  return out;
}

/**
 * The host's resolver. Cluster names come from the DnsTable, scoped to the asking container's
 * networks and rotated on every query (TTL 0, so a change is seen at once and a removed task is
 * never answered from a cache); anything else goes to the upstreams unchanged.
 */
export class DnsServer {
  #udp: Socket | undefined;
  #tcp: Server | undefined;
  #port = 0;
  readonly #timeout: number;
  /** client address → question (wire name, lowercased, and type) → how to answer it */
  readonly #kept = new Map<string, Map<string, Kept>>();
  #keptVersion = -1;
  /** UDP queries this process answered, for a look at how the work is shared. */
  #answered = 0;
  #workers: Worker[] = [];
  /** Table changes sent to the workers; each acknowledges the ones it applied. */
  #sent = 0;
  #syncWaiters: (() => void)[] = [];
  #unsubscribe: (() => void) | undefined;
  #stopping = false;
  /** Whether the workers read the socket now. */
  #sharing = false;
  #loadTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DnsServerOptions) {
    this.#timeout = options.upstreamTimeoutMs ?? 2000;
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const udp = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.options.port ?? 53, this.options.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.#udp = udp;
    this.#port = udp.address().port;
    this.adopt(udp);
    const tcp = createServer((sock) => this.serveTcp(sock));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.#port, this.options.address, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.options.onError?.(err));
    this.#tcp = tcp;

    const workers = this.options.workers;
    if (workers && workers.count > 0) {
      this.#unsubscribe = this.options.table.onReplace((records, clients) => this.sendTable(records, clients));
      const busy = workers.busyQps ?? 15_000;
      this.#sharing = busy <= 0;
      await Promise.all(Array.from({ length: workers.count }, () => this.startWorker(workers.script)));
      if (busy > 0) this.watchLoad(busy);
    }
  }

  /** Hands the socket to the workers while this process is busy, and takes it back when it is not. */
  private watchLoad(busyQps: number): void {
    let last = this.#answered;
    let quiet = 0;
    this.#loadTimer = setInterval(() => {
      const rate = ((this.#answered - last) * 1000) / LOAD_TICK_MS;
      last = this.#answered;
      if (!this.#sharing) {
        if (rate >= busyQps) this.share(true);
        return;
      }
      // sharing, this process sees only its part of the flood: stop when even that is small
      quiet = rate < busyQps / 4 ? quiet + 1 : 0;
      if (quiet >= QUIET_TICKS) {
        quiet = 0;
        this.share(false);
      }
    }, LOAD_TICK_MS);
    this.#loadTimer.unref();
  }

  private share(on: boolean): void {
    this.#sharing = on;
    for (const w of this.#workers) this.handTo(w);
  }

  /** Gives a worker the socket, or takes it back, as #sharing says. */
  private handTo(w: Worker): void {
    const udp = this.#udp;
    if (!udp || !w.ready || !w.child.connected || w.reading === this.#sharing) return;
    w.reading = this.#sharing;
    if (this.#sharing) w.child.send({ kind: 'socket' } satisfies WorkerRequest, udp);
    else w.child.send({ kind: 'release' } satisfies WorkerRequest);
  }

  /** Whether the workers read the socket now (see DnsServerOptions.workers). */
  get sharing(): boolean {
    return this.#sharing;
  }

  /** Answers UDP queries arriving on a bound socket: this server's own, or one a worker was handed. */
  adopt(udp: Socket): void {
    udp.on('error', (err) => this.options.onError?.(err));
    udp.on('message', (msg, rinfo) => {
      this.#answered++;
      // cluster names are answered at once, without a promise per query
      const quick = this.answerKept(msg, rinfo.address) ?? this.answerPlain(msg, rinfo.address, 'udp');
      if (quick) {
        udp.send(quick, rinfo.port, rinfo.address);
        return;
      }
      this.answerDecoded(msg, rinfo.address, 'udp')
        .then((reply) => {
          if (reply) udp.send(reply, rinfo.port, rinfo.address);
        })
        .catch((err: unknown) => this.options.onError?.(err));
    });
  }

  /** UDP queries this process answered. */
  get answered(): number {
    return this.#answered;
  }

  /** UDP queries answered so far: by this process, then by each worker. */
  async answeredBy(): Promise<number[]> {
    const counts = await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(NaN), 5000);
            const onMessage = (m: WorkerReply): void => {
              if (m.kind !== 'count') return;
              clearTimeout(timer);
              w.child.off('message', onMessage);
              resolve(m.answered);
            };
            w.child.on('message', onMessage);
            w.child.send({ kind: 'count' } satisfies WorkerRequest);
          }),
      ),
    );
    return [this.#answered, ...counts];
  }

  /** This process's pid, then each live worker's. */
  workerPids(): number[] {
    return [process.pid, ...this.#workers.map((w) => w.child.pid ?? 0)];
  }

  /** Resolves once every worker answers from the table as it is now. */
  synced(): Promise<void> {
    if (this.#workers.every((w) => w.applied >= this.#sent)) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  private sendTable(records: readonly NameRecord[], clients: readonly DnsClient[]): void {
    const msg: WorkerRequest = { kind: 'table', version: ++this.#sent, records, clients };
    for (const w of this.#workers) if (w.child.connected) w.child.send(msg);
  }

  private checkSynced(): void {
    if (!this.#workers.every((w) => w.applied >= this.#sent)) return;
    for (const resolve of this.#syncWaiters.splice(0)) resolve();
  }

  /**
   * Forks one worker, gives it the table and then the socket, and waits until it answers. A
   * worker that exits is replaced after a second; until then this process answers alone.
   */
  private async startWorker(script: string): Promise<void> {
    const udp = this.#udp;
    if (!udp || this.#stopping) return;
    const child = fork(script, [], { env: { ...process.env, [DNS_WORKER_ENV]: '1' }, execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const worker: Worker = { child, applied: 0, ready: false, reading: false };
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a DNS worker did not start within 10 s')), 10_000);
      child.on('message', (m: WorkerReply) => {
        if (m.kind === 'ready') {
          clearTimeout(timer);
          worker.ready = true;
          resolve();
        } else if (m.kind === 'applied') {
          worker.applied = Math.max(worker.applied, m.version);
          this.checkSynced();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`a DNS worker exited with code ${code ?? 'null'}`));
      });
    });
    child.on('exit', () => {
      this.#workers = this.#workers.filter((w) => w !== worker);
      this.checkSynced();
      if (this.#stopping || !worker.ready) return;
      this.options.onError?.(new Error('a DNS worker exited; starting another in 1 s'));
      setTimeout(() => void this.startWorker(script).catch((err: unknown) => this.options.onError?.(err)), 1000).unref();
    });
    child.on('error', (err) => this.options.onError?.(err));
    const { records, clients } = this.options.table.contents();
    // the table before the socket (handTo, once ready): its first answer is current
    child.send({ kind: 'init', address: this.options.address, upstreams: this.options.upstreams, upstreamTimeoutMs: this.#timeout } satisfies WorkerRequest);
    child.send({ kind: 'table', version: this.#sent, records, clients } satisfies WorkerRequest);
    this.#workers.push(worker);
    try {
      await ready;
      this.handTo(worker);
    } catch (err) {
      child.kill();
      this.options.onError?.(err);
    }
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#loadTimer);
    this.#unsubscribe?.();
    const workers = this.#workers;
    this.#workers = [];
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
            w.child.once('exit', () => resolve());
            w.child.kill();
          }),
      ),
    );
    for (const resolve of this.#syncWaiters.splice(0)) resolve();
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }

  private serveTcp(sock: TcpSocket): void {
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.answer(msg, sock.remoteAddress?.replace(/^::ffff:/, '') ?? '', 'tcp')
          .then((reply) => {
            if (!reply || sock.destroyed) return;
            const head = Buffer.alloc(2);
            head.writeUInt16BE(reply.length);
            sock.write(Buffer.concat([head, reply]));
          })
          .catch((err: unknown) => this.options.onError?.(err));
      }
    });
  }

  /** One query in, one reply out (or none for a message that is not a query). */
  async answer(msg: Buffer, client: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    return this.answerKept(msg, client) ?? this.answerPlain(msg, client, transport) ?? this.answerDecoded(msg, client, transport);
  }

  /**
   * The hot path: a question this client asked before, answered from what was kept for it,
   * with no decoding and no table lookup. Everything kept goes when the table changes.
   */
  private answerKept(msg: Buffer, client: string): Buffer | undefined {
    const table = this.options.table;
    if (this.#keptVersion !== table.version) {
      this.#kept.clear();
      this.#keptVersion = table.version;
    }
    const end = questionEnd(msg);
    if (end < 0) return undefined;
    let mine = this.#kept.get(client);
    if (!mine) {
      if (this.#kept.size > 65_536) this.#kept.clear(); // clients come and go; keep this bounded
      this.#kept.set(client, (mine = new Map<string, Kept>()));
    }
    const key = msg.toString('latin1', 12, end).toLowerCase();
    let kept = mine.get(key);
    if (!kept) {
      kept = this.keep(msg, end, client);
      if (!kept) return undefined;
      if (mine.size >= 4096) mine.clear(); // a client asking ever new names must not grow it for good
      mine.set(key, kept);
    }
    let records = kept.records[0]!;
    if (kept.set && kept.records.length > 1) {
      const start = kept.set.turn % kept.records.length;
      kept.set.turn = start + 1;
      records = kept.records[start]!;
    }
    const out = Buffer.allocUnsafe(end + records.length);
    msg.copy(out, 0, 0, end);
    out[2] = 0x84 | (msg[2]! & 0x01); // QR, AA, the client's RD
    out[3] = 0x80 | kept.rcode; // RA
    out.writeUInt16BE(kept.count, 6);
    out.writeUInt32BE(0, 8); // no authority; the OPT record is not echoed
    records.copy(out, end);
    return out;
  }

  /** How to answer this question for this client from now on, if it can be kept. */
  private keep(msg: Buffer, end: number, client: string): Kept | undefined {
    const q = readQuery(msg);
    if (!q || q.end !== end) return undefined;
    const found = this.options.table.resolve(client, q.name);
    if (found === 'forward') return undefined;
    // (lowercasing the key may fold two non-A types into one: both get the same empty answer)
    if (found === 'nxdomain') return { set: undefined, rcode: RCODES.NXDOMAIN, records: [Buffer.alloc(0)], count: 0 };
    // a known name has only A records: other types get an empty NOERROR
    if (q.type !== 1) return { set: undefined, rcode: RCODES.NOERROR, records: [Buffer.alloc(0)], count: 0 };
    const all = found.addresses;
    if (end + all.length * A_RECORD_BYTES > CLASSIC_UDP_LIMIT) return undefined;
    const records = all.map((_, start) => answerRecords([...all.slice(start), ...all.slice(0, start)]));
    return { set: found, rcode: RCODES.NOERROR, records, count: all.length };
  }

  /** The common case — one plain question for a cluster name — read and written by hand. */
  private answerPlain(msg: Buffer, client: string, transport: 'udp' | 'tcp'): Buffer | undefined {
    const q = readQuery(msg);
    if (!q) return undefined;
    const found = this.options.table.lookup(client, q.name, q.type === 1 ? 'A' : String(q.type));
    if (found.kind === 'nxdomain') return writeReply(msg, q, RCODES.NXDOMAIN, [], transport);
    if (found.kind === 'answer') return writeReply(msg, q, RCODES.NOERROR, q.type === 1 ? found.addresses : [], transport);
    return undefined;
  }

  private async answerDecoded(msg: Buffer, client: string, transport: 'udp' | 'tcp'): Promise<Buffer | undefined> {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return undefined; // not DNS: nothing to answer, nothing to crash on
    }
    if (query.type !== 'query') return undefined;
    const q = query.questions?.[0];
    if (!q) return this.reply(query, 'FORMERR', [], transport);
    const found = this.options.table.lookup(client, q.name, q.type);
    if (found.kind === 'forward') return this.forward(msg, query, transport);
    if (found.kind === 'nxdomain') return this.reply(query, 'NXDOMAIN', [], transport);
    // a known name has only A records: other types get an empty NOERROR, not NXDOMAIN
    return this.reply(query, 'NOERROR', q.type === 'A' ? found.addresses : [], transport);
  }

  /** The reply to a query dns-packet decoded (see withAnswers). */
  private reply(query: Packet, rcode: Rcode, addresses: readonly string[], transport: 'udp' | 'tcp'): Buffer {
    const head = dnsPacket.encode({
      type: 'response',
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | RCODES[rcode],
      questions: query.questions ?? [],
    });
    return withAnswers(head, addresses, transport === 'tcp' ? Infinity : udpLimit(query));
  }

  private async forward(msg: Buffer, query: Packet, transport: 'udp' | 'tcp'): Promise<Buffer> {
    for (const up of this.options.upstreams) {
      try {
        return transport === 'tcp' ? await this.askTcp(msg, up) : await this.askUdp(msg, up);
      } catch {
        // try the next upstream
      }
    }
    return this.reply(query, 'SERVFAIL', [], transport);
  }

  private askUdp(msg: Buffer, up: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = createSocket('udp4');
      const timer = setTimeout(() => {
        sock.close();
        reject(new Error('upstream timed out'));
      }, this.#timeout);
      sock.on('error', (err) => {
        clearTimeout(timer);
        sock.close();
        reject(err);
      });
      sock.on('message', (reply) => {
        clearTimeout(timer);
        sock.close();
        resolve(reply);
      });
      sock.send(msg, up.port ?? 53, up.address);
    });
  }

  private askTcp(msg: Buffer, up: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: up.address, port: up.port ?? 53 });
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => sock.destroy(new Error('upstream timed out')), this.#timeout);
      sock.on('connect', () => {
        const head = Buffer.alloc(2);
        head.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([head, msg]));
      });
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer);
          sock.end();
          resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }
}
