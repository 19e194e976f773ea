import { crc32 } from '../core/checksum.js';
import type { ConfState, Entry, HardState, Snapshot } from '../core/types.js';
import { entrySize } from '../core/types.js';
import type { Storage, StorageWriter } from './storage.js';

export class StorageError extends Error {
  readonly code: 'compacted' | 'unavailable' | 'outOfOrder';

  constructor(code: StorageError['code'], message: string) {
    super(message);
    this.name = 'StorageError';
    this.code = code;
  }
}

/**
 * Storage in memory, for tests and the simulator. It is "durable" in the sense the simulator
 * needs: whatever was written through StorageWriter survives a simulated crash of the node.
 *
 * The snapshot and the log are kept apart: taking a snapshot does not by itself drop entries,
 * so an application can keep a tail of the log for followers that are only slightly behind.
 */
export class MemoryStorage implements Storage, StorageWriter {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  private first = 1;
  private prevTerm = 0;
  private ents: Entry[] = [];

  constructor(conf: ConfState = { voters: [], learners: [] }) {
    const data = new Uint8Array(0);
    this.snap = { meta: { index: 0, term: 0, conf, size: 0, checksum: crc32(data) }, data };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hard, confState: this.snap.meta.conf };
  }

  firstIndex(): number {
    return this.first;
  }

  lastIndex(): number {
    return this.first + this.ents.length - 1;
  }

  term(i: number): number | undefined {
    if (i === this.first - 1) return this.prevTerm;
    if (i < this.first || i > this.lastIndex()) return undefined;
    return this.ents[i - this.first]?.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.first) throw new StorageError('compacted', `entry ${lo} is compacted (first is ${this.first})`);
    if (hi > this.lastIndex() + 1) throw new StorageError('unavailable', `entry ${hi - 1} is beyond the last (${this.lastIndex()})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.first];
      if (e === undefined) break;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardState(): HardState {
    return this.hard;
  }

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  append(entries: readonly Entry[]): void {
    const head0 = entries[0];
    if (head0 === undefined) return;
    // Entries already compacted are committed and identical; keep only what follows.
    const rest = entries.slice(Math.max(0, this.first - head0.index));
    const head = rest[0];
    if (head === undefined) return;
    if (head.index > this.lastIndex() + 1) {
      throw new StorageError('outOfOrder', `append at ${head.index} leaves a gap after ${this.lastIndex()}`);
    }
    // In place: copying the whole log per append made a long log quadratic.
    this.ents.length = head.index - this.first;
    for (const e of rest) this.ents.push(e);
  }

  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.meta.index <= this.snap.meta.index) return;
    this.snap = snapshot;
    this.first = snapshot.meta.index + 1;
    this.prevTerm = snapshot.meta.term;
    this.ents = [];
  }

  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) return this.snap;
    const term = this.term(index);
    if (term === undefined) throw new StorageError('unavailable', `no entry at ${index} to snapshot`);
    this.snap = { meta: { index, term, conf, size: data.byteLength, checksum: crc32(data) }, data };
    return this.snap;
  }

  compact(index: number): void {
    if (index > this.snap.meta.index) {
      throw new StorageError('unavailable', `cannot compact past the snapshot (${this.snap.meta.index})`);
    }
    if (index < this.first) return;
    const term = this.term(index) ?? this.prevTerm;
    this.ents = this.ents.slice(index - this.first + 1);
    this.first = index + 1;
    this.prevTerm = term;
  }
}
