import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import {
  PROTOCOL_VERSION,
  macForAddress,
  decodeNodeRegister,
  decodeTaskStatus,
  type AssignmentMessage,
  type NetworkAssignment,
  type TaskAssignment,
  type TaskReport,
} from '@shoal/core';
import { Lab } from '@shoal/lab';
import { NatsServer } from './nats.js';
import { eventually } from './net.js';

const AGENT_BIN = fileURLToPath(new URL('../../packages/agent/dist/bin.js', import.meta.url));
const codec = JSONCodec<unknown>();

export interface RegisteredNode {
  host: string;
  nodeId: string;
  address: string;
  sessionId: string;
}

/**
 * Stands in for the coordinator's leader in agent tests: a real nats-server on the lab's
 * gateway, registrations answered, task reports collected, assignments sent. The agents are
 * real processes on the lab's hosts.
 */
export class LeaderHarness {
  lab!: Lab;
  nats!: NatsServer;
  nc!: NatsConnection;
  readonly agents = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string>();
  readonly nodes = new Map<string, RegisteredNode>();
  /** Every registration, in order: each reconnect of an agent shows up here. */
  readonly registrations: { host: string; labels: Record<string, string> }[] = [];
  readonly reports = new Map<string, TaskReport>();
  /** Every state each task was reported in, in order. */
  readonly history = new Map<string, string[]>();
  private readonly seq = new Map<string, number>();

  constructor(
    readonly labName: string,
    readonly cluster: string,
    readonly natsPort: number,
  ) {}

  /** With `answer: false` the test brings its own leader (the real dispatcher) instead. */
  async start(hosts: number, { answer = true, mtu }: { answer?: boolean; mtu?: number } = {}): Promise<void> {
    await Lab.down(this.labName);
    this.lab = await Lab.up({ name: this.labName, hosts, ...(mtu !== undefined ? { mtu } : {}) });
    this.nats = new NatsServer(this.lab.state.gateway, this.natsPort);
    await this.nats.start();
    this.nc = await connect({ servers: this.nats.url });
    if (answer) this.answerRegistrations();
    for (const h of this.lab.state.hosts) {
      // the agent reads its settings from a file, as when it is installed as a service
      const cfg = [`cluster: ${this.cluster}`, `nats: ${this.nats.url}`, 'dataDir: /var/lib/shoal/agent', 'labels:', `  lab.host: ${h.name}`, ''].join('\n');
      const w = await this.lab.exec(h.name, ['sh', '-c', 'cat > /etc/shoal/agent.yaml'], { input: cfg });
      if (w.code !== 0) throw new Error(`writing the agent's config on ${h.name}: ${w.stderr}`);
      this.startAgent(h.name);
    }
    if (answer) await eventually('every agent to register', () => (this.nodes.size === hosts ? true : undefined), 60_000);
  }

  /** Plays the leader's part of registration, and collects task reports. */
  private answerRegistrations(): void {
    const hostByAddress = new Map(this.lab.state.hosts.map((h) => [h.address, h.name]));
    this.nc.subscribe(`shoal.${this.cluster}.node.*.register`, {
      callback: (_err, m) => {
        const reg = decodeNodeRegister(codec.decode(m.data));
        const host = hostByAddress.get(reg.address) ?? 'unknown';
        const sessionId = `s${Date.now()}`;
        this.nodes.set(host, { host, nodeId: reg.nodeId, address: reg.address, sessionId });
        this.registrations.push({ host, labels: reg.engineLabels });
        m.respond(codec.encode({ v: PROTOCOL_VERSION, kind: 'node.registered', nodeId: reg.nodeId, sessionId, heartbeatPeriodMs: 1000, missedHeartbeats: 3 }));
      },
    });
    this.nc.subscribe(`shoal.${this.cluster}.node.*.status`, {
      callback: (_err, m) => {
        for (const r of decodeTaskStatus(codec.decode(m.data)).reports) {
          this.reports.set(r.taskId, r);
          this.history.set(r.taskId, [...(this.history.get(r.taskId) ?? []), r.state]);
        }
      },
    });
  }

