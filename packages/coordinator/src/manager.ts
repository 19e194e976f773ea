import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { eventsSubject } from '@shoal/core';
import { FileStorage, RaftDriver, TcpTransport, bootstrap, type Endpoint, type Entry, type NodeId, type Snapshot, type StateMachine } from 'raft-ts';
import { Allocator } from './allocator/allocator.js';
import { allocatePass } from './allocator/pass.js';
import { ApiServer } from './api/server.js';
import type { Bus } from './dispatcher/bus.js';
import { Dispatcher, type NodeLiveness } from './dispatcher/dispatcher.js';
import { eventsFromChanges } from './events/from-changes.js';
import { EventRing } from './events/ring.js';
import { orchestrate } from './orchestrator/orchestrator.js';
import { schedulePass } from './scheduler/pass.js';
import { decodeCommand, type Command, type ObjectCommand } from './store/commands.js';
import { Store } from './store/store.js';

export interface ManagerOptions {
  cluster: string;
  /** This coordinator's Raft member id, and every member's Raft endpoint (its own included). */
  id: NodeId;
  peers: ReadonlyMap<NodeId, Endpoint>;
  dataDir: string;
  bus: Bus;
  tickMs?: number;
  electionTick?: number;
  heartbeatPeriodMs?: number;
  missedHeartbeats?: number;
  /** The host this coordinator runs on, as its agent registers it; default: the OS's hostname. */
  hostname?: string;
  /** How many recent events are kept for `events.since`. */
  eventRingSize?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A Raft entry of the store: the command, and the leader's clock when it proposed it. */
interface StoreEntry {
  at: string;
  command: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The store as Raft's state machine: every coordinator applies the same entries the same way. */
class StoreMachine implements StateMachine {
  /** Refusals by entry index, for the proposer on this coordinator to learn its write failed. */
  readonly refusals = new Map<number, Error>();

  constructor(
    readonly store: Store,
    private readonly log: ManagerOptions['log'],
  ) {}

  apply(entry: Entry): void {
    if (entry.kind !== 'normal' || entry.data.byteLength === 0) return;
    let e: StoreEntry;
    let command: Command;
    try {
      e = JSON.parse(dec.decode(entry.data)) as StoreEntry;
      command = decodeCommand(e.command);
    } catch (err) {
      // refused the same way on every coordinator, so they stay identical
      this.log?.('entry refused', { index: entry.index, err: err instanceof Error ? err.message : String(err) });
      return;
    }
    const r = this.store.apply(command, { index: entry.index, at: e.at });
    if (!r.ok) {
      this.log?.('command refused', { index: entry.index, code: r.error.code, err: r.error.message });
      this.refusals.set(entry.index, r.error);
      // only this coordinator's own proposals are looked up, right after they apply
      if (this.refusals.size > 1000) this.refusals.delete(this.refusals.keys().next().value ?? 0);
    }
  }

  restore(snapshot: Snapshot): void {
    this.store.restore(JSON.parse(dec.decode(snapshot.data)));
  }
}

/**
 * One coordinator: its Raft member, the store applied from the log, and — only while it leads —
 * the orchestrator, allocator, scheduler and dispatcher, rebuilt from the store each time it
 * takes the lead and stopped when it loses it.
 */
export class Manager {
  readonly store = new Store();
  /** Every coordinator keeps the events it applied, so a new leader can replay them at once. */
  readonly events: EventRing;
  readonly hostname: string;
  readonly #unwatchEvents: () => void;
  #driver: RaftDriver | undefined;
  #machine: StoreMachine | undefined;
  #transport: TcpTransport | undefined;
  #storage: FileStorage | undefined;
  #watch: NodeJS.Timeout | undefined;
  #lead: { dispatcher: Dispatcher; allocator: Allocator; unsubscribe: () => void; wake: NodeJS.Timeout | undefined } | undefined;
  #passQueued = false;
  #passRunning = false;
  #passAgain = false;
  #establishing = false;
  #api: ApiServer | undefined;
  #ids = 0;

  constructor(private readonly o: ManagerOptions) {
    this.events = new EventRing(o.eventRingSize);
    this.hostname = o.hostname ?? hostname();
    this.#unwatchEvents = this.store.subscribe((changes, at) => {
      const events = eventsFromChanges(changes, at, (id) => this.store.get('service', id)?.spec.name);
      this.events.push(events);
      // only the leader publishes, so a watcher sees each event once
      if (!this.#lead) return;
      const subject = eventsSubject(this.o.cluster);
      for (const e of events) this.o.bus.publish(subject, enc.encode(JSON.stringify(e)));
    });
  }

  /** The leader's memory of its agents' sessions; empty on a follower. */
  liveness(): ReadonlyMap<string, NodeLiveness> {
    return this.#lead?.dispatcher.liveness() ?? new Map();
  }

  get leading(): boolean {
    return this.#lead !== undefined;
  }

  async start(): Promise<void> {
    const dir = join(this.o.dataDir, 'raft');
    mkdirSync(dir, { recursive: true });
    const { storage, report } = FileStorage.open(dir);
    if (report.tornTail !== undefined) this.o.log?.('raft log: a torn tail was truncated', { segment: report.tornTail.segment });
    if (storage.lastIndex() === 0 && storage.snapshot().meta.index === 0) bootstrap(storage, [...this.o.peers.keys()]);
    this.#storage = storage;
    const self = this.o.peers.get(this.o.id);
    if (!self) throw new Error(`the peers must include this coordinator (${this.o.id})`);
    this.#transport = new TcpTransport({ listen: self, peers: this.o.peers });
    await this.#transport.start();
    this.#driver = new RaftDriver({
      id: this.o.id,
      storage,
      transport: this.#transport,
      stateMachine: (this.#machine = new StoreMachine(this.store, this.o.log)),
      tickMs: this.o.tickMs ?? 50,
      electionTick: this.o.electionTick ?? 10,
    });
    this.#driver.start();
    this.#api = new ApiServer({ cluster: this.o.cluster, bus: this.o.bus, backend: this, leading: () => this.leading, ...(this.o.log ? { log: this.o.log } : {}) });
    this.#api.start();
    this.#watch = setInterval(() => this.watchLeadership(), this.o.tickMs ?? 50);
  }

