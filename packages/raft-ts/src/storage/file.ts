import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from '../core/checksum.js';
import type { ConfChangeType, ConfState, Entry, HardState, Snapshot, SnapshotMeta } from '../core/types.js';
import { MemoryStorage } from './memory.js';
import type { Storage, StorageWriter } from './storage.js';

const fsync = promisify(fs.fsync);

export class StorageCorruptError extends Error {
  readonly code = 'RAFT_STORAGE_CORRUPT';

  constructor(message: string) {
    super(message);
    this.name = 'StorageCorruptError';
  }
}

export interface FileStorageOptions {
  /** A segment is closed and a new one started once it grows past this many bytes. */
  readonly segmentBytes?: number;
  /**
   * false skips every fsync. Only for simulations, which model durability themselves by
   * truncating what was written after the last sync point (see `tail()`).
   */
  readonly fsync?: boolean;
  /**
   * true runs `sync()`'s fsync on the calling thread instead of Node's thread pool. Where an
   * fsync takes well under a millisecond (a local SSD, a VM's write cache) the thread-pool round
   * trip and the extra event-loop wake-up cost more than the fsync itself; on a slow disk it
   * stalls the event loop for the whole fsync, so it is off by default.
   */
  readonly blockingSync?: boolean;
}

export interface OpenReport {
  /** An incomplete last record (a write cut short by a crash) that was truncated away. */
  readonly tornTail: { readonly segment: string; readonly offset: number; readonly bytes: number } | undefined;
  readonly segments: number;
  readonly entries: number;
}

// Record types inside a segment. Each record is framed as [u32 length][u32 crc32][payload].
const ENTRY = 1;
const HARD_STATE = 2;
const SNAPSHOT_MARK = 3;
const CC_TYPES: readonly ConfChangeType[] = ['addVoter', 'addLearner', 'removeNode'];

function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + payload.byteLength);
  out.writeUInt32LE(payload.byteLength, 0);
  out.writeUInt32LE(crc32(payload), 4);
  out.set(payload, 8);
  return out;
}

/** One allocation per entry: the frame header and the payload are written in place. */
function encodeEntry(e: Entry): Buffer {
  const len = 1 + 1 + 8 + 8 + 1 + 8 + 4 + e.data.byteLength;
  const b = Buffer.allocUnsafe(8 + len);
  b.writeUInt32LE(len, 0);
  let o = b.writeUInt8(ENTRY, 8);
  o = b.writeUInt8(e.kind === 'conf' ? 1 : 0, o);
  o = b.writeDoubleLE(e.term, o);
  o = b.writeDoubleLE(e.index, o);
  o = b.writeUInt8(e.kind === 'conf' ? CC_TYPES.indexOf(e.change.type) : 0, o);
  o = b.writeDoubleLE(e.kind === 'conf' ? e.change.node : 0, o);
  o = b.writeUInt32LE(e.data.byteLength, o);
  b.set(e.data, o);
  b.writeUInt32LE(crc32(b.subarray(8)), 4);
  return b;
}

function decodeEntry(b: Buffer): Entry {
  const conf = b.readUInt8(1) === 1;
  const term = b.readDoubleLE(2);
  const index = b.readDoubleLE(10);
  const type = CC_TYPES[b.readUInt8(18)] ?? 'addVoter';
  const node = b.readDoubleLE(19);
  const len = b.readUInt32LE(27);
  const data = new Uint8Array(b.subarray(31, 31 + len));
  return conf ? { kind: 'conf', term, index, change: { type, node }, data } : { kind: 'normal', term, index, data };
}

function encodeHardState(hs: HardState): Buffer {
  const b = Buffer.allocUnsafe(25);
  let o = b.writeUInt8(HARD_STATE, 0);
  o = b.writeDoubleLE(hs.term, o);
  o = b.writeDoubleLE(hs.vote, o);
  b.writeDoubleLE(hs.commit, o);
  return frame(b);
}