  async stop(): Promise<void> {
    for (const host of this.agents.keys()) await this.stopAgent(host, 'SIGTERM').catch(() => undefined);
    await this.nc?.close();
    await this.nats?.stop();
    await Lab.down(this.labName);
    // kept for whoever debugs a failure
    await mkdir('.test-results', { recursive: true });
    for (const [host, log] of this.logs) await writeFile(`.test-results/agent-${this.labName}-${host}.log`, log);
  }

  startAgent(host: string): void {
    const [cmd, ...args] = this.lab.commandIn(host, [process.execPath, AGENT_BIN, '--config', '/etc/shoal/agent.yaml']);
    const child = spawn(cmd ?? 'nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (b: Buffer): void => void this.logs.set(host, (this.logs.get(host) ?? '') + b.toString());
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.agents.set(host, child);
  }

  async stopAgent(host: string, signal: NodeJS.Signals): Promise<void> {
    const child = this.agents.get(host);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // nsenter execs the agent (it forks only to enter a PID namespace), so this is the agent.
      // Not pkill: lab hosts share the machine's PID namespace, pkill would hit every host's agent.
      child.kill(signal);
    });
  }

  node(host: string): RegisteredNode {
    const n = this.nodes.get(host);
    if (!n) throw new Error(`no agent registered for ${host}`);
    return n;
  }

  assign(host: string, tasks: TaskAssignment[], networks: NetworkAssignment[]): void {
    const n = this.node(host);
    const next = (this.seq.get(host) ?? 0) + 1;
    this.seq.set(host, next);
    const msg: AssignmentMessage = { v: PROTOCOL_VERSION, kind: 'assign.full', nodeId: n.nodeId, sessionId: n.sessionId, seq: next, tasks, networks };
    this.nc.publish(`shoal.${this.cluster}.node.${n.nodeId}.assign`, codec.encode(msg));
  }

  state(taskId: string): string | undefined {
    return this.reports.get(taskId)?.state;
  }

  async until(taskId: string, state: string, timeoutMs = 90_000): Promise<TaskReport> {
    const now = (): string => {
      const r = this.reports.get(taskId);
      return r ? `${r.state}: ${r.message}` : 'unreported';
    };
    try {
      return await eventually(`${taskId} to be ${state}`, () => (this.state(taskId) === state ? this.reports.get(taskId) : undefined), timeoutMs);
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)} (now ${now()})`);
    }
  }

  /** Runs a shell command in the task's container, on its host. */
  async inTask(host: string, taskId: string, cmd: string): Promise<{ code: number; out: string }> {
    const r = await this.lab.exec(host, ['sh', '-c', `docker exec $(docker ps -q -f label=io.shoal.task.id=${taskId}) sh -c '${cmd}'`], { timeoutMs: 30_000 });
    return { code: r.code, out: r.stdout.trim() };
  }
}

/** A task as the leader would assign it; by default a busybox that answers its name on :7000. */
export function taskAssignment(id: string, service: string, slot: number, attachments: { networkId: string; address: string; aliases?: string[] }[], extra: Partial<TaskAssignment> = {}): TaskAssignment {
  return {
    taskId: id,
    serviceId: `svc-${service}`,
    serviceName: service,
    slot,
    desiredState: 'running',
    specVersion: 1,
    // sh as PID 1 acts on SIGTERM (a bare nc would ignore it and make every stop wait 10 s)
    container: { image: 'shoal/busybox', command: ['sh', '-c', 'trap "exit 0" TERM; nc -ll -p 7000 -e hostname & wait'], env: {}, hostname: id, labels: {}, expose: [] },
    limits: {},
    attachments: attachments.map((a) => ({ networkId: a.networkId, address: `${a.address}/24`, mac: macForAddress(a.address), aliases: a.aliases ?? [] })),
    hostPorts: [],
    ...extra,
  };
}
