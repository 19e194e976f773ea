import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { apiRequest, decodeApiResponse, type ApiRequestBody, type ApiResponse, type ApiVerb } from '@shoal/core';
import type { CoordinatorStatus } from '@shoal/coordinator';
import { NatsServer } from './nats.js';
import { eventually } from './net.js';

const BIN = fileURLToPath(new URL('../../packages/coordinator/dist/bin.js', import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Coordinator PROCESSES (the built bin) on loopback over one real nats-server: started, killed
 * and restarted by member id, each asked for its own status or API directly.
 */
export class CoordinatorCluster {
  readonly nats: NatsServer;
  nc: NatsConnection | undefined;
  readonly procs = new Map<number, { child: ChildProcess; output: string; args: string[] }>();
  #n = 0;

  constructor(
    readonly cluster: string,
    natsPort: number,
    /** Raft port of member id N is basePort + N. */
    readonly basePort: number,
    readonly dataDir: (id: number) => string,
  ) {
    this.nats = new NatsServer('127.0.0.1', natsPort);
  }

  async start(): Promise<void> {
    await this.nats.start();
    this.nc = await connect({ servers: this.nats.url });
  }

  endpoint(id: number): string {
    return `127.0.0.1:${this.basePort + id}`;
  }

  members(ids: number[]): string {
    return ids.map((id) => `${id}=${this.endpoint(id)}`).join(',');
  }

  /** Starts member `id` with the given role flags (--peers … or --join … --listen …). */
  spawn(id: number, flags: string[]): ChildProcess {
    const args = [BIN, '--cluster', this.cluster, '--id', String(id), '--data-dir', this.dataDir(id), '--nats', this.nats.url, '--name', `c${id}`, ...flags];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const p = { child, output: '', args: flags };
    child.stdout?.on('data', (b: Buffer) => (p.output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (p.output += b.toString()));
    this.procs.set(id, p);
    return child;
  }

  /** The same member again, with the flags it was first started with. */
  restart(id: number): ChildProcess {
    const p = this.procs.get(id);
    if (!p) throw new Error(`member ${id} was never started`);
    return this.spawn(id, p.args);
  }

  async kill(id: number, signal: NodeJS.Signals): Promise<number | null> {
    const child = this.procs.get(id)?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    const code = await exited;
    await this.forgotten(id);
    return code;
  }

  /**
   * The process has exited, but nats-server may not have dropped its connection yet: a request
   * sent meanwhile can go to its queue subscription and never be answered. Waits until its own
   * status subject has no responder (bounded).
   */
  private async forgotten(id: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (this.nc && Date.now() < deadline) {
      try {
        await this.nc.request(`shoal.${this.cluster}.coordinator.${id}.status`, enc.encode('{}'), { timeout: 500 });
      } catch (err) {
        if ((err as { code?: string }).code === '503') return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGSTOP/SIGCONT: a member that lags without losing its connections. */
  signal(id: number, signal: NodeJS.Signals): void {
    const child = this.procs.get(id)?.child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  }

  running(id: number): boolean {
    const c = this.procs.get(id)?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  output(id: number): string {
    return this.procs.get(id)?.output ?? '';
  }

  private async ask(subject: string, data: unknown, timeout = 20_000): Promise<unknown> {
    if (!this.nc) throw new Error('not started');
    const m = await this.nc.request(subject, enc.encode(JSON.stringify(data)), { timeout });
    return JSON.parse(dec.decode(m.data));
  }

  async status(id: number): Promise<CoordinatorStatus> {
    return (await this.ask(`shoal.${this.cluster}.coordinator.${id}.status`, {}, 3000)) as CoordinatorStatus;
  }

  /** The API through the queue group (any coordinator), or through member `via` alone. */
  async api<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>, via?: number): Promise<ApiResponse> {
    const subject = via === undefined ? `shoal.${this.cluster}.api.${verb}` : `shoal.${this.cluster}.coordinator.${via}.api.${verb}`;
    return decodeApiResponse(await this.ask(subject, apiRequest(`t${++this.#n}`, verb, body)));
  }

  /** Raw bytes to an API subject, for hostile input. */
  async raw(verb: string, data: Uint8Array): Promise<ApiResponse> {
    if (!this.nc) throw new Error('not started');
    const m = await this.nc.request(`shoal.${this.cluster}.api.${verb}`, data, { timeout: 20_000 });
    return decodeApiResponse(JSON.parse(dec.decode(m.data)));
  }

  /** The member that leads, as every running member it asks agrees. */
  async leader(ids: number[]): Promise<number> {
    return eventually('one leader every running member agrees on', async () => {
      const seen = new Set<number>();
      for (const id of ids) {
        if (!this.running(id)) continue;
        const s = await this.status(id);
        seen.add(s.leader);
      }
      const [only] = [...seen];
      if (seen.size !== 1 || !only) return undefined;
      const s = await this.status(only);
      return s.role === 'leader' && s.serving ? only : undefined;
    }, 60_000);
  }

  /** Waits until the given members have applied the same entries, and returns their statuses. */
  async converged(ids: number[]): Promise<CoordinatorStatus[]> {
    return eventually(`members ${ids.join(', ')} to apply the same log`, async () => {
      const all = await Promise.all(ids.map((id) => this.status(id)));
      const first = all[0];
      return first && all.every((s) => s.applied === first.applied && s.commit === first.commit) ? all : undefined;
    }, 60_000);
  }

  async stop(): Promise<void> {
    for (const id of this.procs.keys()) await this.kill(id, 'SIGKILL');
    await this.nc?.close();
    await this.nats.stop();
  }
}
