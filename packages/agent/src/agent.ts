import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, hostname, networkInterfaces, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { connect, Events, JSONCodec, type NatsConnection, type Subscription } from 'nats';
import {
  PROTOCOL_VERSION,
  applyAssignment,
  decodeAssignment,
  decodeNodeRegisterReply,
  natsLinkOptions,
  nodeSubject,
  splitNatsServers,
  type AssignmentSet,
  type NodeRegister,
  type TaskReport,
  type HostLoad,
} from '@shoal/core';
import { detectUnderlay, loadNodeId, type AgentConfig } from './config.js';
import { DnsServer } from './dns/server.js';
import { DnsTable } from './dns/table.js';
import { DockerExecutor, GWBRIDGE } from './executor/docker.js';
import { EgressDriver } from './executor/egress.js';
import { serveLogs } from './logs.js';
import { HostLoadMeter } from './host-load.js';
import { LABEL_CLUSTER } from './executor/labels.js';
import { localKernel, type Kernel } from './kernel.js';
import { VipProgrammer } from './overlay/vip.js';
import { OverlayDriver } from './overlay/vxlan.js';
import { Reconciler } from './reconciler.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

type State = 'initialized' | 'running' | 'stopping' | 'stopped';

const codec = JSONCodec<unknown>();

/**
 * The agent of one Docker host: registers the node with the leader over NATS, heartbeats,
 * converges the host to every assignment it is sent, and reports task status. It never stops a
 * container on its own shutdown; on start it converges to the last assignment it kept on disk,
 * so a restart adopts what runs instead of starting twins.
 */
export class Agent {
  #state: State = 'initialized';
  #nc: NatsConnection | undefined;
  /** A second link, to another host's NATS server: heartbeats and assignments. */
  #second: NatsConnection | undefined;
  /** Sessions this agent moved on from (newest last). */
  readonly #leftSessions = new Set<string>();
  /** Writes of the held set, one at a time (two links bring assignments). */
  #saving: Promise<void> = Promise.resolve();
  #dns: DnsServer | undefined;
  #reconciler: Reconciler | undefined;
  #held: AssignmentSet | undefined;
  #sessionId: string | undefined;
  #timers: NodeJS.Timeout[] = [];
  #subs: Subscription[] = [];
  #reported = new Map<string, string>();
  #queue: Promise<void> = Promise.resolve();
  /** The triggers of the pass that waits to begin, if one does. */
  #pending: string[] | undefined;
  #events: Readable | undefined;
  #hb: NodeJS.Timeout | undefined;
  readonly #meter = new HostLoadMeter();
  #registering = false;
  #docker: Docker | undefined;
  #executor: DockerExecutor | undefined;
  nodeId = '';
  address = '';

  constructor(
    private readonly config: AgentConfig,
    private readonly log: AgentLogger,
    private readonly kernel: Kernel = localKernel,
  ) {}

  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  async start(): Promise<void> {
    if (this.#state !== 'initialized') throw new Error(`agent cannot start: it is ${this.#state}`);
    this.#state = 'running';
    const c = this.config;
    this.nodeId = await loadNodeId(c.dataDir, c.nodeId);
    const underlay = await detectUnderlay(this.kernel, c.advertise);
    this.address = underlay.address;
    const docker = new Docker({ socketPath: c.dockerSocket });
    const executor = new DockerExecutor({ docker, cluster: c.cluster, nodeId: this.nodeId, dataDir: c.dataDir });
    this.#docker = docker;
    this.#executor = executor;
    const gw = await executor.ensureGwBridge();
    const table = new DnsTable();
    this.#dns = new DnsServer({
      table,
      address: gw.gateway,
      port: c.dnsPort,
      upstreams: await hostUpstreams(),
      onError: (err) => this.log.warn('dns error', { err: String(err) }),
      ...(c.dnsWorkerScript ? { workers: { count: c.dnsWorkers ?? Math.max(0, Math.min(3, cpus().length - 1)), script: c.dnsWorkerScript } } : {}),
    });
    await this.#dns.start();
    const overlay = new OverlayDriver(this.kernel, { localAddress: underlay.address, underlayDevice: c.underlayDevice ?? underlay.device });
    const egress = gw.shoalRange ? new EgressDriver(this.kernel, { device: GWBRIDGE, gateway: gw.gateway, subnet: gw.subnet, range: gw.shoalRange }) : undefined;
    this.#reconciler = new Reconciler({ executor, overlay, vips: new VipProgrammer(this.kernel), dns: table, ...(egress ? { egress } : {}), nodeAddress: underlay.address, nameserver: gw.gateway, trace: (msg, fields) => this.log.info(msg, fields) });
    this.log.info('agent starting', { nodeId: this.nodeId, address: this.address, gateway: gw.gateway });

