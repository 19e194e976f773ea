import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CLUSTER_OBJECT_ID, PROTOCOL_VERSION, ShoalError, decodeMemberReport, eventsSubject } from '@shoal/core';
import { FileStorage, RaftDriver, RaftError, TcpTransport, bootstrap, type ConfChange, type Endpoint, type NodeId, type RaftErrorCode, type Status } from 'raft-ts';
import { Allocator } from './allocator/allocator.js';
import { allocatePass } from './allocator/pass.js';
import { ApiServer } from './api/server.js';
import { checkJoinToken, createClusterObject } from './api/tokens.js';
import { coordinatorApiPrefix, coordinatorStatusSubject, storeDigest, type CoordinatorStatus } from './api/status.js';
import { memberRows, type RaftView } from './api/cluster-status.js';
import type { Bus } from './dispatcher/bus.js';
import { Dispatcher, type NodeLiveness } from './dispatcher/dispatcher.js';
import { HeardNodes } from './dispatcher/heard.js';
import { eventsFromChanges } from './events/from-changes.js';
import { EventRing } from './events/ring.js';
import { orchestrate } from './orchestrator/orchestrator.js';
import { schedulePass } from './scheduler/pass.js';
import type { Command, ObjectCommand } from './store/commands.js';
import { StoreMachine, type StoreEntry } from './state-machine.js';
import type { AppliedRequest, RequestTag } from './store/requests.js';
import { Store } from './store/store.js';
import { MemberDirectory, type MemberRecord } from './membership/directory.js';
import { Membership, requestJoin } from './membership/membership.js';
import { nodeRoleUpdates } from './membership/roles.js';

export interface ManagerOptions {
  cluster: string;
  /** This coordinator's Raft member id, and every member's Raft endpoint (its own included). */
  id: NodeId;
  peers: ReadonlyMap<NodeId, Endpoint>;
  /**
   * Join a running cluster through these members instead of founding one with `peers` (then
   * `peers` may be empty and `listen` is this coordinator's Raft endpoint).
   */
  join?: ReadonlyMap<NodeId, Endpoint> | undefined;
  listen?: Endpoint | undefined;
  /** Join as a standby (a learner) until promoted, rather than as a voter. */
  standby?: boolean | undefined;
  /** The name `node promote`/`node demote` know this coordinator by (default: the hostname). */
  name?: string | undefined;
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
  /** A snapshot every this many applied entries (default 10,000), keeping `snapshotKeep` (500) behind it. */
  snapshotEvery?: number;
  snapshotKeep?: number;
  /** Raft log segment size (default 64 MiB); only whole segments behind a snapshot are deleted. */
  walSegmentBytes?: number;
  /** The manager join token a joiner presents to the leader. */
  joinToken?: string | undefined;
  /** The leader refused to add this coordinator (a wrong token, a taken id): it will never serve. */
  onJoinRefused?: (err: ShoalError) => void;
}

const enc = new TextEncoder();
/** New tasks allocated, and pending tasks placed, per pass at most: a big deploy goes in slices. */
const SCHEDULE_SLICE = 3000;

/** Raft's answers to a proposal made as the lead moved: the API's writes are sent again then. */
const LEAD_LOST: ReadonlySet<RaftErrorCode> = new Set(['noLeader', 'notLeader', 'transferring', 'leaderNotReady', 'superseded', 'aborted']);

