import type { ConfState, Entry, HardState, Snapshot } from '../core/types.js';

/**
 * What the core reads from durable storage. The core never writes: the application persists
 * what `Ready` hands it through the write half (`StorageWriter`), so a segmented WAL can batch
 * and fsync on its own schedule.
 *
 * The log held by a storage is a contiguous range [firstIndex, lastIndex] that follows the
 * snapshot: firstIndex = snapshot.index + 1. An empty log has lastIndex = firstIndex - 1.
 */
export interface Storage {
  /** The persisted hard state and the membership as of the snapshot. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if lo < hi, then as many as fit in maxBytes. lo >= firstIndex. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i for i in [firstIndex - 1, lastIndex]; undefined outside (compacted or absent). */
  term(i: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** The write half an application (or the simulator) uses to persist a Ready. */
export interface StorageWriter {
  /** Appends entries; any stored entry at or after entries[0].index is replaced first. */
  append(entries: readonly Entry[]): void;
  setHardState(hs: HardState): void;
  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void;
  /** Records a snapshot of the local state machine at `index` (<= applied) and drops the log before it. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot;
  /** Discards entries up to and including `index` (which must be covered by the snapshot). */
  compact(index: number): void;
}