    this.#held = await this.loadHeld();
    if (this.#held) this.schedule('restart');

    // this host's server first (on a coordinator's host: it fails only with this agent), then the others shuffled
    const hostAddresses = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
    const { local, remote } = splitNatsServers(c.natsUrls, hostAddresses);
    const credentials = c.natsUser ? { user: c.natsUser, pass: c.natsPassword ?? '' } : {};
    this.#nc = await connect({ ...natsLinkOptions([...local, ...remote]), name: `shoal-agent-${this.nodeId}`, ...credentials });
    const nc = this.#nc;
    void this.watchNats(nc);
    const assignSubject = nodeSubject(c.cluster, this.nodeId, 'assign');
    const sub = nc.subscribe(assignSubject);
    this.#subs.push(sub);
    void this.consumeAssignments(sub);
    // A second link, to another host's server (never this host's), carries heartbeats and
    // assignments too, each side dropping what the other already brought:
    // - when the first link's server dies with its host, the leader still hears the node during
    //   the 2 s the link takes to be found stale and moved, and declares no live node down;
    // - when this host was cut off, the routes between the servers stay stuck for a minute or
    //   more after the heal (nats-server 2.9 delays a route's pings while it has traffic to send,
    //   and TCP's retransmissions have backed off), while this link dials afresh: the leader's
    //   assignments reach the host again at once.
    const second = local.length > 0 ? remote : [...remote.slice(1), ...remote.slice(0, 1)];
    if (second.length > 0 && second.length + local.length > 1) {
      void connect({ ...natsLinkOptions(second), name: `shoal-agent-${this.nodeId}-2`, ...credentials })
        .then((link) => {
          if (this.#state !== 'running') return void link.close();
          this.#second = link;
          const sub2 = link.subscribe(assignSubject);
          this.#subs.push(sub2);
          void this.consumeAssignments(sub2);
        })
        .catch((err: unknown) => this.log.warn('second NATS link not opened', { err: err instanceof Error ? err.message : String(err) }));
    }
    // `shoal service logs` asks this node for its tasks' logs
    const logsSub = nc.subscribe(nodeSubject(c.cluster, this.nodeId, 'logs'));
    this.#subs.push(logsSub);
    void serveLogs(nc, logsSub, docker, (msg, fields) => this.log.warn(msg, fields ?? {}));
    await this.watchDocker(docker);
    void this.registerLoop();
    this.#timers.push(setInterval(() => this.schedule('periodic'), 10_000));
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearInterval(this.#hb);
    this.#events?.destroy();
    await this.#queue.catch(() => undefined);
    for (const s of this.#subs) s.unsubscribe();
    await this.#nc?.drain().catch(() => undefined);
    await this.#second?.close().catch(() => undefined);
    await this.#dns?.stop();
    this.#state = 'stopped';
    this.log.info('agent stopped; its containers keep running');
  }

  private async loadHeld(): Promise<AssignmentSet | undefined> {
    try {
      return JSON.parse(await readFile(join(this.config.dataDir, 'assignment.json'), 'utf8')) as AssignmentSet;
    } catch {
      return undefined;
    }
  }

  private saveHeld(set: AssignmentSet): Promise<void> {
    const save = async (): Promise<void> => {
      await mkdir(this.config.dataDir, { recursive: true });
      const file = join(this.config.dataDir, 'assignment.json');
      await writeFile(`${file}.tmp`, JSON.stringify(set));
      await rename(`${file}.tmp`, file);
    };
    const p = this.#saving.then(save);
    this.#saving = p.catch(() => undefined);
    return p;
  }

  /** The session given up is remembered, so that a late copy of its messages is ignored. */
  private leaveSession(): void {
    if (this.#sessionId === undefined) return;
    this.#leftSessions.add(this.#sessionId);
    // a few are plenty: copies come at most a link's reconnect late
    if (this.#leftSessions.size > 16) this.#leftSessions.delete(this.#leftSessions.values().next().value as string);
  }

  /** Registers (again after every reconnect) until the leader answers. */
  private async registerLoop(): Promise<void> {
    // one loop at a time: a reconnect during a registration leaves it to the loop under way
    if (this.#registering) return;
    this.#registering = true;
    try {
      await this.registerUntilAnswered();
    } finally {
      this.#registering = false;
    }
  }

  private async registerUntilAnswered(): Promise<void> {
    let delay = 250;
    const docker = this.#docker;
    const executor = this.#executor;
    if (!docker || !executor) return;
    while (this.#state === 'running' && this.#nc && !this.#nc.isClosed()) {
      try {
        const version = (await docker.version()) as { Version?: string; Os?: string; Arch?: string };
        const running = (await executor.list()).filter((x) => x.running).map((x) => x.taskId);
        const msg: NodeRegister = {
          v: PROTOCOL_VERSION,
          kind: 'node.register',
          nodeId: this.nodeId,
          hostname: hostname(),
          address: this.address,
          platform: { os: version.Os ?? process.platform, arch: version.Arch ?? process.arch },
          resources: { nanoCpus: cpus().length * 1e9, memoryBytes: totalmem() },
          engineLabels: { ...this.config.labels, 'engine.version': version.Version ?? 'unknown' },
          agentVersion: AGENT_VERSION,
          runningTasks: running,
        };
        const reply = decodeNodeRegisterReply(
          codec.decode((await this.#nc.request(nodeSubject(this.config.cluster, this.nodeId, 'register'), codec.encode(msg), { timeout: 3000 })).data),
        );
        if (reply.kind === 'node.refused') {
          this.log.error('registration refused', { code: reply.code, message: reply.message });
        } else {
          if (reply.sessionId !== this.#sessionId) this.leaveSession();
          this.#sessionId = reply.sessionId;
          this.#reported.clear(); // a new session hears every task's state again
          this.log.info('registered', { sessionId: reply.sessionId });
          this.startHeartbeat(reply.heartbeatPeriodMs);
          this.schedule('registered');
          return;
        }
      } catch (err) {
        this.log.warn('registration failed; retrying', { err: err instanceof Error ? err.message : String(err), retryMs: delay });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }

  /** The host's load for a heartbeat (`shoal watch`, `node ls --wide`); left out where /proc does not say. */
  private load(): { load?: HostLoad } {
    const load = this.#meter.sample(this.#reconciler?.runningContainers ?? 0);
    return load ? { load } : {};
  }

  private startHeartbeat(periodMs: number): void {
    const beat = (): void => {
      if (!this.#nc || this.#nc.isClosed() || !this.#sessionId) return;
      const subject = nodeSubject(this.config.cluster, this.nodeId, 'hb');
      const data = codec.encode({ v: PROTOCOL_VERSION, kind: 'node.hb', nodeId: this.nodeId, sessionId: this.#sessionId, appliedSeq: this.#held?.seq ?? 0, ...this.load() });
      this.#nc.publish(subject, data);
      if (this.#second && !this.#second.isClosed()) this.#second.publish(subject, data);
    };
    beat();
    clearInterval(this.#hb);
    this.#hb = setInterval(beat, periodMs);
  }

  private async watchNats(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === Events.Reconnect) {
        this.log.info('nats reconnected; registering again');
        void this.registerLoop();
      }
    }
  }

  private async consumeAssignments(sub: Subscription): Promise<void> {
    for await (const m of sub) {
      try {
        const msg = decodeAssignment(codec.decode(m.data));
        if (msg.nodeId !== this.nodeId) throw new Error(`assignment for node ${msg.nodeId} arrived at ${this.nodeId}`);
        // the other link's copy of a session this agent has moved on from: never go back to it
        if (this.#leftSessions.has(msg.sessionId)) continue;
        if (msg.kind === 'assign.full' && msg.sessionId !== this.#sessionId) {
          // A new leader opens a session with a full set: adopt it, and report everything again.
          this.log.info('session adopted from the leader', { sessionId: msg.sessionId });
          this.leaveSession();
          this.#sessionId = msg.sessionId;
          this.#reported.clear();
        }
        const outcome = applyAssignment(this.#held, msg);
        // the same message over the second link is stale: not worth a line
        if (outcome.kind !== 'stale') this.log.info('assignment', { kind: msg.kind, seq: msg.seq, outcome: outcome.kind });
        if (outcome.kind === 'applied') {
          this.#held = outcome.set;
          // names change with no container work: the resolver answers them now, not after a pass
          this.#reconciler?.refreshNames(outcome.set);
          this.schedule(`assignment ${msg.seq}`);
          await this.saveHeld(outcome.set);
        } else if (outcome.kind === 'gap') {
          this.log.warn('assignment gap; the next heartbeat asks for the full set', { expected: outcome.expectedSeq, got: msg.seq });
        }
      } catch (err) {
        // a bad message is rejected and logged; the agent keeps serving every other task
        this.log.warn('assignment rejected', { err: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  /** Container events (exits above all) trigger a converge, which reports what changed. */
  private async watchDocker(docker: Docker): Promise<void> {
    // dockerode types the event stream loosely; it is a Readable
    const stream = (await docker.getEvents({
      filters: { type: ['container'], event: ['die', 'start', 'oom', 'health_status'], label: [`${LABEL_CLUSTER}=${this.config.cluster}`] },
    })) as unknown as Readable;
    this.#events = stream;
    stream.on('data', (chunk: Buffer) => {
      // an exit or a health change is news; a container this agent just started is not
      const events = containerEvents(chunk);
      for (const e of events) this.#executor?.forget(e.id);
      const own = (e: { id: string; action: string }): boolean => e.action === 'start' && this.#reconciler?.ownStart(e.id) === true;
      if (events.length === 0 || !events.every(own)) this.schedule('docker event');
    });
    stream.on('error', (err: unknown) => this.log.warn('docker event stream error', { err: String(err) }));
    // dockerd went away (restarted, crashed, upgraded): its stream ends with it
    stream.once('close', () => {
      if (this.#events === stream && this.#state === 'running') void this.rewatchDocker(docker);
    });
  }

  /**
   * Opens the event stream again once dockerd answers, trying every half second, then every 5 s
   * at most. Events sent while it was closed are lost (dockerd restarting kills the containers it
   * finds, and says so before anyone can listen), so a converge pass follows: it reads every
   * container's state from Docker itself.
   */
  private async rewatchDocker(docker: Docker): Promise<void> {
    this.#events = undefined;
    this.log.warn('docker event stream closed; watching for dockerd to come back');
    for (let wait = 500; this.#state === 'running'; wait = Math.min(wait * 2, 5000)) {
      await new Promise((r) => setTimeout(r, wait));
      if (this.#state !== 'running') return;
      try {
        await this.watchDocker(docker);
        this.log.info('docker event stream back');
        this.#executor?.forgetAll();
        this.schedule('docker back');
        return;
      } catch (err) {
        this.log.warn('dockerd not answering yet', { err: String(err) });
      }
    }
  }

  /**
   * Converges one pass at a time. A pass reads the latest set when it begins, so every trigger
   * that arrives while one waits is served by it: a burst costs one extra pass at most.
   */
  private schedule(why: string): void {
    if (this.#state !== 'running') return;
    if (this.#pending !== undefined) {
      if (!this.#pending.includes(why)) this.#pending.push(why);
      return;
    }
    this.#pending = [why];
    this.#queue = this.#queue.then(async () => {
      const whys = (this.#pending ?? []).join(', ');
      this.#pending = undefined;
      const set = this.#held;
      if (!set || !this.#reconciler) return;
      try {
        const t0 = Date.now();
        // each task is announced as soon as it runs: the leader, and every resolver, hear of it
        // without waiting for the host's other tasks
        const reports = await this.#reconciler.converge(set, (r) => this.publishReports([r]));
        if (reports.length > 0) this.log.info('converged', { why: whys, seq: set.seq, ms: Date.now() - t0, reports: reports.map((r) => `${r.taskId}:${r.state}`) });
        this.publishReports(reports);
      } catch (err) {
        this.log.error('converge failed', { why: whys, err: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  private publishReports(reports: TaskReport[]): void {
    // without a session nothing is sent, and nothing is marked sent: registering resends all
    if (!this.#nc || this.#nc.isClosed() || !this.#sessionId) return;
    const fresh = reports.filter((r) => {
      const key = `${r.state}|${r.containerId ?? ''}`;
      if (this.#reported.get(r.taskId) === key) return false;
      this.#reported.set(r.taskId, key);
      return true;
    });
    if (fresh.length === 0) return;
    this.#nc.publish(
      nodeSubject(this.config.cluster, this.nodeId, 'status'),
      codec.encode({ v: PROTOCOL_VERSION, kind: 'task.status', nodeId: this.nodeId, sessionId: this.#sessionId, reports: fresh }),
    );
  }
}

/**
 * The container events in a chunk of Docker's event stream (JSON objects, one a line); none
 * when a line cannot be read (cut across chunks, say): the caller then looks anyway.
 */
export function containerEvents(chunk: Buffer | string): { id: string; action: string }[] {
  const out: { id: string; action: string }[] = [];
  for (const line of chunk.toString().split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { id?: unknown; Actor?: { ID?: unknown }; Action?: unknown; status?: unknown };
      const id = typeof e.Actor?.ID === 'string' ? e.Actor.ID : typeof e.id === 'string' ? e.id : undefined;
      const action = typeof e.Action === 'string' ? e.Action : typeof e.status === 'string' ? e.status : undefined;
      if (id === undefined || action === undefined) return [];
      out.push({ id, action });
    } catch {
      return [];
    }
  }
  return out;
}

/** The host's own resolvers, from /etc/resolv.conf, for names that are not the cluster's. */
async function hostUpstreams(): Promise<{ address: string }[]> {
  try {
    const text = await readFile('/etc/resolv.conf', 'utf8');
    return [...text.matchAll(/^nameserver\s+(\d+\.\d+\.\d+\.\d+)/gm)].map((m) => ({ address: m[1] ?? '' })).filter((u) => u.address !== '');
  } catch {
    return [];
  }
}