/** A refused Raft frame is logged at most this often per reason. */
const REFUSED_FRAME_LOG_MS = 10_000;
/** How long `cluster status` waits for a member to report its own Raft state. */
const MEMBER_REPORT_MS = 1000;

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
  /** Per reason: when a refused Raft frame was last logged, and how many came since. */
  readonly #refusedFrames = new Map<string, { loggedAt: number; since: number }>();
  #storage: FileStorage | undefined;
  #watch: NodeJS.Timeout | undefined;
  #lead: { dispatcher: Dispatcher; allocator: Allocator; unsubscribe: () => void; wake: NodeJS.Timeout | undefined } | undefined;
  #passQueued = false;
  #passRunning = false;
  #passAgain = false;
  #establishing = false;
  #api: ApiServer | undefined;
  #serving = false;
  #removed = false;
  #ids = 0;
  #statusUnsub: (() => void) | undefined;
  readonly #heard: HeardNodes;
  #joining: AbortController | undefined;
  #snapshotRetryAt = 0;
  /** The voters and member names the node roles were last reconciled with. */
  #rolesSeen = '';
  readonly directory: MemberDirectory;
  readonly membership: Membership;
  readonly name: string;

  constructor(private readonly o: ManagerOptions) {
    const listen = o.listen ?? o.peers.get(o.id);
    if (!listen) throw new ShoalError('usage', `the peers must include this coordinator (${o.id}), or a listen address be given`, 'pass --listen HOST:PORT');
    this.directory = new MemberDirectory(new Map([...(o.join ?? []), ...o.peers, [o.id, listen]]));
    this.name = o.name ?? hostname();
    this.directory.onChange((r) => this.memberChanged(r));
    this.membership = new Membership({
      id: o.id,
      cluster: o.cluster,
      bus: o.bus,
      directory: this.directory,
      status: () => this.raftStatus(),
      proposeRecord: (r) => this.proposeEntry({ at: new Date().toISOString(), member: r }).then(() => undefined),
      confChange: (cc: ConfChange) => this.driver().proposeConfChange(cc, AbortSignal.timeout(10_000)).then(() => undefined),
      barrier: async () => (await this.driver().propose(new Uint8Array(0), AbortSignal.timeout(10_000))).index,
      transferLeader: (to) => this.driver().transferLeader(to),
      checkJoinToken: (token) => checkJoinToken(this.store, 'manager', token),
      log: o.log,
    });
    this.#heard = new HeardNodes(o.bus, o.cluster);
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

  private driver(): RaftDriver {
    if (!this.#driver) throw new ShoalError('not_started', 'the coordinator is not started');
    return this.#driver;
  }

  raftStatus(): Status {
    return this.driver().status();
  }

  /** Whether this coordinator serves the API (it is a member, and not on its way out). */
  get serving(): boolean {
    return this.#serving;
  }

  get member(): number {
    return Number(this.o.id);

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
    const { storage, report } = FileStorage.open(dir, this.o.walSegmentBytes !== undefined ? { segmentBytes: this.o.walSegmentBytes } : {});
    if (report.tornTail !== undefined) this.o.log?.('raft log: a torn tail was truncated', { segment: report.tornTail.segment });
    const fresh = storage.lastIndex() === 0 && storage.snapshot().meta.index === 0;
    // A joiner starts with an empty log: the leader's replication brings it the membership.
    if (fresh && !this.o.join) bootstrap(storage, [...this.o.peers.keys()]);
    this.#storage = storage;
    const self = this.directory.endpoints.get(this.o.id);
    if (!self) throw new Error(`no Raft endpoint for this coordinator (${this.o.id})`);
    // the transport reads the directory's endpoints on every send, so members added later are reached
    this.#transport = new TcpTransport({ listen: self, peers: this.directory.endpoints, onReject: (reason, detail) => this.refusedRaftFrame(reason, detail) });
    await this.#transport.start();
    this.#driver = new RaftDriver({
      id: this.o.id,
      storage,
      transport: this.#transport,
      stateMachine: (this.#machine = new StoreMachine(this.store, this.directory, this.o.log)),
      tickMs: this.o.tickMs ?? 50,
      electionTick: this.o.electionTick ?? 10,
    });
    this.#driver.start();
    this.#heard.start();
    this.#api = new ApiServer({
      cluster: this.o.cluster,
      member: Number(this.o.id),
      bus: this.o.bus,
      backend: this,
      leading: () => this.leading,
      leaderId: () => this.#driver?.status().leader,
      readBarrier: () => this.linearizableRead(),
      direct: coordinatorApiPrefix(this.o.cluster, this.o.id),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
    this.#statusUnsub = this.o.bus.subscribe(coordinatorStatusSubject(this.o.cluster, this.o.id), (m) => m.respond(enc.encode(JSON.stringify(this.describe()))));
    this.#watch = setInterval(() => this.watchLeadership(), this.o.tickMs ?? 50);
    if (this.o.join && !this.isMember()) void this.join();
  }

  /**
   * A Raft frame refused before the core saw it (it does not decode, is too large, or claims a
   * sender that is not a member: a peer on another version or cluster, a stray scanner). Logged
   * at most once per reason every 10 s, with how many came since the last line, so a flood
   * cannot fill the log; `rejections()` on the transport keeps the totals.
   */
  private refusedRaftFrame(reason: string, detail: string): void {
    const now = Date.now();
    const seen = this.#refusedFrames.get(reason) ?? { loggedAt: -Infinity, since: 0 };
    seen.since++;
    if (now - seen.loggedAt >= REFUSED_FRAME_LOG_MS) {
      this.o.log?.('raft message refused', { reason, detail, count: seen.since });
      seen.loggedAt = now;
      seen.since = 0;
    }
    this.#refusedFrames.set(reason, seen);
  }

  /** Every member's record carries its name; a founder (or a renamed member) announces itself once it serves. */
  private announce(): void {
    const mine = this.directory.get(this.o.id);
    if (this.#joining || this.#removed || (mine && mine.name === this.name)) return;
    void this.join();
  }

  private isMember(): boolean {
    const conf = this.#driver?.status().conf;
    return conf !== undefined && (conf.voters.includes(this.o.id) || conf.learners.includes(this.o.id));
  }

  /** Asks the leader to add this coordinator; until then it serves nothing. */
  private async join(): Promise<void> {
    const self = this.directory.endpoints.get(this.o.id);
    if (!self) return;
    const joining = (this.#joining = new AbortController());
    try {
      const members = await requestJoin(this.o.bus, this.o.cluster, { kind: 'coordinator.join', id: this.o.id, host: self.host, port: self.port, name: this.name, standby: this.o.standby ?? false, ...(this.o.joinToken ? { token: this.o.joinToken } : {}) }, joining.signal);
      for (const m of members) this.directory.learn(m.id, { host: m.host, port: m.port });
      this.o.log?.('joined the cluster', { id: this.o.id, members: members.map((m) => m.id) });
    } catch (err) {
      if (!joining.signal.aborted) this.o.log?.('could not join the cluster', { err: err instanceof Error ? err.message : String(err) });
      if (!joining.signal.aborted && err instanceof ShoalError && !this.isMember()) this.o.onJoinRefused?.(err);
    } finally {
      this.#joining = undefined;
    }
  }

  private memberChanged(r: MemberRecord): void {
    if (r.id === this.o.id && r.leaving && !this.#removed) {
      this.#removed = true;
      this.o.log?.('removed from the cluster: no longer serving; this process can be stopped', { id: this.o.id });
    }
  }

  /** Serve the API while a member that is not leaving; a joiner starts once it is added. */
  private watchServing(): void {
    const want = !this.#removed && this.isMember();
    if (want && !this.#serving) {
      this.#api?.start();
      this.announce();
    }
    if (!want && this.#serving) this.#api?.stop();
    this.#serving = want;
  }

  /**
   * Waits until this coordinator has applied everything committed before the call (Raft's
   * ReadIndex: the leader confirms it still leads and names its commit index), so a read
   * served here sees every write acknowledged anywhere before it.
   */
  async linearizableRead(): Promise<void> {
    try {
      await this.driver().linearizableRead(AbortSignal.timeout(5000));
    } catch (err) {
      throw new ShoalError('no_leader', 'this coordinator cannot confirm it is up to date: no leader answers', 'try again in a few seconds; if it persists, check that a majority of coordinators run', { cause: err });
    }
  }

  /**
   * The members as this leader's Raft sees them (undefined on a follower, which cannot say who is
   * reachable); with `reports`, each member also asked for its own term and applied index, a
   * second at most, in parallel.
   */
  async raftView(reports: boolean): Promise<RaftView | undefined> {
    if (!this.leading) return undefined;
    const s = this.raftStatus();
    const members = memberRows(s, (id) => this.directory.describe(id)?.name ?? String(id));
    if (reports) {
      await Promise.all(
        members.map(async (m) => {
          try {
            const r = m.id === this.o.id ? this.describe() : decodeMemberReport(JSON.parse(new TextDecoder().decode(await this.o.bus.request(coordinatorStatusSubject(this.o.cluster, m.id), new Uint8Array(0), MEMBER_REPORT_MS))));
            Object.assign(m, { term: r.term, commit: r.commit, applied: r.applied });
          } catch (err) {
            // the row says so by leaving the member's own figures out; a bad answer is logged too
            if (err instanceof ShoalError) this.o.log?.('a coordinator answered its status subject with a bad message', { member: m.id, err: err.message });
          }
        }),
      );
    }
    return { term: s.term, members };
  }

  describe(): CoordinatorStatus {
    const s = this.raftStatus();
    return {
      v: PROTOCOL_VERSION,
      id: this.o.id,
      name: this.name,
      role: s.role,
      leader: s.leader,
      term: s.term,
      commit: s.commit,
      applied: s.applied,
      voters: [...s.conf.voters].sort((a, b) => a - b),
      standbys: [...s.conf.learners].sort((a, b) => a - b),
      serving: this.#serving,
      storeIndex: this.store.index,
      snapshotIndex: this.#storage?.snapshot().meta.index ?? 0,
      logFirstIndex: this.#storage?.firstIndex() ?? 1,
      digest: storeDigest(this.store),
      counts: { nodes: this.store.count('node'), networks: this.store.count('network'), services: this.store.count('service'), tasks: this.store.count('task') },
    };
  }

  private roleUpdates(): ObjectCommand[] {
    return nodeRoleUpdates(this.store.list('node'), this.directory.list(), this.raftStatus().conf);
  }

  /** Makes every node's role match the membership now; `node promote/demote` wait for it. */
  async syncRoles(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const commands = this.roleUpdates();
      if (commands.length === 0) return;
      try {
        await this.propose({ op: 'batch', commands });
        return;
      } catch (err) {
        // a node written meanwhile (a heartbeat's status): read it again
        if ((err as { code?: string }).code !== 'version_conflict' || attempt >= 5) throw err;
      }
    }
  }

  /** The API's promote/demote, by member id or name, or a node whose hostname names a coordinator. */
  memberOf(ref: string): MemberRecord {
    const node = this.store.get('node', ref) ?? this.store.list('node').find((n) => n.hostname === ref);
    const r = this.directory.find(ref) ?? (node ? this.directory.find(node.hostname) : undefined);
    if (!r || !(this.raftStatus().conf.voters.includes(r.id) || this.raftStatus().conf.learners.includes(r.id))) {
      throw new ShoalError('not_a_coordinator', `no coordinator of this cluster is known as ${ref}`, 'name one by its member id or name (see the coordinators\' status), and start its process with --join first');
    }
    return r;
  }

  async stop(): Promise<void> {
    clearInterval(this.#watch);
    this.#joining?.abort();
    this.#statusUnsub?.();
    this.#heard.stop();
    this.#unwatchEvents();
    this.#api?.stop();
    this.#serving = false;
    await this.handOver();
    this.stepDown();
    await this.#driver?.stop();
    await this.#transport?.close();
    this.#storage?.close();
  }

  /**
   * Proposes a command through Raft; resolves once this coordinator has applied it, and rejects
   * with the store's refusal (a stale version, a name taken) if it was refused when applied.
   * With the API request it completes, it resolves to the request's answer: the one given, or
   * the first one if that request was applied before (the entry then applied nothing).
   */
  async propose(command: Command, request?: RequestTag): Promise<unknown> {
    let index: number;
    try {
      index = await this.proposeEntry({ at: new Date().toISOString(), command, ...(request ? { request } : {}) });
    } catch (err) {
      // the lead moved under the write: it may or may not commit, and the client sends it again
      if (err instanceof RaftError && LEAD_LOST.has(err.code)) {
        throw new ShoalError('leader_changed', `coordinator ${this.o.id} lost the lead while this change was being made (${err.code})`, 'send it again with the same request id: it is applied once (the shoal CLI does so by itself)', { cause: err });
      }
      throw err;
    }
    return this.#machine?.outcome(index, request);
  }

  /** The request applied under this key lately, if any (see AppliedRequests). */
  applied(key: string): AppliedRequest | undefined {
    return this.#machine?.requests.get(key);
  }

  private async proposeEntry(entry: StoreEntry): Promise<number> {
    const { index } = await this.driver().propose(enc.encode(JSON.stringify(entry)), AbortSignal.timeout(10_000));
    return index;
  }

  /**
   * A leader that stops on purpose hands the lead to the most caught-up voter first: the cluster
   * then has a leader within a round trip instead of an election timeout.
   */
  private async handOver(): Promise<void> {
    const s = this.#driver?.status();
    if (s?.role !== 'leader') return;
    const to = s.progress.filter((p) => !p.isLearner && p.id !== this.o.id).sort((a, b) => b.match - a.match)[0];
    if (!to) return;
    this.#driver?.transferLeader(to.id);
    const deadline = Date.now() + 2000;
    while (this.#driver?.status().role === 'leader' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Every `snapshotEvery` applied entries, the whole replicated state is written as a Raft
   * snapshot and the log before it (less a tail for followers a little behind) is dropped, so
   * the log, the disk it takes and a restart's replay stay bounded. A member too far behind, or
   * a new one, is sent the snapshot instead of the entries.
   */
  private maybeSnapshot(): void {
    const storage = this.#storage;
    const machine = this.#machine;
    const driver = this.#driver;
    if (!storage || !machine || !driver) return;
    const every = this.o.snapshotEvery ?? 10_000;
    const index = machine.applied;
    if (index - storage.snapshot().meta.index < every || Date.now() < this.#snapshotRetryAt) return;
    const started = Date.now();
    const snap = storage.createSnapshot(index, driver.confStateAt(index), machine.serialize());
    const keep = this.o.snapshotKeep ?? 500;
    const upTo = Math.min(snap.meta.index, index - keep);
    if (upTo >= storage.firstIndex()) storage.compact(upTo);
    this.o.log?.('snapshot taken', { index, bytes: snap.meta.size, compactedTo: storage.firstIndex() - 1, ms: Date.now() - started });
  }

  private watchLeadership(): void {
    this.watchServing();
    try {
      this.maybeSnapshot();
    } catch (err) {
      // a failed snapshot leaves the log as it was: try again in a while, not on every tick
      this.#snapshotRetryAt = Date.now() + 10_000;
      this.o.log?.('snapshot failed', { err: err instanceof Error ? err.message : String(err) });
    }
    const status = this.#driver?.status();
    const leader = status?.role === 'leader';
    if (leader && !this.#lead && !this.#establishing) void this.establish(status.term);
    else if (!leader && this.#lead) this.stepDown();
    if (this.#lead && status) {
      // membership is not in the store: a change of it asks for a pass, which sets the node roles
      const seen = JSON.stringify([status.conf.voters, this.directory.list().map((r) => [r.id, r.name, r.leaving])]);
      if (seen !== this.#rolesSeen) {
        this.#rolesSeen = seen;
        this.queuePass();
      }
    }
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
      propose: (c) => this.propose(c).then(() => undefined),
      heard: this.#heard,
      ...(this.o.heartbeatPeriodMs !== undefined ? { heartbeatPeriodMs: this.o.heartbeatPeriodMs } : {}),
      ...(this.o.missedHeartbeats !== undefined ? { missedHeartbeats: this.o.missedHeartbeats } : {}),
      ...(this.o.log ? { log: this.o.log } : {}),
    });
    const unsubscribe = this.store.subscribe(() => this.queuePass());
    this.#lead = { dispatcher, allocator, unsubscribe, wake: undefined };
    dispatcher.start();
    this.#api?.lead(true);
    this.membership.lead(true);
    this.o.log?.('leading', { id: this.o.id });
    if (!this.store.get('cluster', CLUSTER_OBJECT_ID)) {
      this.propose(createClusterObject()).catch((err: unknown) => this.o.log?.('could not make the join tokens', { err: err instanceof Error ? err.message : String(err) }));
    }
    this.queuePass();
  }

  private stepDown(): void {
    const lead = this.#lead;
    if (!lead) return;
    this.#lead = undefined;
    this.#api?.lead(false);
    this.membership.lead(false);
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
    await batch(this.roleUpdates());
    const orchestration = orchestrate(this.store, { now: Date.now(), newId: () => `t${Date.now().toString(36)}${(++this.#ids).toString(36)}` });
    for (const b of orchestration.batches) await batch(b);
    if (orchestration.wakeAt !== undefined) {
      clearTimeout(lead.wake);
      lead.wake = setTimeout(() => this.queuePass(), Math.max(0, orchestration.wakeAt - Date.now()));
    }
    await batch(allocatePass(this.store, lead.allocator, at, SCHEDULE_SLICE).commands);
    await batch(schedulePass(this.store, at, SCHEDULE_SLICE).commands);
  }
}
