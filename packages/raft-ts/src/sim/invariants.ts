import type { Entry, NodeId } from '../core/types.js';

export class InvariantViolation extends Error {
  readonly code = 'RAFT_INVARIANT';

  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

function fail(message: string): never {
  throw new InvariantViolation(message);
}

/** What the checker needs to read from one member's log. */
export interface LogView {
  readonly id: NodeId;
  readonly firstIndex: number;
  readonly lastIndex: number;
  term(i: number): number | undefined;
  entry(i: number): Entry | undefined;
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.term !== b.term || a.index !== b.index || a.kind !== b.kind || a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  if (a.kind === 'conf' && b.kind === 'conf') return a.change.type === b.change.type && a.change.node === b.change.node;
  return true;
}

/**
 * Raft's safety properties (figure 3 of the paper), checked against observations the simulator
 * makes after every step. Each check throws an InvariantViolation that names the property.
 */
export class Invariants {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Term of every index any member has ever reported committed. */
  private readonly committedTerm = new Map<number, number>();
  private readonly committedEntry = new Map<number, Entry>();
  /** An upper bound on the term in which each index was committed (the first observer's term). */
  private readonly commitTerm = new Map<number, number>();
  /** Per such term, the highest index known committed by then. */
  private readonly lastCommittedBy = new Map<number, number>();
  private readonly digestAt = new Map<number, number>();
  private readonly seenCommit = new Map<NodeId, number>();
  maxCommitted = 0;

  /** Election safety: at most one leader per term. */
  observeLeader(id: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other === undefined) this.leaderOfTerm.set(term, id);
    else if (other !== id) fail(`election safety: ${other} and ${id} both lead term ${term}`);
  }

  /**
   * Records newly committed entries and checks none of them differs from an earlier report.
   * `term` is the observer's current term: the entries were committed in that term or earlier.
   */
  observeCommit(log: LogView, commit: number, term: number): void {
    const from = Math.max(this.seenCommit.get(log.id) ?? 0, log.firstIndex - 1);
    for (let i = from + 1; i <= commit; i++) {
      const e = log.entry(i);
      if (e === undefined) continue;
      const known = this.committedEntry.get(i);
      if (known === undefined) {
        this.committedEntry.set(i, e);
        this.committedTerm.set(i, e.term);
        this.commitTerm.set(i, term);
        this.lastCommittedBy.set(term, Math.max(this.lastCommittedBy.get(term) ?? 0, i));
      } else if (!sameEntry(known, e)) {
        fail(`committed entry lost: ${log.id} commits ${e.index}@${e.term} where ${known.index}@${known.term} was committed`);
      }
    }
    this.seenCommit.set(log.id, commit);
    this.maxCommitted = Math.max(this.maxCommitted, commit);
  }

  forgetCommitCursor(id: NodeId): void {
    this.seenCommit.delete(id);
  }

  /**
   * A member that holds a committed entry must never replace it. (A deposed leader may still
   * append entries of its old term at committed indexes it never held: that loses nothing.)
   */
  observePersisted(id: NodeId, entries: readonly Entry[], heldTerm: (i: number) => number | undefined): void {
    for (const e of entries) {
      const known = this.committedEntry.get(e.index);
      if (known === undefined || heldTerm(e.index) !== known.term) continue;
      if (!sameEntry(known, e)) {
        fail(`committed entry overwritten: ${id} replaces committed ${known.index}@${known.term} with ${e.index}@${e.term}`);
      }
    }
  }

  /** State machine safety: every member's state after applying index i is the same. */
  observeApplied(id: NodeId, index: number, digest: number): void {
    const known = this.digestAt.get(index);
    if (known === undefined) this.digestAt.set(index, digest);
    else if (known !== digest) fail(`state machine safety: ${id} applied a different history up to ${index}`);
  }

  /**
   * Leader completeness: a leader's log holds every entry committed in its term or before. An
   * entry of an old term may be committed in a later term than this leader's, so what counts is
   * when it was committed, which the checker bounds from above by the term of its first observer.
   */
  checkLeaderCompleteness(leader: LogView, term: number): void {
    for (let i = Math.max(leader.firstIndex, 1); i <= Math.min(leader.lastIndex, this.maxCommitted); i++) {
      const when = this.commitTerm.get(i);
      if (when === undefined || when > term) continue;
      const t = this.committedTerm.get(i);
      if (leader.term(i) !== t) fail(`leader completeness: leader ${leader.id} of term ${term} lacks ${i}@${t}, committed by term ${when}`);
    }
    let lastKnown = 0;
    for (const [t, i] of this.lastCommittedBy) if (t <= term) lastKnown = Math.max(lastKnown, i);
    if (leader.lastIndex < lastKnown) {
      fail(`leader completeness: leader ${leader.id} of term ${term} ends at ${leader.lastIndex} before ${lastKnown}, committed by then`);
    }
  }

  /** Log matching: if two logs hold an entry with the same index and term, they agree up to it. */
  checkLogMatching(logs: readonly LogView[]): void {
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const x = logs[a];
        const y = logs[b];
        if (x === undefined || y === undefined) continue;
        const lo = Math.max(x.firstIndex, y.firstIndex);
        let matched = false;
        for (let i = Math.min(x.lastIndex, y.lastIndex); i >= lo; i--) {
          const ex = x.entry(i);
          const ey = y.entry(i);
          if (ex === undefined || ey === undefined) break;
          if (!matched && ex.term === ey.term) matched = true;
          if (matched && !sameEntry(ex, ey)) fail(`log matching: ${x.id} and ${y.id} differ at ${i} below a matching entry`);
        }
      }
    }
  }

  committedTermAt(i: number): number | undefined {
    return this.committedTerm.get(i);
  }
}
