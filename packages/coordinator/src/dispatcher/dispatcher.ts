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
  readonly #cache: AssignmentCache;
  #proposals: Promise<void> = Promise.resolve();

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
    this.#timer = setInterval(() => void this.checkLiveness().catch(() => undefined), this.checkEvery());
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

  private propose(command: Command): Promise<void> {
    // one write at a time, in arrival order: each reads the store the previous one left
    const p = this.#proposals.then(() => this.o.propose(command));
    this.#proposals = p.catch(() => undefined);
    return p;
  }

  private async onRegister(m: BusMessage): Promise<void> {
    const reg: NodeRegister = decodeNodeRegister(parse(m.data));
    const nodeId = this.sender(m, reg.nodeId);
    const known = this.o.store.get('node', nodeId);
    const reported = {
      hostname: reg.hostname,
      address: reg.address,
      platform: reg.platform,
      resources: reg.resources,
      engineLabels: reg.engineLabels,
      status: { state: 'ready' as const },
    };
    const node: Node = known
      ? { ...known, ...reported }
      : { id: nodeId, meta: { version: 0, createdAt: '', updatedAt: '' }, spec: { role: 'worker', availability: 'active', labels: {} }, ...reported };
    await this.propose({ op: known ? 'update' : 'create', kind: 'node', object: node });
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
    this.send(session, true);
  }

  private async onHeartbeat(m: BusMessage): Promise<void> {
    const hb = decodeHeartbeat(parse(m.data));
    const nodeId = this.sender(m, hb.nodeId);
    let session = this.#sessions.get(nodeId);
    if (!session || session.sessionId !== hb.sessionId) {
      // A session this leader did not open: it took over from another leader, or the node was
      // declared down. A full assignment under a new session id takes the node in; the agent
      // adopts the session from it, with no second registration.
      const node = this.o.store.get('node', nodeId);
      if (!node) return; // never registered: it must register first
      session = { nodeId, sessionId: randomBytes(8).toString('hex'), seq: 0, lastSeen: this.#now(), sent: undefined, networkIds: [], sentAt: 0 };
      this.#sessions.set(nodeId, session);
      if (node.status.state !== 'ready') await this.propose({ op: 'update', kind: 'node', object: { ...node, status: { state: 'ready' } } });
      this.o.log?.('session taken over', { nodeId });
      this.send(session, true);
      return;
    }
    session.lastSeen = this.#now();
    // Marking the node ready may have been refused (its object changed meanwhile, say by the
    // liveness check): a node that heartbeats is ready, so try again rather than leave it down.
    const node = this.o.store.get('node', nodeId);
    if (node && node.status.state !== 'ready' && !session.markingReady) {
      session.markingReady = true;
      try {
        await this.propose({ op: 'update', kind: 'node', object: { ...node, status: { state: 'ready' } } });
      } finally {
        session.markingReady = false;
      }
    }
    if (hb.load) session.load = hb.load;
    // The agent missed something (a lost delta): after a grace period, send it everything.
    if (hb.appliedSeq < session.seq && this.#now() - session.sentAt > 2 * this.#period) this.send(session, true);
  }

  private async onStatus(m: BusMessage): Promise<void> {
    const msg = decodeTaskStatus(parse(m.data));
    const nodeId = this.sender(m, msg.nodeId);
    const session = this.#sessions.get(nodeId);
    if (!session || session.sessionId !== msg.sessionId) return;
    session.lastSeen = this.#now();
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
        const commands = taken.flatMap((x) => this.statusUpdate(x.nodeId, x.report) ?? []);
        if (commands.length === 0) continue;
        try {
          await this.propose({ op: 'batch', commands });
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
   * How often silence is checked: a quarter period, so a node is declared down within a quarter
   * period of its deadline (checked once a period, a cut host waited up to a period more).
   */
  private checkEvery(): number {
    return Math.max(10, Math.floor(this.#period / 4));
  }

  /** Nodes silent for too long are committed down; the orchestrator then moves their tasks. */
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
    for (const node of this.o.store.list('node')) {
      if (node.status.state !== 'ready') continue;
      const seen = this.#sessions.get(node.id)?.lastSeen ?? this.#startedAt;
      if (now - seen <= deadline) continue;
      this.#sessions.delete(node.id);
      this.o.log?.('node down', { nodeId: node.id, silentMs: now - seen });
      await this.propose({ op: 'update', kind: 'node', object: { ...node, status: { state: 'down', message: `no heartbeat for ${Math.round((now - seen) / 1000)} s` } } });
    }
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
   */
  private send(session: Session, full: boolean, tasksChanged = true, networkRound = true): { bytes: number; held: boolean } {
    this.#cache.refresh();
    const head = `"v":${PROTOCOL_VERSION},"nodeId":${JSON.stringify(session.nodeId)},"sessionId":${JSON.stringify(session.sessionId)},"seq":${session.seq + 1}`;
    const sent = session.sent;
    let tasks: { id: string; json: string }[] | undefined;
    if (full || !sent || tasksChanged) {
      const r = tasksFor(this.o.store, session.nodeId);
      tasks = r.tasks.map((t) => ({ id: t.taskId, json: JSON.stringify(t) }));
      session.networkIds = r.networkIds;
    }
    const nets = session.networkIds.flatMap((id) => {
      const n = this.#cache.network(id);
      return n ? [{ id, ...n }] : [];
    });
    // the message is assembled from JSON already made: a network's can be large and is shared by every node on it
    // networks new to the node go at once (its new tasks need them); changed ones on network rounds
    let held = false;
    const stale = (n: { id: string; version: number }): boolean => {
      const v = sent?.networks.get(n.id);
      if (v === undefined) return true;
      if (v === n.version) return false;
      if (!networkRound) held = true;
      return networkRound;
    };
    const version = (n: { id: string; version: number }): number => (stale(n) || !sent ? n.version : (sent.networks.get(n.id) ?? n.version));
    let body: string;
    if (full || !sent || !tasks) {
      if (full || !sent) {
        const all = tasks ?? [];
        body = `{"kind":"assign.full",${head},"tasks":[${all.map((t) => t.json).join(',')}],"networks":[${nets.map((n) => n.json).join(',')}]}`;
        session.sent = { tasks: new Map(all.map((t) => [t.id, t.json])), networks: new Map(nets.map((n) => [n.id, n.version])) };
      } else {
        const upsertNetworks = nets.filter(stale);
        const removeNetworks = [...sent.networks.keys()].filter((id) => !nets.some((n) => n.id === id));
        if (upsertNetworks.length + removeNetworks.length === 0) return { bytes: 0, held };
        body = `{"kind":"assign.delta",${head},"upsertTasks":[],"removeTasks":[],"upsertNetworks":[${upsertNetworks.map((n) => n.json).join(',')}],"removeNetworks":${JSON.stringify(removeNetworks)}}`;
        sent.networks = new Map(nets.map((n) => [n.id, version(n)]));
      }
    } else {
      const upsertTasks = tasks.filter((t) => sent.tasks.get(t.id) !== t.json);
      const keep = new Set(tasks.map((t) => t.id));
      const removeTasks = [...sent.tasks.keys()].filter((id) => !keep.has(id));
      const upsertNetworks = nets.filter(stale);
      const removeNetworks = [...sent.networks.keys()].filter((id) => !nets.some((n) => n.id === id));
      if (upsertTasks.length + removeTasks.length + upsertNetworks.length + removeNetworks.length === 0) return { bytes: 0, held };
      body = `{"kind":"assign.delta",${head},"upsertTasks":[${upsertTasks.map((t) => t.json).join(',')}],"removeTasks":${JSON.stringify(removeTasks)},"upsertNetworks":[${upsertNetworks.map((n) => n.json).join(',')}],"removeNetworks":${JSON.stringify(removeNetworks)}}`;
      session.sent = { tasks: new Map(tasks.map((t) => [t.id, t.json])), networks: new Map(nets.map((n) => [n.id, version(n)])) };
    }
    session.seq += 1;
    session.sentAt = this.#now();
    const data = enc.encode(body);
    this.o.bus.publish(nodeSubject(this.o.cluster, session.nodeId, 'assign'), data);
    return { bytes: data.byteLength, held };
  }
}
