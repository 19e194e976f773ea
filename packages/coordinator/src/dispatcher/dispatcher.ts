import { randomBytes } from 'node:crypto';
import {
  PROTOCOL_VERSION,
  canTransitionTask,
  decodeHeartbeat,
  decodeNodeRegister,
  decodeTaskStatus,
  nodeSubject,
  nodeWildcard,
  parseSubject,
  type Node,
  type NodeRegister,
  type NodeRegisterReply,
  type HostLoad,
  type TaskReport,
} from '@shoal/core';
import type { Command, ObjectCommand } from '../store/commands.js';
import type { Store } from '../store/store.js';
import { AssignmentCache } from './assignment-cache.js';
import { tasksFor } from './assignment.js';
import type { Bus, BusMessage } from './bus.js';
import type { HeardNodes } from './heard.js';

export interface DispatcherOptions {
  cluster: string;
  store: Store;
  bus: Bus;
  /** Proposes commands through Raft; resolves once applied to the store. */
  propose: (command: Command) => Promise<void>;
  now?: () => number;
  heartbeatPeriodMs?: number;
  /** A node is declared down after this many periods without a heartbeat. */
  missedHeartbeats?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * What this coordinator heard of the nodes before it led. Without it the dispatcher counts
   * every node's silence from its own start.
   */
  heard?: HeardNodes;
}

interface Session {
  nodeId: string;
  sessionId: string;
  seq: number;
  lastSeen: number;
  /** What the node was last sent: each task's JSON, each network's version. */
  sent: { tasks: Map<string, string>; networks: Map<string, number> } | undefined;
  /** The networks its tasks are on, as of the last look at its tasks. */
  networkIds: string[];
  sentAt: number;
  markingReady?: boolean;
  load?: HostLoad;
  /** The agent has spoken under this session id: it holds the full set that opened it. */
  confirmed?: boolean;
  /** The sequence its last heartbeat said it applied, and since when it has been stuck behind. */
  heardSeq?: number;
  stuckSince?: number;
}

/** What the leader holds in memory about a node's session, for `cluster.status`. */
export interface NodeLiveness {
  /** Since the last heartbeat or report. */
  heartbeatAgeMs: number;
  load?: HostLoad;
}

const enc = new TextEncoder();
/** How long after a store change the nodes are sent what it changed (changes in between ride along). */
const SYNC_DELAY_MS = 20;
/**
 * A network's assignment (every endpoint and name on it) goes to every node on it: during a
 * deploy of thousands of tasks it changes with every report. Re-sending it to nodes that hold
 * an older version is paced to this many bytes per millisecond, and never more often than
 * every NETWORK_ROUND_MIN_MS; tasks and networks new to a node are never held back.
 */
const NETWORK_BYTES_PER_MS = 256 * 1024;
const NETWORK_ROUND_MIN_MS = 100;
/** Full sets sent per slice, at most (bytes, ms of work), and the pause between slices. */
const FULL_SLICE_BYTES = 4 * 2 ** 20;
const FULL_SLICE_MS = 50;
const FULL_SLICE_GAP_MS = 0;
/** Heartbeat periods a node has, after its full set left, to adopt the session it opens. */
const ADOPT_GRACE_PERIODS = 3;
/** How long the leader's link may take to answer a round trip before it is the one in doubt. */
const PROBE_MS = 500;
/** Task reports per Raft entry, at most. */
const REPORT_BATCH = 5000;
const dec = new TextDecoder();
const json = (value: unknown): Uint8Array => enc.encode(JSON.stringify(value));
const parse = (data: Uint8Array): unknown => JSON.parse(dec.decode(data));

/**
 * The leader's side of every agent's session: registrations (a node joins or comes back),
 * heartbeats (kept in memory, never in Raft: only a node's move to down or ready is committed),
 * task reports (committed as task status), and the assignments each node is sent — the full
 * set when a session starts, then deltas as the store changes.
 */
