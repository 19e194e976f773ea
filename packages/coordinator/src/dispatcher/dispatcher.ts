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
  type AssignmentMessage,
  type Node,
  type NodeRegister,
  type NodeRegisterReply,
  type HostLoad,
  type TaskReport,
} from '@shoal/core';
import type { Command, ObjectCommand } from '../store/commands.js';
import type { Store } from '../store/store.js';
import { assignmentFor, type NodeAssignment } from './assignment.js';
import type { Bus, BusMessage } from './bus.js';
import { diffAssignments } from './delta.js';

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
  sent: NodeAssignment | undefined;
  sentAt: number;
  load?: HostLoad;
}

/** What the leader holds in memory about a node's session, for `cluster.status`. */
export interface NodeLiveness {
  /** Since the last heartbeat or report. */
  heartbeatAgeMs: number;
  load?: HostLoad;
}

const enc = new TextEncoder();
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
  #proposals: Promise<void> = Promise.resolve();

  constructor(private readonly o: DispatcherOptions) {
    this.#now = o.now ?? Date.now;
    this.#period = o.heartbeatPeriodMs ?? 1000;
    this.#missed = o.missedHeartbeats ?? 3;
    this.#startedAt = this.#now();
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
    this.#unsubs.push(this.o.store.subscribe(() => this.queueSync()));
    this.#timer = setInterval(() => void this.checkLiveness().catch(() => undefined), this.#period);
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
    const session: Session = { nodeId, sessionId: randomBytes(8).toString('hex'), seq: 0, lastSeen: this.#now(), sent: undefined, sentAt: 0 };
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
      session = { nodeId, sessionId: randomBytes(8).toString('hex'), seq: 0, lastSeen: this.#now(), sent: undefined, sentAt: 0 };
      this.#sessions.set(nodeId, session);
      if (node.status.state !== 'ready') await this.propose({ op: 'update', kind: 'node', object: { ...node, status: { state: 'ready' } } });
      this.o.log?.('session taken over', { nodeId });
      this.send(session, true);
      return;
    }
    session.lastSeen = this.#now();
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
    const commands: ObjectCommand[] = [];
    for (const r of msg.reports) {
      const update = this.statusUpdate(nodeId, r);
      if (update) commands.push(update);
    }
    if (commands.length > 0) await this.propose({ op: 'batch', commands });
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

  /** Nodes silent for too long are committed down; the orchestrator then moves their tasks. */
  async checkLiveness(): Promise<void> {
    const deadline = this.#missed * this.#period;
    const now = this.#now();
    for (const node of this.o.store.list('node')) {
      if (node.status.state !== 'ready') continue;
      const seen = this.#sessions.get(node.id)?.lastSeen ?? this.#startedAt;
      if (now - seen <= deadline) continue;
      this.#sessions.delete(node.id);
      this.o.log?.('node down', { nodeId: node.id, silentMs: now - seen });
      await this.propose({ op: 'update', kind: 'node', object: { ...node, status: { state: 'down', message: `no heartbeat for ${Math.round((now - seen) / 1000)} s` } } });
    }
  }

  private queueSync(): void {
    if (this.#syncQueued) return;
    this.#syncQueued = true;
    queueMicrotask(() => {
      this.#syncQueued = false;
      for (const s of this.#sessions.values()) this.send(s, false);
    });
  }

  /** Sends the node what changed since the last send (or everything), under the next sequence. */
  private send(session: Session, full: boolean): void {
    const next = assignmentFor(this.o.store, session.nodeId);
    const head = { v: PROTOCOL_VERSION as typeof PROTOCOL_VERSION, nodeId: session.nodeId, sessionId: session.sessionId };
    let msg: AssignmentMessage;
    if (full || !session.sent) {
      msg = { ...head, kind: 'assign.full', seq: session.seq + 1, tasks: next.tasks, networks: next.networks };
    } else {
      const d = diffAssignments(session.sent, next);
      if (!d) return;
      msg = { ...head, kind: 'assign.delta', seq: session.seq + 1, ...d };
    }
    session.seq = msg.seq;
    session.sent = next;
    session.sentAt = this.#now();
    this.o.bus.publish(nodeSubject(this.o.cluster, session.nodeId, 'assign'), json(msg));
  }
}