function encodeMark(index: number, term: number): Buffer {
  const b = Buffer.allocUnsafe(17);
  b.writeUInt8(SNAPSHOT_MARK, 0);
  b.writeDoubleLE(index, 1);
  b.writeDoubleLE(term, 9);
  return frame(b);
}

function zerosFrom(buf: Buffer, off: number): boolean {
  for (let i = off; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

const segName = (seq: number): string => `${String(seq).padStart(16, '0')}.wal`;
const snapName = (meta: SnapshotMeta): string => `${String(meta.index).padStart(16, '0')}-${String(meta.term).padStart(16, '0')}.snap`;

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Durable storage: a write-ahead log in segments plus snapshot files, with the log also kept in
 * memory for reads. Writes go to the operating system at once; `sync()` makes them durable, and
 * the driver calls it before anything that promises durability (a vote, an acknowledgement).
 *
 * On open, an incomplete record at the very end of the last segment (a torn write) is truncated
 * and reported; a damaged record anywhere else refuses to start, because it may hold committed
 * data. Snapshots are written to a temporary file, synced, renamed, and the directory synced;
 * segments entirely behind a snapshot are removed when the log is compacted.
 */
export class FileStorage implements Storage, StorageWriter {
  private readonly mem: MemoryStorage;
  private fd: number;
  private segSeq: number;
  private segSize: number;
  /** Highest entry index written to each closed segment, to know which ones compaction frees. */
  private readonly segMax = new Map<number, number>();
  private curMax = 0;
  private rotations = 0;
  private pending: Buffer[] = [];
  private syncCount = 0;
  private pendingBytes = 0;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly doSync: boolean,
    private readonly blockingSync: boolean,
    mem: MemoryStorage,
    segSeq: number,
    segMax: Map<number, number>,
  ) {
    this.mem = mem;
    this.segSeq = segSeq;
    for (const [k, v] of segMax) this.segMax.set(k, v);
    this.curMax = segMax.get(segSeq) ?? 0;
    this.segMax.delete(segSeq);
    const path = join(dir, 'wal', segName(segSeq));
    this.fd = fs.openSync(path, 'a');
    this.segSize = fs.fstatSync(this.fd).size;
  }

  static open(dir: string, options: FileStorageOptions = {}): { storage: FileStorage; report: OpenReport } {
    const walDir = join(dir, 'wal');
    const snapDir = join(dir, 'snap');
    fs.mkdirSync(walDir, { recursive: true });
    fs.mkdirSync(snapDir, { recursive: true });

    const snaps = fs.readdirSync(snapDir).filter((n) => n.endsWith('.snap')).sort();
    for (const n of fs.readdirSync(snapDir)) if (n.endsWith('.tmp')) fs.rmSync(join(snapDir, n));
    let mem = new MemoryStorage();
    const latest = snaps[snaps.length - 1];
    const loadSnap = (name: string): Snapshot => FileStorage.readSnapshot(join(snapDir, name));
    if (latest !== undefined) mem.applySnapshot(loadSnap(latest));

    const segs = fs.readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort();
    const segMax = new Map<number, number>();
    let tornTail: OpenReport['tornTail'];
    let entries = 0;
    segs.forEach((name, i) => {
      const path = join(walDir, name);
      const buf = fs.readFileSync(path);
      const last = i === segs.length - 1;
      const seq = Number(name.slice(0, 16));
      let max = 0;
      let off = 0;
      while (off < buf.length) {
        const bad = (why: string): never => {
          throw new StorageCorruptError(`${path}: ${why} at offset ${off}; refusing to start (the record may hold committed entries)`);
        };
        const torn = (): void => {
          tornTail = { segment: path, offset: off, bytes: buf.length - off };
          fs.truncateSync(path, off);
        };
        if (buf.length - off < 8) {
          if (last) torn();
          else bad('incomplete record header');
          break;
        }
        const len = buf.readUInt32LE(off);
        const end = off + 8 + len;
        if (end > buf.length) {
          if (last) torn();
          else bad('record longer than its segment');
          break;
        }
        const payload = buf.subarray(off + 8, end);
        if (len === 0 || crc32(payload) !== buf.readUInt32LE(off + 4)) {
          // A write cut short leaves the final record damaged (or the file extended with zeros
          // that were never written); damage followed by more records is not a torn write.
          if (last && (end === buf.length || zerosFrom(buf, off))) torn();
          else bad('checksum mismatch');
          break;
        }
        switch (payload.readUInt8(0)) {
          case ENTRY: {
            const e = decodeEntry(payload);
            if (e.index > mem.lastIndex() + 1) bad(`entry ${e.index} leaves a gap after ${mem.lastIndex()}`);
            mem.append([e]);
            max = Math.max(max, e.index);
            entries++;
            break;
          }
          case HARD_STATE:
            mem.setHardState({ term: payload.readDoubleLE(1), vote: payload.readDoubleLE(9), commit: payload.readDoubleLE(17) });
            break;
          case SNAPSHOT_MARK: {
            const index = payload.readDoubleLE(1);
            const term = payload.readDoubleLE(9);
            // The log was replaced by a received snapshot: start over from it.
            if (index >= mem.snapshot().meta.index) {
              const name = snaps.find((n) => n === `${String(index).padStart(16, '0')}-${String(term).padStart(16, '0')}.snap`);
              if (name === undefined) bad(`snapshot ${index}@${term} named by the log is missing`);
              else {
                const hs = mem.hardState();
                mem = new MemoryStorage();
                mem.applySnapshot(loadSnap(name));
                mem.setHardState(hs);
              }
            }
            break;
          }
          default:
            bad('unknown record type');
        }
        off = end;
      }
      segMax.set(seq, max);
    });
    const lastSeg = segs[segs.length - 1];
    const seq = lastSeg === undefined ? 1 : Number(lastSeg.slice(0, 16));
    if (lastSeg === undefined) segMax.set(seq, 0);
    const storage = new FileStorage(dir, options.segmentBytes ?? 64 << 20, options.fsync ?? true, options.blockingSync ?? false, mem, seq, segMax);
    if (lastSeg === undefined) {
      storage.write(encodeHardState(mem.hardState()));
      if (storage.doSync) fsyncDir(walDir);
    }
    return { storage, report: { tornTail, segments: Math.max(segs.length, 1), entries } };
  }

  private static readSnapshot(path: string): Snapshot {
    const buf = fs.readFileSync(path);
    const len = buf.length >= 8 ? buf.readUInt32LE(0) : -1;
    if (len < 0 || 8 + len > buf.length || crc32(buf.subarray(8, 8 + len)) !== buf.readUInt32LE(4)) {
      throw new StorageCorruptError(`${path}: snapshot header is damaged`);
    }
    const raw = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as SnapshotMeta;
    const data = new Uint8Array(buf.subarray(8 + len));
    if (data.byteLength !== raw.size || crc32(data) !== raw.checksum) {
      throw new StorageCorruptError(`${path}: snapshot data fails its checksum`);
    }
    return { meta: raw, data };
  }

  private writeSnapshotFile(s: Snapshot): void {
    const snapDir = join(this.dir, 'snap');
    const header = Buffer.from(JSON.stringify(s.meta), 'utf8');
    const tmp = join(snapDir, `${snapName(s.meta)}.tmp`);
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, frame(header));
      fs.writeSync(fd, s.data);
      if (this.doSync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, join(snapDir, snapName(s.meta)));
    if (this.doSync) fsyncDir(snapDir);
    // Older snapshots are no longer needed once this one is durable.
    for (const n of fs.readdirSync(snapDir)) {
      if (n.endsWith('.snap') && n < snapName(s.meta)) fs.rmSync(join(snapDir, n));
    }
  }

  /** Records go to a buffer and reach the file in one write per flush (sync, rotation, close). */
  private write(b: Buffer): void {
    this.pending.push(b);
    this.pendingBytes += b.byteLength;
    this.segSize += b.byteLength;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const all = this.pending.length === 1 ? this.pending[0] ?? Buffer.alloc(0) : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < all.byteLength) off += fs.writeSync(this.fd, all, off);
  }

  /**
   * Closes the current segment and starts the next one with the state it must not lose. `mark`
   * records that the log restarts at the (received) snapshot: replay then drops what came before.
   */
  private rotate(mark = false): void {
    this.flush();
    if (this.doSync) fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.segMax.set(this.segSeq, this.curMax);
    this.segSeq++;
    this.curMax = 0;
    this.fd = fs.openSync(join(this.dir, 'wal', segName(this.segSeq)), 'a');
    this.segSize = 0;
    const snap = this.mem.snapshot().meta;
    if (mark) this.write(encodeMark(snap.index, snap.term));
    this.write(encodeHardState(this.mem.hardState()));
    this.flush();
    if (this.doSync) {
      fs.fsyncSync(this.fd);
      fsyncDir(join(this.dir, 'wal'));
    }
    this.rotations++;
  }

  /** Closed segments are synced; this says how far the open one was written, buffered or not (for simulations). */
  tail(): { segment: number; size: number; rotations: number } {
    return { segment: this.segSeq, size: this.segSize, rotations: this.rotations };
  }

  /** The open segment's path (for simulations that tear it). */
  tailPath(): string {
    return join(this.dir, 'wal', segName(this.segSeq));
  }

  // ---------------------------------------------------------------- Storage (reads)

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.mem.initialState();
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }

  term(i: number): number | undefined {
    return this.mem.term(i);
  }

  firstIndex(): number {
    return this.mem.firstIndex();
  }

  lastIndex(): number {
    return this.mem.lastIndex();
  }

  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  hardState(): HardState {
    return this.mem.hardState();
  }

  // ---------------------------------------------------------------- StorageWriter

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.mem.append(entries);
    for (const e of entries) {
      if (e.index <= this.mem.snapshot().meta.index) continue;
      this.write(encodeEntry(e));
      this.curMax = Math.max(this.curMax, e.index);
    }
    if (this.segSize >= this.segmentBytes) this.rotate();
  }

  setHardState(hs: HardState): void {
    this.mem.setHardState(hs);
    this.write(encodeHardState(hs));
  }

  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.mem.snapshot().meta.index) return;
    this.writeSnapshotFile(snapshot);
    this.mem.applySnapshot(snapshot);
    // Everything in the old segments is covered or replaced: start a fresh one and drop them.
    const old = [...this.segMax.keys(), this.segSeq];
    this.rotate(true);
    for (const seq of old) {
      fs.rmSync(join(this.dir, 'wal', segName(seq)), { force: true });
      this.segMax.delete(seq);
    }
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    const before = this.mem.snapshot();
    const snap = this.mem.createSnapshot(index, conf, data);
    if (snap !== before) this.writeSnapshotFile(snap);
    return snap;
  }

  compact(index: number): void {
    this.mem.compact(index);
    for (const [seq, max] of [...this.segMax]) {
      if (max <= index) {
        fs.rmSync(join(this.dir, 'wal', segName(seq)), { force: true });
        this.segMax.delete(seq);
      }
    }
  }

  /** How many times `sync()` was called (a benchmark divides writes by it). */
  get syncs(): number {
    return this.syncCount;
  }

  async sync(): Promise<void> {
    this.syncCount++;
    this.flush();
    if (!this.doSync) return;
    if (this.blockingSync) fs.fsyncSync(this.fd);
    else await fsync(this.fd);
  }

  close(): void {
    this.flush();
    if (this.doSync) fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}
