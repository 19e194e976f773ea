import type { Storage } from '../storage/storage.js';
import { crc32 } from './checksum.js';
import { applyConfChange, isMember } from './confchange.js';
import { RaftLog } from './log.js';
import type { Progress } from './progress.js';
import { voteResult } from './quorum.js';
import { ReadOnlyQueue, type ReadRequest } from './readonly.js';
import type { Rng } from './rng.js';
import { ProgressTracker } from './tracker.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  ReadState,
  RejectReason,
  Role,
  Snapshot,
  SnapshotMeta,
} from './types.js';
import { NONE, entriesSize, message } from './types.js';
import { validateMessage } from './validate.js';

export interface RaftOptions {
  readonly id: NodeId;
  readonly storage: Storage;
  /** The only source of randomness (election timeouts), so a seed replays a run. */
  readonly rng: Rng;
  /** Ticks without a leader before campaigning; the actual timeout is drawn from [e, 2e). */
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /** The last index the state machine applied before this start (0 for a fresh one). */
  readonly applied?: number;
  readonly maxSizePerMsg?: number;
  readonly maxInflightMsgs?: number;
  /** 0 = no byte limit. */
  readonly maxInflightBytes?: number;
  readonly maxCommittedBytesPerReady?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** 'lease' answers reads without a heartbeat round; it needs checkQuorum and bounded clock drift. */
  readonly readOnly?: 'safe' | 'lease';
  readonly disableProposalForwarding?: boolean;
  readonly snapshotChunkBytes?: number;
  /** Incoming messages carrying more payload than this are rejected. */
  readonly maxMessageBytes?: number;
  /** A learner is promoted only when at most this many entries behind the leader. */
  readonly promotionLag?: number;
  /** Told about every rejected input; the core never logs by itself. */
  readonly onReject?: (reason: RejectReason, detail: string, m: Message | undefined) => void;
}

export type RefuseReason =
  | 'noLeader'
  | 'notLeader'
  | 'transferring'
  | 'leaderNotReady'
  | 'confChangePending'
  | 'invalidConfChange'
  | 'learnerNotCaughtUp';

export type ProposeResult =
  | { readonly status: 'appended'; readonly index: number; readonly term: number }
  | { readonly status: 'forwarded'; readonly leader: NodeId }
  | { readonly status: 'refused'; readonly reason: RefuseReason; readonly leader: NodeId; readonly detail: string };

export class RaftConfigError extends Error {
  readonly code = 'RAFT_CONFIG';

  constructor(message: string) {
    super(message);
    this.name = 'RaftConfigError';
  }
}

interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly parts: Uint8Array[];
  received: number;
}

type Resolved = Required<Omit<RaftOptions, 'onReject' | 'applied'>> & Pick<RaftOptions, 'onReject'>;

function resolve(o: RaftOptions): Resolved {
  const r: Resolved = {
    id: o.id,
    storage: o.storage,
    rng: o.rng,
    electionTick: o.electionTick ?? 10,
    heartbeatTick: o.heartbeatTick ?? 1,
    maxSizePerMsg: o.maxSizePerMsg ?? 1 << 20,
    maxInflightMsgs: o.maxInflightMsgs ?? 256,
    maxInflightBytes: o.maxInflightBytes ?? 0,
    maxCommittedBytesPerReady: o.maxCommittedBytesPerReady ?? 64 << 20,
    preVote: o.preVote ?? true,
    checkQuorum: o.checkQuorum ?? true,
    readOnly: o.readOnly ?? 'safe',
    disableProposalForwarding: o.disableProposalForwarding ?? false,
    snapshotChunkBytes: o.snapshotChunkBytes ?? 1 << 20,
    maxMessageBytes: o.maxMessageBytes ?? 64 << 20,
    promotionLag: o.promotionLag ?? 64,
    onReject: o.onReject,
  };
  if (!Number.isSafeInteger(r.id) || r.id <= 0) throw new RaftConfigError(`id must be a positive integer, got ${r.id}`);
  if (r.heartbeatTick < 1) throw new RaftConfigError('heartbeatTick must be at least 1');
  if (r.electionTick <= r.heartbeatTick) throw new RaftConfigError('electionTick must be greater than heartbeatTick');
  if (r.maxInflightMsgs < 1) throw new RaftConfigError('maxInflightMsgs must be at least 1');
  if (r.snapshotChunkBytes < 1) throw new RaftConfigError('snapshotChunkBytes must be at least 1');
  if (r.readOnly === 'lease' && !r.checkQuorum) throw new RaftConfigError('lease reads are only safe with checkQuorum');
  return r;
}