export class Dispatcher {
  readonly #sessions = new Map<string, Session>();
  readonly #now: () => number;
  readonly #period: number;
  readonly #missed: number;
  readonly #startedAt: number;
  #unsubs: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #syncQueued = false;
  readonly #reports = new Map<string, { nodeId: string; report: TaskReport }>();
  #flushing = false;
  #nextNetworkRound = 0;
  #lastCheck = 0;
  /** Every ready node is silent: this leader's link is the likelier fault (logged once). */
  #suspectingSelf = false;
  #checking = false;
  readonly #cache: AssignmentCache;
  #proposals: Promise<void> = Promise.resolve();
  /** Sessions owed a full set, sent a slice at a time (see queueFull). */
  readonly #fulls = new Map<string, Session>();
  #fullsDraining = false;

  constructor(private readonly o: DispatcherOptions) {
    this.#now = o.now ?? Date.now;
    this.#period = o.heartbeatPeriodMs ?? 1000;
    this.#missed = o.missedHeartbeats ?? 3;
    this.#startedAt = this.#now();
    this.#cache = new AssignmentCache(o.store);
  }

  start(): void {
    const { bus, cluster } = this.o;
    const guard = (what: string, fn: (m: BusMessage) => Promise<void> | void) => (m: BusMessage) => {
      // a bad message is refused and logged; it never takes the leader down
      Promise.resolve()
        .then(() => fn(m))
        .catch((err: unknown) => this.o.log?.(`${what} refused`, { subject: m.subject, err: err instanceof Error ? err.message : String(err) }));
    };
    this.#unsubs.push(bus.subscribe(nodeWildcard(cluster, 'register'), guard('registration', (m) => this.onRegister(m))));
    this.#unsubs.push(bus.subscribe(nodeWildcard(cluster, 'hb'), guard('heartbeat', (m) => this.onHeartbeat(m))));
    this.#unsubs.push(bus.subscribe(nodeWildcard(cluster, 'status'), guard('task status', (m) => this.onStatus(m))));
    this.#unsubs.push(
      this.o.store.subscribe((changes) => {
        this.#cache.note(changes);
        this.queueSync();
      }),
    );
    this.#timer = setInterval(() => {
      // one check at a time: a check waits on its link probe and its writes
      if (this.#checking) return;
      this.#checking = true;
      void this.checkLiveness()
        .catch(() => undefined)
        .finally(() => (this.#checking = false));
    }, this.checkEvery());
  }

