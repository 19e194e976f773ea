import type { Snapshot } from './types.js';
import { Inflights } from './inflights.js';

/**
 * - probe: we do not know where the follower's log matches ours; send one append per heartbeat
 *   interval and wait for the answer.
 * - replicate: the follower matched; stream appends optimistically, bounded by Inflights.
 * - snapshot: the entries it needs are compacted; send the snapshot in chunks, one at a time.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** The leader's view of one follower. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for a reply or a heartbeat. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Heard from in the round before: with recentActive, whether it answered within the last one or two election timeouts. */
  wasActive = false;
  isLearner: boolean;
  /** In snapshot state: the snapshot being sent and the next byte to send. */
  snapshot: Snapshot | undefined;
  snapshotOffset = 0;
  readonly inflights: Inflights;

  constructor(next: number, isLearner: boolean, maxInflight: number, maxInflightBytes: number) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshot = undefined;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it even if the follower has not acknowledged yet.
    const floor = this.state === 'snapshot' && this.snapshot !== undefined ? this.snapshot.meta.index : this.match;
    this.reset('probe');
    this.next = Math.max(this.match, floor) + 1;
  }

  becomeReplicate(): void {
    this.reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.reset('snapshot');
    this.snapshot = snapshot;
  }

  /** An acknowledgement up to n arrived. Returns false if it tells us nothing new. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append whose preceding index was `rejected`; `hint` is where the follower
   * suggests to probe next. Returns false for stale rejections (reordered or duplicated).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Records an append carrying entries up to lastIndex (bytes in total). */
  sentEntries(count: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }
}
