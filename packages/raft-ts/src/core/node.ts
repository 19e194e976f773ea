import type { ProposeResult, RaftOptions } from './raft.js';
import { Raft } from './raft.js';
import type { ProgressState } from './progress.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  Ready,
  RejectReason,
  Role,
  SoftState,
} from './types.js';

export class RaftUsageError extends Error {
  readonly code = 'RAFT_USAGE';

  constructor(message: string) {
    super(message);
    this.name = 'RaftUsageError';
  }
}

export interface FollowerStatus {
  readonly id: NodeId;
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
  /** Heard from within the last one or two election timeouts (the leader itself: always). */
  readonly active: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly role: Role;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Only on the leader. */
  readonly progress: readonly FollowerStatus[];
}

interface Handed {
  readonly lastEntry: { index: number; term: number } | undefined;
  readonly snapshotIndex: number | undefined;
  readonly lastCommitted: number | undefined;
  readonly hardState: HardState;
  readonly softState: SoftState;
}

/**
 * The application's handle on one member: feed it ticks, messages and requests; take Ready
 * batches from it; call advance() once a batch is handled. Ready's order contract is in types.ts.
 */
export class RaftNode {
  private readonly raft: Raft;
  private prevHard: HardState;
  private prevSoft: SoftState;
  private handed: Handed | undefined;
  /** The last index handed out by takeCommitted() while the current Ready is outstanding. */
  private taken = 0;

  constructor(options: RaftOptions) {
    this.raft = new Raft(options);
    this.prevHard = { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
    this.prevSoft = { leader: this.raft.lead, role: this.raft.role };
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Feeds a message from the network. Invalid or unexpected input is counted and dropped. */
  step(m: Message): void {
    this.raft.step(m);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    return this.raft.proposeConfChange(cc);
  }

  /**
   * Asks for a linearizable read point. The answer arrives as a ReadState with this context
   * in a later Ready; serve the read once the state machine has applied its index.
   */
  readIndex(context: string): ProposeResult {
    return this.raft.readIndex(context);
  }

  transferLeader(to: NodeId): ProposeResult {
    return this.raft.transferLeader(to);
  }

  campaign(): void {
    this.raft.campaignNow();
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  hasReady(): boolean {
    const r = this.raft;
    const hs = this.hardState();
    return (
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== undefined ||
      r.log.hasNextCommittedEntries() ||
      r.lead !== this.prevSoft.leader ||
      r.role !== this.prevSoft.role ||
      hs.term !== this.prevHard.term ||
      hs.vote !== this.prevHard.vote ||
      hs.commit !== this.prevHard.commit
    );
  }

  ready(): Ready {
    if (this.handed !== undefined) throw new RaftUsageError('ready() called again before advance()');
    const r = this.raft;
    const hs = this.hardState();
    const ss: SoftState = { leader: r.lead, role: r.role };
    const entries = r.log.unstable.entries.slice();
    const snapshot = r.log.unstable.snapshot;
    const committedEntries = r.log.nextCommittedEntries(r.opts.maxCommittedBytesPerReady);
    const hardChanged = hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote || hs.commit !== this.prevHard.commit;
    const last = entries[entries.length - 1];
    const lastCommitted: Entry | undefined = committedEntries[committedEntries.length - 1];
    const ready: Ready = {
      softState: ss.leader !== this.prevSoft.leader || ss.role !== this.prevSoft.role ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: r.msgs,
      readStates: r.readStates,
      // A vote or a term must be on disk before anyone hears of it; a commit index need not.
      mustSync: entries.length > 0 || snapshot !== undefined || hs.term !== this.prevHard.term || hs.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    this.handed = {
      lastEntry: last === undefined ? undefined : { index: last.index, term: last.term },
      snapshotIndex: snapshot?.meta.index,
      lastCommitted: lastCommitted?.index,
      hardState: hs,
      softState: ss,
    };
    return ready;
  }

  /** The last Ready was persisted, sent and applied. */
  advance(): void {
    const h = this.handed;
    if (h === undefined) throw new RaftUsageError('advance() without a ready()');
    this.handed = undefined;
    const log = this.raft.log;
    this.prevHard = h.hardState;
    this.prevSoft = h.softState;
    if (h.snapshotIndex !== undefined) {
      log.unstable.stableSnapTo(h.snapshotIndex);
      log.applied = Math.max(log.applied, h.snapshotIndex);
    }
    if (h.lastEntry !== undefined) log.unstable.stableTo(h.lastEntry.index, h.lastEntry.term);
    const applied = Math.max(h.lastCommitted ?? 0, this.taken);
    this.taken = 0;
    if (applied > log.applied) log.appliedTo(applied);
    this.raft.onPersisted();
  }

  /**
   * Between ready() and advance(): entries committed since that Ready was made, beyond its
   * `committedEntries`, for the application to apply while it is still persisting the Ready.
   * Applying them before they are durable here is safe — committed means durable on a quorum,
   * and every later leader holds them — and it takes this member's own fsync off the path of
   * an answer. Apply the Ready's `committedEntries` first. Nothing while a snapshot is pending.
   */
  takeCommitted(): Entry[] {
    const h = this.handed;
    const log = this.raft.log;
    if (h === undefined || h.snapshotIndex !== undefined || log.unstable.snapshot !== undefined) return [];
    const from = Math.max(log.applied, h.lastCommitted ?? 0, this.taken) + 1;
    if (from > log.committed || from < log.firstIndex()) return [];
    const ents = log.slice(from, log.committed + 1, this.raft.opts.maxCommittedBytesPerReady);
    const last = ents[ents.length - 1];
    if (last !== undefined) this.taken = last.index;
    return ents;
  }

  status(): Status {
    const r = this.raft;
    const progress: FollowerStatus[] = [];
    if (r.role === 'leader') {
      for (const [id, pr] of r.tracker.progress) {
        progress.push({ id, match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner, active: id === r.id || pr.recentActive || pr.wasActive });
      }
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      leader: r.lead,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      conf: r.conf,
      leadTransferee: r.leadTransferee,
      progress,
    };
  }

  /** The membership as of `index`, to record in a snapshot the application takes there. */
  confStateAt(index: number): ConfState {
    return this.raft.confStateAt(index);
  }

  /** Entries in [lo, hi) as this member holds them, persisted or not (for tests and tools). */
  entries(lo: number, hi: number): Entry[] {
    const log = this.raft.log;
    const from = Math.max(lo, log.firstIndex());
    const to = Math.min(hi, log.lastIndex() + 1);
    return from < to ? log.slice(from, to, Number.MAX_SAFE_INTEGER) : [];
  }

  term(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  /** How many inputs were rejected, by reason. */
  rejections(): ReadonlyMap<RejectReason, number> {
    return this.raft.rejected;
  }
}