/**
 * The Raft state machine. It reacts to `tick()`, `step()` and the local requests, and queues
 * what it wants done in `msgs` and `readStates`; RaftNode turns that into Ready batches.
 * No timers, no I/O, no clock: everything that varies comes in through arguments.
 */
export class Raft {
  readonly id: NodeId;
  readonly opts: Resolved;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  msgs: Message[] = [];
  readStates: ReadState[] = [];
  leadTransferee: NodeId = NONE;
  readonly rejected = new Map<RejectReason, number>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Membership by log position; the last one is in force (it takes effect when appended). */
  private confs: { index: number; conf: ConfState }[];
  private readonly readOnly = new ReadOnlyQueue();
  private pendingReads: { context: string; from: NodeId }[] = [];
  private readSeq = 0;
  private incoming: IncomingSnapshot | undefined;

  constructor(options: RaftOptions) {
    this.opts = resolve(options);
    this.id = this.opts.id;
    const storage = this.opts.storage;
    const { hardState, confState } = storage.initialState();
    this.log = new RaftLog(storage, options.applied ?? 0, hardState.commit);
    this.tracker = new ProgressTracker(this.opts.maxInflightMsgs, this.opts.maxInflightBytes);
    const snapIndex = storage.snapshot().meta.index;
    this.confs = [{ index: snapIndex, conf: confState }];
    // Configurations in the log after the snapshot are in force even if uncommitted.
    for (let lo = snapIndex + 1; lo <= this.log.lastIndex(); ) {
      const batch = this.log.slice(lo, this.log.lastIndex() + 1, 8 << 20);
      this.noteAppended(batch);
      lo += batch.length;
      if (batch.length === 0) break;
    }
    this.tracker.setConf(this.conf, this.log.lastIndex() + 1);
    this.becomeFollower(hardState.term, NONE);
    this.vote = hardState.vote;
  }

  get conf(): ConfState {
    return this.confs[this.confs.length - 1]?.conf ?? { voters: [], learners: [] };
  }

  /** The membership in force at `index` (>= the snapshot index), for the application's snapshots. */
  confStateAt(index: number): ConfState {
    let found = this.confs[0]?.conf ?? { voters: [], learners: [] };
    for (const c of this.confs) if (c.index <= index) found = c.conf;
    return found;
  }

  /** Index of the last configuration entry in the log (the snapshot's index if none). */
  lastConfIndex(): number {
    return this.confs[this.confs.length - 1]?.index ?? 0;
  }

  promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  // ---------------------------------------------------------------- roles

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.opts.electionTick + this.opts.rng.int(this.opts.electionTick);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex() + 1);
    const self = this.tracker.progress.get(this.id);
    if (self !== undefined) self.match = this.log.stableLastIndex();
    this.readOnly.reset();
    this.pendingReads = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // A pre-candidate changes neither term nor vote, so a node that cannot win disrupts nobody.
    this.role = 'preCandidate';
    this.lead = NONE;
    this.tracker.resetVotes();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // An entry of the new term: committing it commits everything before it (figure 8).
    this.appendEntries([{ kind: 'normal', term: 0, index: 0, data: new Uint8Array(0) }]);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    this.campaign(this.opts.preVote && !transfer ? 'pre' : 'election', transfer);
  }

  private campaign(kind: 'pre' | 'election', transfer: boolean): void {
    let voteTerm: number;
    if (kind === 'pre') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.tracker.recordVote(this.id, true);
    if (this.tracker.tally() === 'won') {
      if (kind === 'pre') this.campaign('election', transfer);
      else this.becomeLeader();
      return;
    }
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send({
        type: kind === 'pre' ? 'preVote' : 'vote',
        to: id,
        term: voteTerm,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        context: transfer ? 'transfer' : '',
      });
    }
  }

  // ---------------------------------------------------------------- ticks

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.opts.electionTick) {
      this.electionElapsed = 0;
      if (this.opts.checkQuorum) {
        if (!this.tracker.quorumActive(this.id)) {
          // Without a quorum this leader can commit nothing and would serve stale lease reads.
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.tracker.progress) {
          pr.wasActive = pr.recentActive;
          pr.recentActive = id === this.id;
        }
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.opts.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat('');
    }
  }

  // ---------------------------------------------------------------- input

  private reject(reason: RejectReason, detail: string, m: Message | undefined): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
    this.opts.onReject?.(reason, detail, m);
  }

  /** Whether `id` is, or recently was, a member according to any configuration we hold. */
  private knows(id: NodeId): boolean {
    return this.confs.some((c) => isMember(c.conf, id));
  }

  step(input: Message): void {
    const invalid = validateMessage(input, this.opts.maxMessageBytes);
    if (invalid !== undefined) {
      this.reject(invalid.reason, invalid.detail, undefined);
      return;
    }
    const m = input;
    if (m.to !== this.id) return this.reject('wrongRecipient', `message for ${m.to}`, m);
    if (m.from === this.id) return this.reject('malformed', 'message from self', m);
    // Leaders and candidates may be ahead of us in membership (we learn it from the leader's
    // log; a member far behind may not know a member added since, whose vote it must still
    // answer), so their messages are accepted from anyone. Responses and requests addressed to a
    // leader must come from a member we know of. Ids outside the cluster altogether are for the
    // transport to refuse.
    const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
    const fromAhead = fromLeader || m.type === 'vote' || m.type === 'preVote' || m.type === 'timeoutNow' || m.type === 'readIndexResp';
    if (!fromAhead && !this.knows(m.from)) return this.reject('unknownMember', `${m.from} is not a member`, m);

    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        const inLease = this.opts.checkQuorum && this.lead !== NONE && this.electionElapsed < this.opts.electionTick;
        // Having heard from a live leader, a (pre)vote is more likely from a partitioned or
        // removed node than a real need; ignoring it keeps such nodes from disrupting the cluster.
        if (inLease && m.context !== 'transfer') return;
      }
      if (m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject)) {
        // Pre-votes speak of a term nobody has entered yet.
      } else {
        const elapsed = this.electionElapsed;
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
        // Only hearing from a leader or granting a vote restarts the election timer (figure 2):
        // otherwise a member that keeps losing elections — say one with a stale log and a
        // fast clock — would keep everyone else from ever timing out.
        if (m.type === 'vote') this.electionElapsed = elapsed;
      }
    } else if (m.term < this.term) {
      if ((this.opts.checkQuorum || this.opts.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
        // A deposed leader that cannot reach us with a newer term would never learn it otherwise.
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote' || m.type === 'vote') {
        // The rejection carries our term: a candidate that cannot otherwise hear of it (our
        // configuration may not include it) would keep campaigning in terms nobody answers.
        this.send({ type: m.type === 'vote' ? 'voteResp' : 'preVoteResp', to: m.from, reject: true });
      }
      return this.reject('staleTerm', `term ${m.term} < ${this.term}`, m);
    }

    if (m.type === 'vote' || m.type === 'preVote') return this.handleVoteRequest(m);
    switch (this.role) {
      case 'leader':
        return this.stepLeader(m);
      case 'candidate':
      case 'preCandidate':
        return this.stepCandidate(m);
      case 'follower':
        return this.stepFollower(m);
    }
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'preVote' && m.term > this.term);
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
      const ahead = m.logTerm > this.log.lastTerm() || (m.logTerm === this.log.lastTerm() && m.index > this.log.lastIndex());
      if (m.type === 'vote' && this.role !== 'leader' && this.vote === this.id && ahead) {
        // Refused only because we voted for ourselves this term (whether or not we lost since),
        // to a candidate whose log is ahead of ours: voters refuse us for that log, so
        // campaigning first again only keeps it from ever getting our vote. A stale member with a fast clock did that forever in the
        // simulator (seed 404 on the WAL, PreVote off). Step down, keep the vote, and give it
        // an extra election timeout. Only timing changes: terms and votes follow the rules.
        this.becomeFollower(this.term, NONE);
        this.electionElapsed = -this.opts.electionTick;
      }
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'prop':
        return this.leaderAcceptForwarded(m);
      case 'appResp':
        return this.handleAppendResponse(m);
      case 'heartbeatResp':
        return this.handleHeartbeatResponse(m);
      case 'snapResp':
        return this.handleSnapshotResponse(m);
      case 'readIndex':
        return this.leaderRead(m.context, m.from);
      case 'transferLeader':
        this.startTransfer(m.index);
        return;
      default:
        // Responses to an election already won, or messages meant for followers: nothing to do.
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'prop':
        return this.reject('droppedProposal', 'no leader', m);
      case 'app':
      case 'heartbeat':
      case 'snap':
        // Someone won this term: follow it.
        this.becomeFollower(this.term, m.from);
        return this.stepFollower(m);
      case 'voteResp':
      case 'preVoteResp': {
        if ((m.type === 'voteResp') !== (this.role === 'candidate')) return;
        this.tracker.recordVote(m.from, !m.reject);
        const result = this.tracker.tally();
        if (result === 'won') {
          if (this.role === 'preCandidate') this.campaign('election', false);
          else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'prop':
        // Requests forwarded to us are never forwarded again: two members with stale or forged
        // ideas of the leader would otherwise bounce them between each other forever.
        return this.reject('droppedProposal', 'not the leader', m);
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleAppend(m);
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send({ type: 'heartbeatResp', to: m.from, context: m.context });
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        return this.handleSnapshotChunk(m);
      case 'transferLeader':
        return;
      case 'timeoutNow':
        // The leader asks us to take over now, skipping pre-vote and its lease.
        this.hup(true);
        return;
      case 'readIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower: log and snapshot

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    if (this.log.matchTerm(m.index, m.logTerm)) {
      const ci = this.log.findConflict(m.entries);
      if (ci !== 0 && ci <= this.log.committed) {
        return this.reject('malformed', `append would overwrite committed entry ${ci}`, m);
      }
      const appended = ci === 0 ? [] : m.entries.slice(ci - (m.index + 1));
      const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries, (from) => this.rollbackConfs(from));
      if (lastNew !== undefined) {
        this.noteAppended(appended);
        this.send({ type: 'appResp', to: m.from, index: lastNew });
        return;
      }
    }
    // Tell the leader where our log could match, skipping a whole term of conflicts at once.
    const hintIndex = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    const hintTerm = this.log.term(hintIndex) ?? 0;
    this.send({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: hintIndex, logTerm: hintTerm });
  }

  private handleSnapshotChunk(m: Message): void {
    const chunk = m.snapshot;
    if (chunk === undefined) return;
    const meta = chunk.meta;
    if (meta.index <= this.log.committed) {
      this.incoming = undefined;
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
      return;
    }
    let inc = this.incoming;
    if (inc === undefined || inc.meta.index !== meta.index || inc.meta.term !== meta.term || inc.meta.checksum !== meta.checksum) {
      if (chunk.offset !== 0) {
        this.send({ type: 'snapResp', to: m.from, index: meta.index, rejectHint: 0 });
        return;
      }
      inc = { meta, parts: [], received: 0 };
      this.incoming = inc;
    }
    if (chunk.offset === inc.received && chunk.data.byteLength > 0) {
      inc.parts.push(chunk.data.slice());
      inc.received += chunk.data.byteLength;
    }
    if (inc.received < meta.size) {
      // Also the answer to a duplicate or a gap: "send from here".
      this.send({ type: 'snapResp', to: m.from, index: meta.index, rejectHint: inc.received });
      return;
    }
    this.incoming = undefined;
    const data = new Uint8Array(inc.received);
    let at = 0;
    for (const p of inc.parts) {
      data.set(p, at);
      at += p.byteLength;
    }
    if (crc32(data) !== meta.checksum) {
      this.reject('badSnapshot', `snapshot ${meta.index} fails its checksum`, m);
      this.send({ type: 'snapResp', to: m.from, index: meta.index, reject: true });
      return;
    }
    if (this.restore({ meta, data })) {
      this.send({ type: 'appResp', to: m.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: 'appResp', to: m.from, index: this.log.committed });
    }
  }

  private restore(s: Snapshot): boolean {
    if (s.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(s.meta.index, s.meta.term)) {
      // We already hold the entries; the snapshot only tells us they are committed.
      this.log.commitTo(s.meta.index);
      return false;
    }
    this.log.restore(s);
    this.confs = [{ index: s.meta.index, conf: s.meta.conf }];
    this.tracker.setConf(this.conf, this.log.lastIndex() + 1);
    return true;
  }

  // ---------------------------------------------------------------- membership

  private rollbackConfs(from: number): void {
    while (this.confs.length > 1 && (this.confs[this.confs.length - 1]?.index ?? 0) >= from) this.confs.pop();
    this.tracker.setConf(this.conf, this.log.lastIndex() + 1);
  }

  /** Configuration entries take effect as soon as they are in the log (Ongaro §4.1). */
  private noteAppended(ents: readonly Entry[]): void {
    let changed = false;
    for (const e of ents) {
      if (e.kind !== 'conf') continue;
      const next = applyConfChange(this.conf, e.change);
      // The leader refused invalid changes; one that slipped through is a no-op everywhere alike.
      if (typeof next === 'string') continue;
      this.confs.push({ index: e.index, conf: next });
      changed = true;
    }
    if (changed) {
      this.tracker.setConf(this.conf, this.log.lastIndex() + 1);
      if (this.role === 'leader') {
        const self = this.tracker.progress.get(this.id);
        if (self !== undefined) self.maybeUpdate(this.log.stableLastIndex());
      }
    }
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  proposeConfChange(cc: ConfChange): ProposeResult {
    if (this.role !== 'leader') {
      return this.refuse(this.lead === NONE ? 'noLeader' : 'notLeader', 'membership changes are proposed on the leader');
    }
    if (this.leadTransferee !== NONE) return this.refuse('transferring', `leadership is moving to ${this.leadTransferee}`);
    // Without an entry of its own term committed, a new leader might not know the latest
    // configuration is committed; changing it then is the known single-server-change bug.
    if (!this.committedInCurrentTerm()) return this.refuse('leaderNotReady', 'no entry of this term is committed yet');
    if (this.lastConfIndex() > this.log.committed) {
      this.reject('confChangePending', `configuration at ${this.lastConfIndex()} is not committed`, undefined);
      return this.refuse('confChangePending', `configuration at ${this.lastConfIndex()} is not committed yet`);
    }
    const next = applyConfChange(this.conf, cc);
    if (typeof next === 'string') {
      this.reject('invalidConfChange', next, undefined);
      return this.refuse('invalidConfChange', next);
    }
    if (cc.type === 'addVoter' && this.conf.learners.includes(cc.node)) {
      const pr = this.tracker.progress.get(cc.node);
      if (pr === undefined || pr.match + this.opts.promotionLag < this.log.lastIndex()) {
        return this.refuse('learnerNotCaughtUp', `learner ${cc.node} is at ${pr?.match ?? 0} of ${this.log.lastIndex()}`);
      }
    }
    const index = this.appendEntries([{ kind: 'conf', term: 0, index: 0, change: cc, data: new Uint8Array(0) }]);
    this.bcastAppend();
    return { status: 'appended', index, term: this.term };
  }

  // ---------------------------------------------------------------- proposals

  private refuse(reason: RefuseReason, detail: string): ProposeResult {
    return { status: 'refused', reason, leader: this.lead, detail };
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role === 'leader') {
      if (this.leadTransferee !== NONE) return this.refuse('transferring', `leadership is moving to ${this.leadTransferee}`);
      const index = this.appendEntries([{ kind: 'normal', term: 0, index: 0, data }]);
      this.bcastAppend();
      return { status: 'appended', index, term: this.term };
    }
    if (this.lead === NONE) return this.refuse('noLeader', 'no leader is known');
    if (this.opts.disableProposalForwarding) return this.refuse('notLeader', `the leader is ${this.lead}`);
    this.send({ type: 'prop', to: this.lead, entries: [{ kind: 'normal', term: 0, index: 0, data }] });
    return { status: 'forwarded', leader: this.lead };
  }

  private leaderAcceptForwarded(m: Message): void {
    if (this.leadTransferee !== NONE) return this.reject('droppedProposal', 'leadership transfer in progress', m);
    // Forwarded membership changes would bypass proposeConfChange's checks.
    const normal = m.entries.filter((e) => e.kind === 'normal');
    if (normal.length !== m.entries.length) this.reject('invalidConfChange', 'membership changes are not forwarded', m);
    if (normal.length === 0) return;
    this.appendEntries(normal.map((e) => ({ kind: 'normal', term: 0, index: 0, data: e.data })));
    this.bcastAppend();
  }

  private appendEntries(ents: readonly Entry[]): number {
    let index = this.log.lastIndex();
    const stamped = ents.map((e): Entry => ({ ...e, term: this.term, index: ++index }));
    this.log.append(stamped);
    this.noteAppended(stamped);
    // The leader's own copy counts toward commit only once persisted (see onPersisted), which
    // is what lets an application send appends before its own fsync completes.
    return index;
  }

  /** The application persisted the log up to the current stable index (RaftNode.advance). */
  onPersisted(): void {
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.log.stableLastIndex())) return;
    if (this.maybeCommit()) {
      this.bcastAppend();
      this.stepDownIfRemoved();
    }
  }

  // ---------------------------------------------------------------- leader: replication

  private maybeCommit(): boolean {
    if (!this.log.maybeCommit(this.tracker.committed(), this.term)) return false;
    this.onCommitAdvanced();
    return true;
  }

  private onCommitAdvanced(): void {
    if (this.committedInCurrentTerm() && this.pendingReads.length > 0) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.leaderRead(r.context, r.from);
    }
  }

  /** A leader removed (or demoted) by a now-committed configuration hands over by stepping down. */
  private stepDownIfRemoved(): void {
    if (this.role === 'leader' && !this.promotable() && this.lastConfIndex() <= this.log.committed) {
      this.becomeFollower(this.term, NONE);
    }
  }

  private send(fields: Partial<Message> & Pick<Message, 'type' | 'to'>): void {
    this.msgs.push(message({ from: this.id, term: this.term, ...fields }));
  }

  private bcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      // Never claim more committed than the follower is known to hold.
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.tracker.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const ents = this.log.entriesFrom(pr.next, this.opts.maxSizePerMsg);
    if (prevTerm === undefined || ents === undefined) return this.startSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.log.committed });
    pr.sentEntries(ents.length, prevIndex + ents.length, entriesSize(ents));
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): boolean {
    const snap = this.log.snapshot();
    if (snap.meta.index === 0) return false;
    pr.becomeSnapshot(snap);
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = pr.snapshot;
    if (snap === undefined) return;
    const offset = Math.min(pr.snapshotOffset, snap.meta.size);
    const data = snap.data.subarray(offset, offset + this.opts.snapshotChunkBytes);
    this.send({ type: 'snap', to, snapshot: { meta: snap.meta, offset, data } });
  }

  private handleAppendResponse(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return this.reject('unknownMember', `no progress for ${m.from}`, m);
    if (!m.reject && m.index > this.log.lastIndex()) {
      return this.reject('malformed', `acknowledges ${m.index} beyond our last index ${this.log.lastIndex()}`, m);
    }
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot') {
      if (pr.snapshot === undefined || pr.match >= pr.snapshot.meta.index) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
    } else pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      this.bcastAppend();
      this.stepDownIfRemoved();
      if (this.role !== 'leader') return;
    } else if (wasPaused) {
      this.sendAppend(m.from, true);
    }
    // Stream what the window allows.
    while (this.sendAppend(m.from, false)) {
      /* keep sending */
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from });
    }
  }

  private handleHeartbeatResponse(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return this.reject('unknownMember', `no progress for ${m.from}`, m);
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state === 'snapshot') this.sendSnapshotChunk(m.from, pr);
    else if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);

    if (m.context === '' || !this.tracker.isVoter(m.from)) return;
    const req = this.readOnly.recvAck(m.from, m.context);
    if (req === undefined || voteResult(this.conf.voters, req.acks) !== 'won') return;
    for (const done of this.readOnly.advance(req.key)) this.answerRead(done.context, done.from, done.index);
  }

  private handleSnapshotResponse(m: Message): void {
    const pr = this.tracker.progress.get(m.from);
    if (pr === undefined) return this.reject('unknownMember', `no progress for ${m.from}`, m);
    if (pr.state !== 'snapshot' || pr.snapshot === undefined || pr.snapshot.meta.index !== m.index) return;
    pr.recentActive = true;
    if (m.reject) {
      // Start over from a fresh probe; a new snapshot is taken when one is needed again.
      pr.snapshot = undefined;
      pr.becomeProbe();
      return;
    }
    pr.snapshotOffset = m.rejectHint;
    this.sendSnapshotChunk(m.from, pr);
  }

  // ---------------------------------------------------------------- reads

  readIndex(context: string): ProposeResult {
    if (this.role === 'leader') {
      this.leaderRead(context, this.id);
      return { status: 'appended', index: this.log.committed, term: this.term };
    }
    if (this.lead === NONE) return this.refuse('noLeader', 'no leader is known');
    this.send({ type: 'readIndex', to: this.lead, context });
    return { status: 'forwarded', leader: this.lead };
  }

  private leaderRead(context: string, from: NodeId): void {
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      return this.answerRead(context, from, this.log.committed);
    }
    // Until an entry of its term commits, a new leader's commit index may be behind.
    if (!this.committedInCurrentTerm()) {
      this.pendingReads.push({ context, from });
      return;
    }
    if (this.opts.readOnly === 'lease') return this.answerRead(context, from, this.log.committed);
    const req: ReadRequest = { key: `r${++this.readSeq}`, index: this.log.committed, context, from, acks: new Map() };
    req.acks.set(this.id, true);
    this.readOnly.add(req);
    this.bcastHeartbeat(req.key);
  }

  private answerRead(context: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.send({ type: 'readIndexResp', to: from, index, context });
  }

  // ---------------------------------------------------------------- leadership transfer

  transferLeader(to: NodeId): ProposeResult {
    if (this.role !== 'leader') {
      if (this.lead === NONE) return this.refuse('noLeader', 'no leader is known');
      this.send({ type: 'transferLeader', to: this.lead, index: to });
      return { status: 'forwarded', leader: this.lead };
    }
    if (!this.tracker.isVoter(to)) return this.refuse('notLeader', `${to} is not a voter`);
    this.startTransfer(to);
    return { status: 'appended', index: this.log.lastIndex(), term: this.term };
  }

  private startTransfer(to: NodeId): void {
    if (to === this.id || !this.tracker.isVoter(to) || to === this.leadTransferee) return;
    const pr = this.tracker.progress.get(to);
    if (pr === undefined) return;
    this.leadTransferee = to;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to, true);
  }

  /** Campaigns at once (as if the election timeout elapsed); for tests and bootstrapping. */
  campaignNow(): void {
    this.hup(false);
  }
}
