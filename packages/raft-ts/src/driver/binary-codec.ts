import type { ConfChangeType, Entry, Message, MessageType, SnapshotChunk } from '../core/types.js';

/**
 * Messages as bytes, for transports that carry bytes (TCP). JSON with base64 entries cost the
 * leader a text encode, a base64 pass and a parse per message; this writes each field once.
 *
 * Layout (little endian; numbers are f64 so that every safe integer survives):
 *   u8 version (1) | u8 type | u8 flags (1 = reject, 2 = snapshot chunk follows)
 *   f64 from, to, term, logTerm, index, commit, rejectHint
 *   u32 context bytes | context (UTF-8)
 *   u32 entry count | per entry: u8 kind (0 normal, 1 conf) f64 term f64 index
 *                                [conf: u8 change type, f64 node] u32 data bytes | data
 *   [chunk: f64 index term size checksum, u32 voters | f64 each, u32 learners | f64 each,
 *           f64 offset, u32 data bytes | data]
 * Decoding checks only that the bytes hold such a message; the core's validator judges the rest.
 */

const VERSION = 1;
const TYPES: readonly MessageType[] = [
  'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp',
  'snap', 'snapResp', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow',
];
const TYPE_CODE = new Map<MessageType, number>(TYPES.map((t, i) => [t, i]));
const CC_TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];
const HEADER = 3 + 7 * 8 + 4 + 4;

/** The encoded size of `m`, so that a batch of messages can be written into one buffer. */
export function binarySize(m: Message): number {
  let n = HEADER + Buffer.byteLength(m.context, 'utf8');
  for (const e of m.entries) n += (e.kind === 'conf' ? 1 + 16 + 9 : 1 + 16) + 4 + e.data.byteLength;
  const s = m.snapshot;
  if (s !== undefined) n += 32 + 4 + 8 * s.meta.conf.voters.length + 4 + 8 * s.meta.conf.learners.length + 8 + 4 + s.data.byteLength;
  return n;
}

/** Writes `m` into `out` at `off`; returns the offset after it. `out` must hold binarySize(m) bytes. */
export function writeBinary(m: Message, out: Buffer, off: number): number {
  let o = out.writeUInt8(VERSION, off);
  o = out.writeUInt8(TYPE_CODE.get(m.type) ?? 255, o);
  o = out.writeUInt8((m.reject ? 1 : 0) | (m.snapshot !== undefined ? 2 : 0), o);
  o = out.writeDoubleLE(m.from, o);
  o = out.writeDoubleLE(m.to, o);
  o = out.writeDoubleLE(m.term, o);
  o = out.writeDoubleLE(m.logTerm, o);
  o = out.writeDoubleLE(m.index, o);
  o = out.writeDoubleLE(m.commit, o);
  o = out.writeDoubleLE(m.rejectHint, o);
  const ctxLen = m.context.length === 0 ? 0 : out.write(m.context, o + 4, 'utf8');
  o = out.writeUInt32LE(ctxLen, o) + ctxLen;
  o = out.writeUInt32LE(m.entries.length, o);
  for (const e of m.entries) {
    o = out.writeUInt8(e.kind === 'conf' ? 1 : 0, o);
    o = out.writeDoubleLE(e.term, o);
    o = out.writeDoubleLE(e.index, o);
    if (e.kind === 'conf') {
      o = out.writeUInt8(CC_TYPES.indexOf(e.change.type), o);
      o = out.writeDoubleLE(e.change.node, o);
    }
    o = out.writeUInt32LE(e.data.byteLength, o);
    out.set(e.data, o);
    o += e.data.byteLength;
  }
  const s = m.snapshot;
  if (s !== undefined) {
    o = out.writeDoubleLE(s.meta.index, o);
    o = out.writeDoubleLE(s.meta.term, o);
    o = out.writeDoubleLE(s.meta.size, o);
    o = out.writeDoubleLE(s.meta.checksum, o);
    o = out.writeUInt32LE(s.meta.conf.voters.length, o);
    for (const v of s.meta.conf.voters) o = out.writeDoubleLE(v, o);
    o = out.writeUInt32LE(s.meta.conf.learners.length, o);
    for (const v of s.meta.conf.learners) o = out.writeDoubleLE(v, o);
    o = out.writeDoubleLE(s.offset, o);
    o = out.writeUInt32LE(s.data.byteLength, o);
    out.set(s.data, o);
    o += s.data.byteLength;
  }
  return o;
}

