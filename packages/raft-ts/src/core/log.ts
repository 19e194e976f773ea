import type { Storage } from '../storage/storage.js';
import type { Entry, Snapshot } from './types.js';
import { entrySize } from './types.js';
import { Unstable } from './unstable.js';

/**
 * The log as the core sees it: persisted entries in Storage followed by unstable ones, plus the
 * commit and apply cursors. Terms of missing entries are `undefined`, never an exception, so a
 * compacted or absent entry is ordinary control flow (it triggers a snapshot or a probe).
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;

  constructor(storage: Storage, applied: number, committed: number) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    // A snapshot holds only committed state, so its index is committed even when the commit
    // index on disk is older (the commit index is written without a sync, and an application
    // that applies entries before it persists them may snapshot past it).
    const floor = Math.max(storage.firstIndex() - 1, storage.snapshot().meta.index);
    this.committed = Math.max(committed, floor);
    this.applied = Math.min(Math.max(applied, floor), this.committed);
  }

  firstIndex(): number {
    return this.unstable.firstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex() ?? this.storage.lastIndex();
  }

  /** The last index the application has persisted (nothing while a snapshot is pending). */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== undefined) return 0;
    return Math.min(this.unstable.offset - 1, this.storage.lastIndex());
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  term(i: number): number | undefined {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    return this.unstable.term(i) ?? this.storage.term(i);
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft's "at least as up to date" comparison (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry whose term differs from ours, or 0 if all match (or are new). */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`. A follower returns it in a rejection so
   * that the leader can skip a whole term of mismatching entries in one round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return i; // compacted: the snapshot position is the best we know
      if (t <= term) return i;
    }
    return 0;
  }

  /**
   * Follower side of AppendEntries. Returns the last index now known to match the leader, or
   * undefined if the entry preceding `ents` does not match (the leader must back up).
   * `onTruncate` is told the first index about to be overwritten, before the log changes.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[], onTruncate: (from: number) => void): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (ci <= this.committed) {
        // Only possible with a faulty leader; refusing keeps committed entries intact.
        throw new Error(`entry ${ci} conflicts with committed entry (committed ${this.committed})`);
      }
      onTruncate(ci);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNew));
    return lastNew;
  }

  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    if (first.index - 1 < this.committed) throw new Error(`append at ${first.index} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(i: number): void {
    if (i > this.committed) {
      if (i > this.lastIndex()) throw new Error(`commit ${i} is beyond the last index ${this.lastIndex()}`);
      this.committed = i;
    }
  }

  maybeCommit(i: number, term: number): boolean {
    // Only an entry of the leader's own term may be committed by counting (§5.4.2, figure 8).
    if (i > this.committed && this.term(i) === term) {
      this.commitTo(i);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) throw new Error(`applied ${i} is outside [${this.applied}, ${this.committed}]`);
    this.applied = i;
  }

  /** Entries in [lo, hi) limited by maxBytes (always at least one). */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    const out: Entry[] = [];
    const uOff = this.unstable.offset;
    if (lo < uOff) {
      const stored = this.storage.entries(lo, Math.min(hi, uOff), maxBytes);
      out.push(...stored);
      if (stored.length < Math.min(hi, uOff) - lo) return out;
    }
    if (hi > uOff) {
      let bytes = 0;
      for (const e of out) bytes += entrySize(e);
      for (const e of this.unstable.slice(Math.max(lo, uOff), hi)) {
        bytes += entrySize(e);
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }

  /** Entries from i onward, or undefined if i is compacted. */
  entriesFrom(i: number, maxBytes: number): Entry[] | undefined {
    if (i < this.firstIndex()) return undefined;
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > this.applied && this.applied + 1 >= this.firstIndex();
  }

  nextCommittedEntries(maxBytes: number): Entry[] {
    // While a snapshot is pending, nothing after it may be applied before it is.
    if (!this.hasNextCommittedEntries()) return [];
    return this.slice(this.applied + 1, this.committed + 1, maxBytes);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  restore(s: Snapshot): void {
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }
}
