#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { connect } from 'nats';
import { pino } from 'pino';
import { natsBus } from './dispatcher/bus.js';
import { Manager } from './manager.js';

function peers(value: string): Map<number, { host: string; port: number }> {
  const out = new Map<number, { host: string; port: number }>();
  for (const part of value.split(',')) {
    const m = /^(\d+)=([^:]+):(\d+)$/.exec(part.trim());
    if (!m) throw new InvalidArgumentError(`expected ID=HOST:PORT[,…], got "${part}"`);
    out.set(Number(m[1]), { host: m[2] ?? '', port: Number(m[3]) });
  }
  return out;
}

const program = new Command('shoal-coordinator')
  .description("a Shoal coordinator: one member of the cluster's Raft group, serving the API; the leader runs the cluster")
  .requiredOption('--cluster <id>', 'cluster id', process.env.SHOAL_CLUSTER)
  .requiredOption('--id <n>', "this coordinator's Raft member id", (v) => Number(v))
  .requiredOption('--peers <list>', 'every coordinator as ID=HOST:PORT, this one included (Raft over TCP)', peers)
  .option('--data-dir <dir>', 'where the Raft log and snapshots live', '/var/lib/shoal/coordinator')
  .option('--nats <url>', 'NATS server URL (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--nats-user <user>', 'NATS user (password from SHOAL_NATS_PASSWORD)', process.env.SHOAL_NATS_USER)
  .option('--heartbeat-ms <ms>', 'agent heartbeat period', (v) => Number(v), 1000)
  .addHelpText('after', '\nExample:\n  shoal-coordinator --cluster prod --id 1 --peers 1=10.1.0.1:7100,2=10.1.0.2:7100,3=10.1.0.3:7100 --nats nats://10.1.0.1:4222');
program.parse();
const o = program.opts<{ cluster: string; id: number; peers: Map<number, { host: string; port: number }>; dataDir: string; nats?: string[]; natsUser?: string; heartbeatMs: number }>();
if (!o.peers.has(o.id)) {
  process.stderr.write(`error: --peers does not list this coordinator (--id ${o.id}) — add ${o.id}=HOST:PORT\n`);
  process.exit(2);
}

const logger = pino({ name: 'shoal-coordinator' });
const log = (msg: string, fields?: Record<string, unknown>): void => logger.info(fields ?? {}, msg);
const nc = await connect({
  servers: o.nats ?? process.env.SHOAL_NATS_URL?.split(',') ?? ['nats://127.0.0.1:4222'],
  name: `shoal-coordinator-${o.id}`,
  ...(o.natsUser ? { user: o.natsUser, pass: process.env.SHOAL_NATS_PASSWORD ?? '' } : {}),
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  waitOnFirstConnect: true,
});
const manager = new Manager({ cluster: o.cluster, id: o.id, peers: o.peers, dataDir: o.dataDir, bus: natsBus(nc), heartbeatPeriodMs: o.heartbeatMs, log });
await manager.start();
log('coordinator started', { id: o.id, cluster: o.cluster });
const shutdown = (signal: string): void => {
  log('shutting down', { signal });
  setTimeout(() => process.exit(1), 10_000).unref();
  manager
    .stop()
    .then(() => nc.drain())
    .then(
      () => process.exit(0),
      () => process.exit(1),
    );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