  async stop(): Promise<void> {
    clearInterval(this.#watch);
    this.#unwatchEvents();
    this.#api?.stop();
    this.stepDown();
    await this.#driver?.stop();
    await this.#transport?.close();
    this.#storage?.close();
  }

  /**
   * Proposes a command through Raft; resolves once this coordinator has applied it, and rejects
   * with the store's refusal (a stale version, a name taken) if it was refused when applied.
   */
  async propose(command: Command): Promise<void> {
    const driver = this.#driver;
    if (!driver) throw new Error('coordinator not started');
    const entry: StoreEntry = { at: new Date().toISOString(), command };
    const { index } = await driver.propose(enc.encode(JSON.stringify(entry)), AbortSignal.timeout(10_000));
    const refused = this.#machine?.refusals.get(index);
    if (refused) {
      this.#machine?.refusals.delete(index);
      throw refused;
    }
  }

  private watchLeadership(): void {
    const status = this.#driver?.status();
    const leader = status?.role === 'leader';
    if (leader && !this.#lead && !this.#establishing) void this.establish(status.term);
    else if (!leader && this.#lead) this.stepDown();
  }

  /**
   * A new leader may not yet have applied what earlier leaders committed: acting on that store
   * would, say, re-create tasks that exist. So it first commits an empty entry of its own term;
   * once that is applied, so is everything before it, and only then does it take the lead.
   */
  private async establish(term: number): Promise<void> {
    this.#establishing = true;
    try {
      await this.#driver?.propose(new Uint8Array(0), AbortSignal.timeout(10_000));
      const status = this.#driver?.status();
      if (status?.role === 'leader' && status.term === term && !this.#lead) this.takeLead();
    } catch (err) {
      this.o.log?.('could not establish leadership', { err: err instanceof Error ? err.message : String(err) });
    } finally {
      this.#establishing = false;
    }
  }

  private takeLead(): void {
    const allocator = Allocator.rebuild({ networks: this.store.list('network'), services: this.store.list('service'), tasks: this.store.list('task') });
    for (const p of allocator.rebuildProblems) this.o.log?.('allocator rebuild', { problem: p });
    const dispatcher = new Dispatcher({
      cluster: this.o.cluster,
      store: this.store,
      bus: this.o.bus,
      propose: (c) => this.propose(c),
      ...(this.o.heartbeatPeriodMs !== undefined ? { heartbeatPeriodMs: this.o.heartbeatPeriodMs } : {}),
      ...(this.o.missedHeartbeats !== undefined ? { missedHeartbeats: this.o.missedHeartbeats } : {}),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
    const unsubscribe = this.store.subscribe(() => this.queuePass());
    this.#lead = { dispatcher, allocator, unsubscribe, wake: undefined };
    dispatcher.start();
    this.#api?.lead(true);
    this.o.log?.('leading', { id: this.o.id });
    this.queuePass();
  }

  private stepDown(): void {
    const lead = this.#lead;
    if (!lead) return;
    this.#lead = undefined;
    this.#api?.lead(false);
    lead.dispatcher.stop();
    lead.unsubscribe();
    clearTimeout(lead.wake);
    this.o.log?.('no longer leading', { id: this.o.id });
  }

  /**
   * Passes run one at a time: two overlapping ones would read the same store and both fill the
   * same empty slot. A change during a pass asks for one more pass after it.
   */
  private queuePass(): void {
    if (!this.#lead) return;
    if (this.#passRunning) {
      this.#passAgain = true;
      return;
    }
    if (this.#passQueued) return;
    this.#passQueued = true;
    setImmediate(() => {
      this.#passQueued = false;
      this.#passRunning = true;
      this.pass()
        .catch((err: unknown) => this.o.log?.('leader pass failed', { err: err instanceof Error ? err.message : String(err) }))
        .finally(() => {
          this.#passRunning = false;
          if (this.#passAgain) {
            this.#passAgain = false;
            this.queuePass();
          }
        });
    });
  }

  /**
   * One round of the leader's components; each proposal's commit queues the next round. Task
   * reports commit between a component's read and its proposal: a batch refused for a stale
   * version is simply computed again from the store as it now is.
   */
  private async pass(): Promise<void> {
    const lead = this.#lead;
    if (!lead) return;
    const at = new Date().toISOString();
    const batch = async (commands: ObjectCommand[]): Promise<void> => {
      if (commands.length === 0) return;
      try {
        await this.propose({ op: 'batch', commands });
      } catch (err) {
        if ((err as { code?: string }).code === 'version_conflict') this.queuePass();
        else throw err;
      }
    };
    const orchestration = orchestrate(this.store, { now: Date.now(), newId: () => `t${Date.now().toString(36)}${(++this.#ids).toString(36)}` });
    for (const b of orchestration.batches) await batch(b);
    if (orchestration.wakeAt !== undefined) {
      clearTimeout(lead.wake);
      lead.wake = setTimeout(() => this.queuePass(), Math.max(0, orchestration.wakeAt - Date.now()));
    }
    await batch(allocatePass(this.store, lead.allocator, at).commands);
    await batch(schedulePass(this.store, at).commands);
  }
}
