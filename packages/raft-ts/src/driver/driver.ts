import { randomInt } from 'node:crypto';
import { RaftNode, type Status } from '../core/node.js';
import type { RaftOptions, RefuseReason } from '../core/raft.js';
import { SeededRng, type Rng } from '../core/rng.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, Ready, Snapshot } from '../core/types.js';
import { sendableBeforePersist } from '../core/types.js';
import type { Storage, StorageWriter } from '../storage/storage.js';
import type { Transport } from './transport.js';

/** The replicated state machine the driver applies committed entries to. */
export interface StateMachine {
  /** Committed entries, in index order, each exactly once per start. */
  apply(entry: Entry): void;
  /** Replaces the whole state with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void;
}

export interface DurableStorage extends Storage, StorageWriter {
  /** Makes everything written so far durable (fsync); absent for storage that needs none. */
  sync?(): Promise<void>;
}

export interface DriverOptions extends Omit<RaftOptions, 'storage' | 'rng'> {
  readonly storage: DurableStorage;
  readonly transport: Transport;
  readonly stateMachine: StateMachine;
  /** Milliseconds per tick; electionTick and heartbeatTick count in ticks. */
  readonly tickMs?: number;
  /** Defaults to a cryptographically seeded generator; inject one to replay. */
  readonly rng?: Rng;
}

export type RaftErrorCode = RefuseReason | 'stopped' | 'superseded' | 'aborted';

export class RaftError extends Error {
  readonly code: RaftErrorCode;
  /** The leader as known when the request failed (0 if none). */
  readonly leader: NodeId;

  constructor(code: RaftErrorCode, message: string, leader: NodeId, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RaftError';
    this.code = code;
    this.leader = leader;
  }
}

interface Waiter {
  readonly index: number;
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (err: RaftError) => void;
}

export type DriverState = 'initialized' | 'running' | 'stopped';

/**
 * Runs a RaftNode in a Node process: a timer ticks it, the transport feeds it, and each Ready is
 * persisted (synced when it must be), sent, and applied, strictly in that order. Proposals made
 * while a batch is being synced go into the next batch, so one fsync covers many of them.
 */
export class RaftDriver {
  private readonly node: RaftNode;
  private readonly opts: DriverOptions;
  private state: DriverState = 'initialized';
  private timer: NodeJS.Timeout | undefined;
  private unlisten: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private applied: number;
  private readSeq = 0;
  private readonly commits: Waiter[] = [];
  private readonly reads = new Map<string, { resolve: () => void; reject: (e: RaftError) => void }>();
  private readonly readyReads: { index: number; resolve: () => void }[] = [];
  private stopping: Promise<void> | undefined;
  private kickScheduled = false;
  /** A Ready is being persisted: the drain loop is waiting for storage. */
  private persisting = false;

  constructor(options: DriverOptions) {
    this.opts = options;
    const snap = options.storage.snapshot();
    if (snap.meta.index > 0) options.stateMachine.restore(snap);
    this.applied = snap.meta.index;
    this.node = new RaftNode({
      ...options,
      storage: options.storage,
      rng: options.rng ?? new SeededRng(randomInt(2 ** 31)),
      applied: this.applied,
    });
  }

  get id(): NodeId {
    return this.node.id;
  }

  status(): Status {
    return this.node.status();
  }

  /** The membership as of `index`, to record in a snapshot taken there. */
  confStateAt(index: number): ConfState {
    return this.node.confStateAt(index);
  }

  start(): void {
    if (this.state !== 'initialized') throw new RaftError('stopped', `driver is ${this.state}`, 0);
    this.state = 'running';
    this.unlisten = this.opts.transport.listen(this.node.id, (m: Message) => {
      if (this.state !== 'running') return;
      this.node.step(m);
      this.kick();
    });
    this.timer = setInterval(() => {
      this.node.tick();
      this.kick();
    }, this.opts.tickMs ?? 100);
    this.kick();
  }

