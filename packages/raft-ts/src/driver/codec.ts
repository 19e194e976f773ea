import type { Entry, Message } from '../core/types.js';

/**
 * Messages as JSON text with byte fields in base64, for transports that carry text or bytes
 * (NATS, TCP). Decoding checks only that the text is JSON; the core's validator judges the rest
 * and counts what it rejects, so a transport never needs to trust its peers.
 */

interface WireEntry {
  k: 'n' | 'c';
  t: number;
  i: number;
  d: string;
  ct?: string;
  cn?: number;
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
const bytes = (s: unknown): Uint8Array | undefined => (typeof s === 'string' ? new Uint8Array(Buffer.from(s, 'base64')) : undefined);

function wireEntry(e: Entry): WireEntry {
  return e.kind === 'conf'
    ? { k: 'c', t: e.term, i: e.index, d: b64(e.data), ct: e.change.type, cn: e.change.node }
    : { k: 'n', t: e.term, i: e.index, d: b64(e.data) };
}

export function encodeMessage(m: Message): string {
  return JSON.stringify({
    ...m,
    entries: m.entries.map(wireEntry),
    snapshot: m.snapshot === undefined ? undefined : { meta: m.snapshot.meta, offset: m.snapshot.offset, data: b64(m.snapshot.data) },
  });
}

/** Returns the decoded message (possibly malformed: step() will reject it), or undefined if not JSON. */
export function decodeMessage(text: string): unknown {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return raw;
  const r = raw as Record<string, unknown>;
  const entries = Array.isArray(r['entries'])
    ? (r['entries'] as unknown[]).map((w) => {
        if (typeof w !== 'object' || w === null) return w;
        const e = w as Partial<WireEntry>;
        const base = { term: e.t, index: e.i, data: bytes(e.d) };
        return e.k === 'c' ? { kind: 'conf', ...base, change: { type: e.ct, node: e.cn } } : { kind: e.k === 'n' ? 'normal' : e.k, ...base };
      })
    : r['entries'];
  const s = r['snapshot'] as Record<string, unknown> | undefined;
  const snapshot = typeof s === 'object' && s !== null ? { meta: s['meta'], offset: s['offset'], data: bytes(s['data']) } : undefined;
  return { ...r, entries, snapshot };
}
