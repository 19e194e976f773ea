import { spawn, type ChildProcess } from 'node:child_process';
import { tcpProbe } from './net.js';

/** A real nats-server for a test, on the given address; stopped with stop(). */
export class NatsServer {
  private child: ChildProcess | undefined;
  log = '';

  constructor(
    readonly address: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `nats://${this.address}:${this.port}`;
  }

  async start(): Promise<void> {
    // a server left by an earlier run would answer the probe below in this one's place
    if (await tcpProbe(this.address, this.port)) throw new Error(`${this.url} is already taken: is an earlier test's nats-server still running?`);
    this.child = spawn('nats-server', ['-a', this.address, '-p', String(this.port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (b: Buffer) => (this.log += b.toString()));
    this.child.stderr?.on('data', (b: Buffer) => (this.log += b.toString()));
    const start = Date.now();
    while (!(await tcpProbe(this.address, this.port))) {
      if (this.child.exitCode !== null) throw new Error(`nats-server exited (${this.child.exitCode}): ${this.log}`);
      if (Date.now() - start > 10_000) throw new Error(`nats-server did not listen on ${this.url}: ${this.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