  /** Stops ticking and listening, waits for the batch in progress, and fails pending requests. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopped';
      clearInterval(this.timer);
      this.unlisten?.();
      await this.loop;
      const err = (): RaftError => new RaftError('stopped', 'the raft driver stopped', this.node.status().leader);
      for (const w of this.commits.splice(0)) w.reject(err());
      for (const r of this.reads.values()) r.reject(err());
      this.reads.clear();
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Resolves once `data` is committed and applied here; rejects if refused, superseded by a new
   * leader's entry, or aborted through `signal` (then the outcome is unknown).
   */
  propose(data: Uint8Array, signal?: AbortSignal): Promise<{ index: number; term: number }> {
    if (this.state !== 'running') return Promise.reject(new RaftError('stopped', `driver is ${this.state}`, 0));
    const r = this.node.propose(data);
    this.kick();
    if (r.status === 'refused') return Promise.reject(new RaftError(r.reason, r.detail, r.leader));
    if (r.status === 'forwarded') {
      // The entry's index is unknown here; the caller learns the outcome through the state machine.
      return Promise.resolve({ index: 0, term: 0 });
    }
    return this.awaitCommit(r.index, r.term, signal);
  }

  private awaitCommit(index: number, term: number, signal: AbortSignal | undefined): Promise<{ index: number; term: number }> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        index,
        term,
        resolve: () => {
          forget();
          resolve({ index, term });
        },
        reject: (err) => {
          forget();
          reject(err);
        },
      };
      this.commits.push(w);
      const forget = this.onAbort(signal, () => {
        const i = this.commits.indexOf(w);
        if (i >= 0) this.commits.splice(i, 1);
        reject(new RaftError('aborted', `proposal ${index}@${term} aborted; it may still commit`, this.node.status().leader));
      });
    });
  }

  /**
   * Proposes one membership change on the leader (changes are never forwarded); resolves once it
   * is committed and applied here, with the same failure modes as `propose`.
   */
  proposeConfChange(change: ConfChange, signal?: AbortSignal): Promise<{ index: number; term: number }> {
    if (this.state !== 'running') return Promise.reject(new RaftError('stopped', `driver is ${this.state}`, 0));
    const r = this.node.proposeConfChange(change);
    this.kick();
    if (r.status === 'refused') return Promise.reject(new RaftError(r.reason, r.detail, r.leader));
    if (r.status === 'forwarded') return Promise.reject(new RaftError('notLeader', 'membership changes are proposed on the leader', r.leader));
    return this.awaitCommit(r.index, r.term, signal);
  }

  /**
   * Resolves when the local state machine reflects every write committed before the call. A
   * request lost with a leadership change never settles by itself: pass a `signal` with a timeout.
   */
  linearizableRead(signal?: AbortSignal): Promise<void> {
    if (this.state !== 'running') return Promise.reject(new RaftError('stopped', `driver is ${this.state}`, 0));
    const context = `${this.node.id}/${++this.readSeq}`;
    const r = this.node.readIndex(context);
    this.kick();
    if (r.status === 'refused') return Promise.reject(new RaftError(r.reason, r.detail, r.leader));
    return new Promise((resolve, reject) => {
      this.reads.set(context, {
        resolve: () => {
          forget();
          resolve();
        },
        reject: (err) => {
          forget();
          reject(err);
        },
      });
      const forget = this.onAbort(signal, () => {
        if (this.reads.delete(context)) reject(new RaftError('aborted', 'read aborted', this.node.status().leader));
      });
    });
  }

  /** Calls `abort` when the signal fires; returns a function that stops listening. */
  private onAbort(signal: AbortSignal | undefined, abort: () => void): () => void {
    if (signal === undefined) return () => undefined;
    if (signal.aborted) {
      abort();
      return () => undefined;
    }
    signal.addEventListener('abort', abort, { once: true });
    return () => signal.removeEventListener('abort', abort);
  }

  transferLeader(to: NodeId): void {
    this.node.transferLeader(to);
    this.kick();
  }

  /**
   * Schedules a drain at the end of this event-loop turn rather than at once: every request and
   * message that arrived in the same turn then shares one Ready, so one write and one fsync,
   * whether the fsync blocks or not.
   */
  private kick(): void {
    if (this.kickScheduled || (this.loop !== undefined && !this.persisting)) return;
    this.kickScheduled = true;
    setImmediate(() => {
      this.kickScheduled = false;
      if (this.persisting) this.applyTaken();
      else this.startDrain();
    });
  }

  /** While a Ready is being persisted: apply what has committed since (see RaftNode.takeCommitted). */
  private applyTaken(): void {
    const ents = this.node.takeCommitted();
    if (ents.length === 0) return;
    this.applyEntries(ents);
    this.serveReads();
  }

  private startDrain(): void {
    if (this.loop !== undefined || this.state !== 'running') return;
    if (!this.node.hasReady()) return;
    this.loop = this.drain()
      .catch((err: unknown) => {
        // Storage failures leave the member unable to promise durability: stop it.
        this.state = 'stopped';
        clearInterval(this.timer);
        this.unlisten?.();
        for (const w of this.commits.splice(0)) w.reject(new RaftError('stopped', 'storage failed', 0, { cause: err }));
        for (const r of this.reads.values()) r.reject(new RaftError('stopped', 'storage failed', 0, { cause: err }));
        this.reads.clear();
      })
      .finally(() => {
        this.loop = undefined;
        if (this.state === 'running') this.kick();
      });
  }

  private async drain(): Promise<void> {
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      // A leader's appends go out while its own fsync runs; everything else waits for it.
      const early = rd.messages.filter(sendableBeforePersist);
      if (this.state === 'running' && early.length > 0) this.opts.transport.send(early);
      // Committed entries are durable on a quorum, so they need not wait for this member's
      // fsync (a client's answer then waits for the fastest quorum, not for this disk); nor do
      // those that commit while it runs (applyTaken). A snapshot is installed first, though.
      const before = rd.snapshot === undefined ? rd.committedEntries.length : 0;
      this.applyEntries(rd.committedEntries.slice(0, before));
      this.persisting = true;
      try {
        await this.persist(rd);
      } finally {
        this.persisting = false;
      }
      const rest = early.length === 0 ? rd.messages : rd.messages.filter((m) => !sendableBeforePersist(m));
      if (this.state === 'running') this.opts.transport.send(rest);
      this.apply(rd, before);
      this.node.advance();
    }
  }

  private async persist(rd: Ready): Promise<void> {
    const s = this.opts.storage;
    if (rd.snapshot !== undefined) s.applySnapshot(rd.snapshot);
    s.append(rd.entries);
    if (rd.hardState !== undefined) s.setHardState(rd.hardState);
    if (rd.mustSync) await s.sync?.();
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const e of entries) {
      this.opts.stateMachine.apply(e);
      this.applied = e.index;
      this.settleCommits(e);
    }
  }

  private apply(rd: Ready, alreadyApplied: number): void {
    if (rd.snapshot !== undefined) {
      this.opts.stateMachine.restore(rd.snapshot);
      this.applied = rd.snapshot.meta.index;
      // Their entries are inside the snapshot or were replaced; which, we cannot tell.
      while (this.commits.length > 0 && (this.commits[0]?.index ?? Infinity) <= this.applied) {
        this.commits.shift()?.reject(new RaftError('aborted', 'state replaced by a snapshot; outcome unknown', this.node.status().leader));
      }
    }
    this.applyEntries(rd.committedEntries.slice(alreadyApplied));
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r === undefined) continue;
      this.reads.delete(rs.context);
      this.readyReads.push({ index: rs.index, resolve: r.resolve });
    }
    this.serveReads();
  }

  private serveReads(): void {
    for (let i = this.readyReads.length - 1; i >= 0; i--) {
      const r = this.readyReads[i];
      if (r !== undefined && r.index <= this.applied) {
        this.readyReads.splice(i, 1);
        r.resolve();
      }
    }
  }

  private settleCommits(e: Entry): void {
    while (this.commits.length > 0) {
      const w = this.commits[0];
      if (w === undefined || w.index > e.index) return;
      this.commits.shift();
      if (w.index === e.index && w.term === e.term) w.resolve();
      else w.reject(new RaftError('superseded', `entry ${w.index}@${w.term} was replaced by a new leader`, this.node.status().leader));
    }
  }
}
