import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileStorage, RaftDriver, TcpTransport, bootstrap, type Endpoint, type Entry, type NodeId, type Snapshot, type StateMachine } from 'raft-ts';
import { Allocator } from './allocator/allocator.js';
import { allocatePass } from './allocator/pass.js';
import { ApiServer } from './api/server.js';
import type { Bus } from './dispatcher/bus.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
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
    if (!r.ok) this.log?.('command refused', { index: entry.index, code: r.error.code, err: r.error.message });
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
  #driver: RaftDriver | undefined;
  #transport: TcpTransport | undefined;
  #storage: FileStorage | undefined;
  #watch: NodeJS.Timeout | undefined;
  #lead: { dispatcher: Dispatcher; allocator: Allocator; unsubscribe: () => void; wake: NodeJS.Timeout | undefined } | undefined;
  #passQueued = false;
  #api: ApiServer | undefined;
  #ids = 0;

  constructor(private readonly o: ManagerOptions) {}

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
      stateMachine: new StoreMachine(this.store, this.o.log),
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
    this.#api?.stop();
    this.stepDown();
    await this.#driver?.stop();
    await this.#transport?.close();
    this.#storage?.close();
  }

  /** Proposes a command through Raft; resolves once this coordinator has applied it. */
  async propose(command: Command): Promise<void> {
    const driver = this.#driver;
    if (!driver) throw new Error('coordinator not started');
    const entry: StoreEntry = { at: new Date().toISOString(), command };
    await driver.propose(enc.encode(JSON.stringify(entry)), AbortSignal.timeout(10_000));
  }

  private watchLeadership(): void {
    const status = this.#driver?.status();
    const leader = status?.role === 'leader';
    if (leader && !this.#lead) this.takeLead();
    else if (!leader && this.#lead) this.stepDown();
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

  private queuePass(): void {
    if (this.#passQueued || !this.#lead) return;
    this.#passQueued = true;
    setImmediate(() => {
      this.#passQueued = false;
      void this.pass().catch((err: unknown) => this.o.log?.('leader pass failed', { err: err instanceof Error ? err.message : String(err) }));
    });
  }

  /** One round of the leader's components; each proposal's commit queues the next round. */
  private async pass(): Promise<void> {
    const lead = this.#lead;
    if (!lead) return;
    const at = new Date().toISOString();
    const batch = async (commands: ObjectCommand[]): Promise<void> => {
      if (commands.length > 0) await this.propose({ op: 'batch', commands });
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