  stop(): void {
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    clearInterval(this.#timer);
  }

  /** Per node with a session: how long since it was heard from, and the load it reported. */
  liveness(): Map<string, NodeLiveness> {
    const now = this.#now();
    return new Map([...this.#sessions].map(([id, s]) => [id, { heartbeatAgeMs: Math.max(0, now - s.lastSeen), ...(s.load ? { load: s.load } : {}) }]));
  }

  /** The node a message came from, by its subject: the NATS user of a node may only use its own. */
  private sender(m: BusMessage, claimed: string): string {
    const s = parseSubject(m.subject);
    if (s?.kind !== 'node' || s.nodeId !== claimed) throw new Error(`message for node ${claimed} arrived on ${m.subject}`);
    return claimed;
  }

  /**
   * One write at a time, in arrival order, each made from the store as the previous one left it:
   * `make` reads the store when its turn comes (undefined: nothing to write any more). A write
   * refused for a version that moved between that read and the commit is made again once from
   * a new read; what the dispatcher writes (a node's state, its registration) is true whatever
   * else changed, so it is never the caller's conflict to resolve.
   */
  private propose(make: () => Command | undefined): Promise<void> {
    const once = async (): Promise<void> => {
      const command = make();
      if (command) await this.o.propose(command);
    };
    const p = this.#proposals.then(() =>
      once().catch((err: unknown) => {
        if ((err as { code?: string }).code !== 'version_conflict') throw err;
        return once();
      }),
    );
    this.#proposals = p.catch(() => undefined);
    return p;
  }

  /** Commits the node's move to ready unless it is there already (read when the write's turn comes). */
  private markNodeReady(nodeId: string): Promise<void> {
    return this.propose(() => {
      const node = this.o.store.get('node', nodeId);
      if (!node || node.status.state === 'ready') return undefined;
      return { op: 'update', kind: 'node', object: { ...node, status: { state: 'ready' } } };
    });
  }

  private async onRegister(m: BusMessage): Promise<void> {
    const reg: NodeRegister = decodeNodeRegister(parse(m.data));
    const nodeId = this.sender(m, reg.nodeId);
    const reported = {
      hostname: reg.hostname,
      address: reg.address,
      platform: reg.platform,
      resources: reg.resources,
      engineLabels: reg.engineLabels,
      status: { state: 'ready' as const },
    };
    await this.propose(() => {
      const known = this.o.store.get('node', nodeId);
      const node: Node = known
        ? { ...known, ...reported }
        : { id: nodeId, meta: { version: 0, createdAt: '', updatedAt: '' }, spec: { role: 'worker', availability: 'active', labels: {} }, ...reported };
      return { op: known ? 'update' : 'create', kind: 'node', object: node };
    });
    const session: Session = { nodeId, sessionId: randomBytes(8).toString('hex'), seq: 0, lastSeen: this.#now(), sent: undefined, networkIds: [], sentAt: 0 };
    this.#sessions.set(nodeId, session);
    const reply: NodeRegisterReply = {
      v: PROTOCOL_VERSION,
      kind: 'node.registered',
      nodeId,
      sessionId: session.sessionId,
      heartbeatPeriodMs: this.#period,
      missedHeartbeats: this.#missed,
    };
    m.respond(json(reply));
    this.o.log?.('node registered', { nodeId, address: reg.address, running: reg.runningTasks.length });
    this.queueFull(session);
  }

  private onHeartbeat(m: BusMessage): void {
    const hb = decodeHeartbeat(parse(m.data));
    const nodeId = this.sender(m, hb.nodeId);
    let session = this.#sessions.get(nodeId);
    if (session && session.sessionId !== hb.sessionId && !session.confirmed && (this.#fulls.has(nodeId) || this.#now() - session.sentAt < ADOPT_GRACE_PERIODS * this.#period)) {
      // The node has not yet read the full set that opens its new session (a busy agent, or
      // one of a thousand being sent theirs): it is alive, and a second new session would
      // only send it everything again.
      session.lastSeen = this.#now();
      return;
    }
    if (!session || session.sessionId !== hb.sessionId) {
      // A session this leader did not open: it took over from another leader, or the node was
      // declared down. A full assignment under a new session id takes the node in; the agent
      // adopts the session from it, with no second registration.
      const node = this.o.store.get('node', nodeId);
      if (!node) return; // never registered: it must register first
      session = { nodeId, sessionId: randomBytes(8).toString('hex'), seq: 0, lastSeen: this.#now(), sent: undefined, networkIds: [], sentAt: 0 };
      this.#sessions.set(nodeId, session);
      if (node.status.state !== 'ready') void this.markReady(session);
      this.o.log?.('session taken over', { nodeId });
      this.queueFull(session);
      return;
    }
    session.lastSeen = this.#now();
    session.confirmed = true;
    // A node that heartbeats is ready: one write at a time says so, made from a fresh read, and
    // a heartbeat that finds one under way leaves it be (no storm of writes racing each other).
    if (this.o.store.get('node', nodeId)?.status.state !== 'ready') void this.markReady(session);
    if (hb.load) session.load = hb.load;
    // The agent missed something (a lost delta): every later delta is a gap it will not apply.
    // Once it has applied nothing for a grace period while behind, send it everything. (Not
    // "nothing sent for a while": during a deploy deltas flow all the time, and a node stuck
    // behind a lost one would never be resynced.)
    const now = this.#now();
    if (hb.appliedSeq >= session.seq || session.heardSeq === undefined || hb.appliedSeq > session.heardSeq) session.stuckSince = undefined;
    else session.stuckSince ??= now;
    session.heardSeq = hb.appliedSeq;
    if (session.stuckSince !== undefined && now - session.stuckSince >= 2 * this.#period) {
      session.stuckSince = undefined;
      this.queueFull(session);
    }
  }

  private async markReady(session: Session): Promise<void> {
    if (session.markingReady) return;
    session.markingReady = true;
    try {
      await this.markNodeReady(session.nodeId);
    } catch (err) {
      // lost with a leader change or a timeout: the next heartbeat tries again
      this.o.log?.('node not marked ready; the next heartbeat tries again', { nodeId: session.nodeId, err: err instanceof Error ? err.message : String(err) });
    } finally {
      session.markingReady = false;
    }
  }

  private async onStatus(m: BusMessage): Promise<void> {
    const msg = decodeTaskStatus(parse(m.data));
    const nodeId = this.sender(m, msg.nodeId);
    const session = this.#sessions.get(nodeId);
    if (!session || session.sessionId !== msg.sessionId) return;
    session.lastSeen = this.#now();
    session.confirmed = true;
    for (const r of msg.reports) this.#reports.set(r.taskId, { nodeId, report: r });
    await this.flushReports();
  }

  /**
   * Reports from every node are committed together: while one batch is in Raft, the next
   * gathers, so a thousand nodes reporting at once cost a few entries, not a thousand. A batch
   * refused because a task changed meanwhile is read again from the store and retried.
   */
  private async flushReports(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#reports.size > 0 && this.#unsubs.length > 0) {
        const taken: { nodeId: string; report: TaskReport }[] = [];
        for (const [id, x] of this.#reports) {
          taken.push(x);
          this.#reports.delete(id);
          if (taken.length >= REPORT_BATCH) break;
        }
        try {
          // made when its turn comes, from the store as it then is
          await this.propose(() => {
            const commands = taken.flatMap((x) => this.statusUpdate(x.nodeId, x.report) ?? []);
            return commands.length === 0 ? undefined : { op: 'batch', commands };
          });
        } catch (err) {
          // refused for a stale read, or lost with a leader change or a timeout: the reports are
          // still true, and applying one twice changes nothing, so they go back in the queue
          for (const x of taken) if (!this.#reports.has(x.report.taskId)) this.#reports.set(x.report.taskId, x);
          if ((err as { code?: string }).code !== 'version_conflict') {
            this.o.log?.('task reports not committed; retrying', { reports: taken.length, err: err instanceof Error ? err.message : String(err) });
            await new Promise((r) => setTimeout(r, 200));
          }
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** A report becomes a task update only if it is the node's task and a legal step forward. */
  private statusUpdate(nodeId: string, r: TaskReport): ObjectCommand | undefined {
    const task = this.o.store.get('task', r.taskId);
    if (!task || task.nodeId !== nodeId) return undefined;
    if (task.status.state === r.state || !canTransitionTask(task.status.state, r.state)) return undefined;
    return {
      op: 'update',
      kind: 'task',
      object: {
        ...task,
        status: {
          state: r.state,
          message: r.message,
          at: r.at,
          ...(r.containerId !== undefined ? { containerId: r.containerId } : {}),
          ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
          ...(r.err !== undefined ? { err: r.err } : {}),
        },
      },
    };
  }

  /**
   * How often silence is checked: a twentieth of a period (50 ms by default), so a node is
   * declared down within that of its deadline. A check reads only the leader's memory; checked
   * every quarter period, a cut host waited 125 ms more on average, every period 500 ms.
   */
  private checkEvery(): number {
    return Math.max(10, Math.floor(this.#period / 20));
  }

  /**
   * Nodes silent for too long are committed down; the orchestrator then moves their tasks.
   * Silence counts only while this leader could have heard: from when it took office or its NATS
   * link last came up, whichever is later, and not at all while the link is down. A leader that
   * hears from no node at all suspects its own link, not the whole cluster.
   */
  async checkLiveness(): Promise<void> {
    const deadline = this.#missed * this.#period;
    const now = this.#now();
    // A leader whose own event loop stalled (a big pass, a GC) runs this timer before it reads
    // the heartbeats queued meanwhile: silence it did not hear is not the nodes'. Skip a round.
    const stalled = this.#lastCheck !== 0 && now - this.#lastCheck > this.checkEvery() + this.#period / 2;
    this.#lastCheck = now;
    if (stalled) {
      for (const s of this.#sessions.values()) s.lastSeen = Math.max(s.lastSeen, now - this.#period);
      return;
    }
    const linkUp = this.o.bus.linkUpSince ? this.o.bus.linkUpSince() : this.#startedAt;
    if (linkUp === undefined) return; // deaf: nobody's silence means anything now
    const heard = this.o.heard;
    const listeningSince = Math.max(heard?.since ?? this.#startedAt, linkUp);
    const lastSeen = (id: string): number => Math.max(this.#sessions.get(id)?.lastSeen ?? -Infinity, heard?.lastHeard(id) ?? -Infinity);
    const ready = this.o.store.list('node').filter((n) => n.status.state === 'ready');
    const silent = ready.filter((n) => now - Math.max(lastSeen(n.id), listeningSince) > deadline);
    if (silent.length === 0) {
      this.#suspectingSelf = false;
      return;
    }
    if (ready.length > 1 && silent.length === ready.length) {
      if (!this.#suspectingSelf) this.o.log?.('no node heard from: suspecting this leader\'s own link, declaring none down', { nodes: ready.length, silentMs: deadline });
      this.#suspectingSelf = true;
      return;
    }
    this.#suspectingSelf = false;
    // A link whose server died is found stale only 1.5-2.25 s after its last pong, while a node
    // can reach its deadline meanwhile: before blaming anyone, a round trip to the server must
    // show the link works now. A link that cannot, or one that came back while it was asked,
    // declares no one down this round.
    if (this.o.bus.probe && !(await this.o.bus.probe(PROBE_MS))) return;
    if (this.o.bus.linkUpSince && this.o.bus.linkUpSince() !== linkUp) return;
    for (const node of silent) {
      // heard meanwhile (while the probe ran, or an earlier write waited): it is alive
      const seen = lastSeen(node.id);
      const at = this.#now();
      if (at - Math.max(seen, listeningSince) <= deadline) continue;
      this.o.log?.('node down', { nodeId: node.id, silentMs: Number.isFinite(seen) ? at - seen : undefined, listeningMs: at - listeningSince });
      await this.propose(() => {
        const n = this.o.store.get('node', node.id);
        // one last look when the write's turn comes: a heartbeat that came first keeps it ready
        if (!n || n.status.state === 'down' || this.#now() - Math.max(lastSeen(node.id), listeningSince) <= deadline) return undefined;
        this.#sessions.delete(node.id);
        return { op: 'update', kind: 'node', object: { ...n, status: { state: 'down', message: `no heartbeat for ${Math.round((this.#now() - Math.max(seen, listeningSince)) / 1000)} s` } } };
      });
    }
  }

  /**
   * Full sets are sent a slice at a time: a new leader owes one to every node at once (a
   * thousand nodes on dozens of networks make hundreds of MB), and sending them in one go
   * would stall the event loop for seconds — long enough to miss Raft heartbeats and lose the
   * lead, so that the next leader starts the same again. Between slices, Raft, heartbeats and
   * reads get their turn.
   */
  private queueFull(session: Session): void {
    this.#fulls.set(session.nodeId, session);
    if (this.#fullsDraining) return;
    this.#fullsDraining = true;
    const slice = (): void => {
      if (this.#unsubs.length === 0) {
        this.#fulls.clear();
        this.#fullsDraining = false;
        return;
      }
      const t0 = performance.now();
      let bytes = 0;
      // once per slice: during a deploy the networks change all the time, and each version is
      // made into JSON once for every node sent it, not once per node
      this.#cache.refresh();
      for (const [nodeId, s] of this.#fulls) {
        if (bytes >= FULL_SLICE_BYTES || performance.now() - t0 >= FULL_SLICE_MS) break;
        this.#fulls.delete(nodeId);
        // a session replaced meanwhile (the node registered again) was queued under its new self
        if (this.#sessions.get(nodeId) !== s) continue;
        try {
          bytes += this.send(s, true).bytes;
        } catch (err) {
          // its heartbeats will show it behind, and it is queued again
          this.o.log?.('full assignment not sent', { nodeId, err: err instanceof Error ? err.message : String(err) });
        }
      }
      if (this.#fulls.size > 0) setTimeout(slice, FULL_SLICE_GAP_MS);
      else this.#fullsDraining = false;
    };
    setImmediate(slice);
  }

  /**
   * Changes come in bursts (a deploy, a wave of task reports): one round of sends a little
   * after the first change covers all of them, instead of a round per Raft entry.
   */
  private queueSync(delay = SYNC_DELAY_MS): void {
    if (this.#syncQueued) return;
    this.#syncQueued = true;
    setTimeout(() => {
      this.#syncQueued = false;
      if (this.#unsubs.length === 0) return;
      this.#cache.refresh();
      const nodes = this.#cache.takeDirtyNodes();
      const networkRound = this.#now() >= this.#nextNetworkRound;
      let bytes = 0;
      let held = false;
      for (const s of this.#sessions.values()) {
        if (this.#fulls.has(s.nodeId)) continue; // its full set is on its way, with all of this
        const r = this.send(s, false, nodes === undefined || nodes.has(s.nodeId), networkRound);
        bytes += r.bytes;
        held ||= r.held;
      }
      // a network every node on it already has is re-sent at most at a pace the bytes allow
      if (networkRound) this.#nextNetworkRound = this.#now() + Math.max(NETWORK_ROUND_MIN_MS, bytes / NETWORK_BYTES_PER_MS);
      if (held) this.queueSync(Math.max(SYNC_DELAY_MS, this.#nextNetworkRound - this.#now()));
    }, delay);
  }

  /**
   * Sends the node what changed since the last send (or everything), under the next sequence.
   * `tasksChanged` false: only its networks may have moved, its own tasks are as last sent.
   * A network the node already holds travels as the patches since the version it holds.
   */
  private send(session: Session, full: boolean, tasksChanged = true, networkRound = true): { bytes: number; held: boolean } {
    // the caller refreshed the cache
    const cache = this.#cache;
    const head = `"v":${PROTOCOL_VERSION},"nodeId":${JSON.stringify(session.nodeId)},"sessionId":${JSON.stringify(session.sessionId)},"seq":${session.seq + 1}`;
    const sent = full ? undefined : session.sent;
    let tasks: { id: string; json: string }[] | undefined;
    if (!sent || tasksChanged) {
      const r = tasksFor(this.o.store, session.nodeId);
      tasks = r.tasks.map((t) => ({ id: t.taskId, json: JSON.stringify(t) }));
      session.networkIds = r.networkIds;
    }
    const nets = session.networkIds.flatMap((id) => {
      const version = cache.version(id);
      return version === undefined ? [] : [{ id, version }];
    });
    // the message is assembled from JSON already made: a network's whole or its patches are
    // made once and shared by every node on it
    let body: string;
    let held = false;
    if (!sent) {
      const all = tasks ?? [];
      body = `{"kind":"assign.full",${head},"tasks":[${all.map((t) => t.json).join(',')}],"networks":[${nets.map((n) => cache.json(n.id) ?? '').join(',')}]}`;
      session.sent = { tasks: new Map(all.map((t) => [t.id, t.json])), networks: new Map(nets.map((n) => [n.id, n.version])) };
    } else {
      // networks new to the node go at once (its new tasks need them); changed ones on network rounds
      const upsertNetworks: string[] = [];
      const patchNetworks: string[] = [];
      const versions = new Map<string, number>();
      for (const n of nets) {
        const v = sent.networks.get(n.id);
        if (v === undefined) {
          upsertNetworks.push(cache.json(n.id) ?? '');
        } else if (v !== n.version && !networkRound) {
          held = true;
          versions.set(n.id, v);
          continue;
        } else if (v !== n.version) {
          const patches = cache.patchesSince(n.id, v);
          if (patches) patchNetworks.push(...patches);
          else upsertNetworks.push(cache.json(n.id) ?? '');
        }
        versions.set(n.id, n.version);
      }
      const removeNetworks = [...sent.networks.keys()].filter((id) => !versions.has(id));
      let upsertTasks: { id: string; json: string }[] = [];
      let removeTasks: string[] = [];
      if (tasks) {
        upsertTasks = tasks.filter((t) => sent.tasks.get(t.id) !== t.json);
        const keep = new Set(tasks.map((t) => t.id));
        removeTasks = [...sent.tasks.keys()].filter((id) => !keep.has(id));
      }
      if (upsertTasks.length + removeTasks.length + upsertNetworks.length + patchNetworks.length + removeNetworks.length === 0) return { bytes: 0, held };
      // the head and the task lists first: a reader that wants only tasks can stop early
      body = `{"kind":"assign.delta",${head},"upsertTasks":[${upsertTasks.map((t) => t.json).join(',')}],"removeTasks":${JSON.stringify(removeTasks)},"upsertNetworks":[${upsertNetworks.join(',')}],"removeNetworks":${JSON.stringify(removeNetworks)},"patchNetworks":[${patchNetworks.join(',')}]}`;
      if (tasks) sent.tasks = new Map(tasks.map((t) => [t.id, t.json]));
      sent.networks = versions;
    }
    session.seq += 1;
    session.sentAt = this.#now();
    const data = enc.encode(body);
    this.o.bus.publish(nodeSubject(this.o.cluster, session.nodeId, 'assign'), data);
    return { bytes: data.byteLength, held };
  }
}