export function encodeBinary(m: Message): Buffer {
  const out = Buffer.allocUnsafe(binarySize(m));
  writeBinary(m, out, 0);
  return out;
}

class Truncated extends Error {}

/**
 * Decodes one message. Entry and chunk data are views into `bytes` (copy it first if it is a
 * reused buffer). Returns a reason instead of throwing when the bytes are not a message.
 */
export function decodeBinary(bytes: Buffer): { message: Message } | { error: string } {
  let o = 0;
  const need = (n: number): void => {
    if (o + n > bytes.length) throw new Truncated();
  };
  const u8 = (): number => {
    need(1);
    return bytes.readUInt8(o++);
  };
  const u32 = (): number => {
    need(4);
    const v = bytes.readUInt32LE(o);
    o += 4;
    return v;
  };
  const f64 = (): number => {
    need(8);
    const v = bytes.readDoubleLE(o);
    o += 8;
    return v;
  };
  const raw = (): Uint8Array => {
    const n = u32();
    need(n);
    // A plain view: entries stay Uint8Arrays whatever buffer type arrived.
    const v = new Uint8Array(bytes.buffer, bytes.byteOffset + o, n);
    o += n;
    return v;
  };
  try {
    const version = u8();
    if (version !== VERSION) return { error: `unknown codec version ${version}` };
    const type = TYPES[u8()];
    if (type === undefined) return { error: 'unknown message type' };
    const flags = u8();
    const from = f64();
    const to = f64();
    const term = f64();
    const logTerm = f64();
    const index = f64();
    const commit = f64();
    const rejectHint = f64();
    const ctxLen = u32();
    need(ctxLen);
    const context = ctxLen === 0 ? '' : bytes.toString('utf8', o, o + ctxLen);
    o += ctxLen;
    const count = u32();
    // Each entry takes at least 21 bytes: a count beyond what the bytes can hold is a lie.
    if (count * 21 > bytes.length - o) return { error: `entry count ${count} exceeds the message` };
    const entries: Entry[] = new Array<Entry>(count);
    for (let i = 0; i < count; i++) {
      const kind = u8();
      const eterm = f64();
      const eindex = f64();
      if (kind === 1) {
        const ct = CC_TYPES[u8()];
        if (ct === undefined) return { error: 'unknown conf change type' };
        const node = f64();
        entries[i] = { kind: 'conf', term: eterm, index: eindex, change: { type: ct, node }, data: raw() };
      } else if (kind === 0) {
        entries[i] = { kind: 'normal', term: eterm, index: eindex, data: raw() };
      } else {
        return { error: 'unknown entry kind' };
      }
    }
    let snapshot: SnapshotChunk | undefined;
    if ((flags & 2) !== 0) {
      const sIndex = f64();
      const sTerm = f64();
      const size = f64();
      const checksum = f64();
      const ids = (): number[] => {
        const n = u32();
        if (n * 8 > bytes.length - o) throw new Truncated();
        const out: number[] = [];
        for (let i = 0; i < n; i++) out.push(f64());
        return out;
      };
      const voters = ids();
      const learners = ids();
      const offset = f64();
      snapshot = { meta: { index: sIndex, term: sTerm, conf: { voters, learners }, size, checksum }, offset, data: raw() };
    }
    if (o !== bytes.length) return { error: `${bytes.length - o} bytes after the message` };
    return { message: { type, from, to, term, logTerm, index, entries, commit, reject: (flags & 1) !== 0, rejectHint, context, snapshot } };
  } catch (err) {
    if (err instanceof Truncated) return { error: 'message cut short' };
    throw err;
  }
}
