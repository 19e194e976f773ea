import type { Entry } from '../core/types.js';

/** A client operation as carried in a log entry. */
export interface KvOp {
  readonly client: number;
  readonly seq: number;
  readonly kind: 'put' | 'get' | 'cas';
  readonly key: string;
  readonly value: string;
  /** For cas: the expected current value ('' = absent). */
  readonly expect: string;
}

export interface KvResult {
  readonly ok: boolean;
  /** For get: the value read; for put/cas: the value before. */
  readonly value: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeOp(op: KvOp): Uint8Array {
  return enc.encode(JSON.stringify(op));
}

export function decodeOp(data: Uint8Array): KvOp | undefined {
  if (data.byteLength === 0) return undefined;
  try {
    const v = JSON.parse(dec.decode(data)) as unknown;
    return typeof v === 'object' && v !== null && 'client' in v ? (v as KvOp) : undefined;
  } catch {
    return undefined;
  }
}

function mix(h: number, x: number): number {
  h ^= x >>> 0;
  return Math.imul(h, 0x01000193) >>> 0;
}

/**
 * A small KV store, the replicated state machine of the simulation. It deduplicates retried
 * client operations by (client, seq) and keeps a running digest of everything applied, so two
 * members that applied different entries at one index are told apart cheaply.
 */
export class KvStateMachine {
  applied = 0;
  digest = 0x811c9dc5;
  readonly kv = new Map<string, string>();
  /** Last applied seq and its result per client (exactly-once for retries). */
  readonly sessions = new Map<number, { seq: number; result: KvResult }>();

  apply(e: Entry): KvResult | undefined {
    if (e.index !== this.applied + 1) throw new Error(`apply ${e.index} after ${this.applied}`);
    this.applied = e.index;
    let h = mix(this.digest, e.index);
    h = mix(h, e.term);
    for (const b of e.data) h = mix(h, b);
    if (e.kind === 'conf') h = mix(mix(h, e.change.node), e.change.type.length);
    this.digest = h;
    if (e.kind !== 'normal') return undefined;
    const op = decodeOp(e.data);
    if (op === undefined) return undefined;
    const session = this.sessions.get(op.client);
    if (session !== undefined && session.seq >= op.seq) return session.seq === op.seq ? session.result : undefined;
    const before = this.kv.get(op.key) ?? '';
    let result: KvResult;
    switch (op.kind) {
      case 'get':
        result = { ok: true, value: before };
        break;
      case 'put':
        this.kv.set(op.key, op.value);
        result = { ok: true, value: before };
        break;
      case 'cas':
        if (before === op.expect) {
          this.kv.set(op.key, op.value);
          result = { ok: true, value: before };
        } else result = { ok: false, value: before };
        break;
    }
    this.sessions.set(op.client, { seq: op.seq, result });
    return result;
  }

  serialize(): Uint8Array {
    return enc.encode(JSON.stringify({ applied: this.applied, digest: this.digest, kv: [...this.kv], sessions: [...this.sessions] }));
  }

  static restore(data: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (data.byteLength === 0) return sm;
    const v = JSON.parse(dec.decode(data)) as {
      applied: number;
      digest: number;
      kv: [string, string][];
      sessions: [number, { seq: number; result: KvResult }][];
    };
    sm.applied = v.applied;
    sm.digest = v.digest;
    for (const [k, x] of v.kv) sm.kv.set(k, x);
    for (const [c, s] of v.sessions) sm.sessions.set(c, s);
    return sm;
  }
}
