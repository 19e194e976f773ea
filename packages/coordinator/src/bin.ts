#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { connect, DebugEvents, Events } from 'nats';
import { pino } from 'pino';
import { isShoalError, natsLinkOptions, orderNatsServers } from '@shoal/core';
import { parseCoordinatorConfigFile, parseCount, parseEndpoint, parseMemberId, parseMembers, resolveCoordinatorConfig, type CoordinatorConfig } from './config.js';
import { natsBus } from './dispatcher/bus.js';
import { Manager } from './manager.js';

/** Flag values are checked by the same parsers as the file; their errors become usage errors. */
function flag<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError(isShoalError(err) ? err.what : String(err));
    }
  };
}

const program = new Command('shoal-coordinator')
  .description("a Shoal coordinator: one member of the cluster's Raft group, serving the API; the leader runs the cluster")
  .option('--config <file>', 'a YAML config file; every key is the long form of a flag (dataDir, natsUser…); flags override it')
  .option('--cluster <id>', 'cluster id', process.env.SHOAL_CLUSTER)
  .option('--id <n>', "this coordinator's Raft member id (a whole number never used before in this cluster)", flag((v) => parseMemberId(v, '--id')))
  .option('--peers <list>', 'found a new cluster: every founding coordinator as ID=HOST:PORT, this one included (Raft over TCP)', flag((v) => parseMembers(v, '--peers')))
  .option('--join <list>', 'join a running cluster through some of its coordinators, as ID=HOST:PORT,…', flag((v) => parseMembers(v, '--join')))
  .option('--listen <host:port>', 'where the other coordinators reach this one for Raft (needed with --join)', flag((v) => parseEndpoint(v, '--listen')))
  .option('--standby', 'with --join: stay a standby (copies the store, does not vote) until `node promote`')
  .option('--name <name>', 'the name node promote/demote know this coordinator by (default: the hostname)')
  .option('--data-dir <dir>', 'where the Raft log and snapshots live (default /var/lib/shoal/coordinator)')
  .option('--nats <url>', 'NATS server URL (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--nats-user <user>', 'NATS user (password from SHOAL_NATS_PASSWORD)', process.env.SHOAL_NATS_USER)
  .option('--heartbeat-ms <ms>', 'agent heartbeat period (default 1000)', (v) => Number(v))
  .option('--token <token>', 'with --join: the manager join token (shoal cluster join-token -q coordinator; or SHOAL_JOIN_TOKEN)', process.env.SHOAL_JOIN_TOKEN)
  .option('--snapshot-every <n>', 'snapshot the store and drop the Raft log behind it every N applied entries (default 10000)', flag((v) => parseCount('snapshotEvery', v, '--snapshot-every')))
  .option('--snapshot-keep <n>', 'entries kept behind a snapshot for followers slightly behind (default 500)', flag((v) => parseCount('snapshotKeep', v, '--snapshot-keep')))
  .option('--wal-segment-bytes <n>', 'size at which a Raft log segment is closed; whole segments behind a snapshot are deleted (default 64 MiB)', flag((v) => parseCount('walSegmentBytes', v, '--wal-segment-bytes')))
  .option('--election-ms <ms>', 'leader silence before the coordinators elect another (default 500; raise it on a busy or starved machine)', (v) => Number(v))
  .addHelpText(
    'after',
    [
      '',
      'Examples:',
      '  shoal-coordinator --cluster prod --id 1 --peers 1=10.1.0.1:7100,2=10.1.0.2:7100,3=10.1.0.3:7100 --nats nats://10.1.0.1:4222',
      '  shoal-coordinator --cluster prod --id 4 --listen 10.1.0.4:7100 --join 1=10.1.0.1:7100,2=10.1.0.2:7100 --token SHOAL-1-… --nats nats://10.1.0.1:4222',
      '  shoal-coordinator --config /etc/shoal/coordinator.yml --id 2',
    ].join('\n'),
  );
program.parse();
const flags = program.opts<{ config?: string; cluster?: string; id?: number; peers?: CoordinatorConfig['peers']; join?: CoordinatorConfig['join']; listen?: CoordinatorConfig['listen']; standby?: boolean; name?: string; dataDir?: string; nats?: string[]; natsUser?: string; heartbeatMs?: number; token?: string; snapshotEvery?: number; snapshotKeep?: number; walSegmentBytes?: number; electionMs?: number }>();

let config: ReturnType<typeof resolveCoordinatorConfig>;
try {
  const file = flags.config ? parseCoordinatorConfigFile(readFileSync(flags.config, 'utf8'), flags.config) : {};
  if (flags.heartbeatMs !== undefined && (!Number.isInteger(flags.heartbeatMs) || flags.heartbeatMs < 50)) throw new InvalidArgumentError('--heartbeat-ms: expected milliseconds ≥ 50');
  if (flags.electionMs !== undefined && (!Number.isInteger(flags.electionMs) || flags.electionMs < 200 || flags.electionMs > 60_000)) throw new InvalidArgumentError('--election-ms: expected milliseconds between 200 and 60000');
  config = resolveCoordinatorConfig(file, {
    cluster: flags.cluster,
    id: flags.id,
    peers: flags.peers,
    join: flags.join,
    listen: flags.listen,
    standby: flags.standby,
    name: flags.name,
    dataDir: flags.dataDir,
    natsUrls: flags.nats ?? process.env.SHOAL_NATS_URL?.split(','),
    natsUser: flags.natsUser,
    heartbeatMs: flags.heartbeatMs,
    joinToken: flags.token,
    snapshotEvery: flags.snapshotEvery,
    snapshotKeep: flags.snapshotKeep,
    walSegmentBytes: flags.walSegmentBytes,
    electionMs: flags.electionMs,
  });
} catch (err) {
  const e = err as { code?: string; what?: string; todo?: string; message?: string };
  process.stderr.write(`error: ${e.what ?? e.message ?? String(err)}${e.todo ? ` — ${e.todo}` : ''}\n`);
  process.exit(e.code === 'ENOENT' ? 1 : 2);
}

const logger = pino({ name: 'shoal-coordinator' });
const log = (msg: string, fields?: Record<string, unknown>): void => logger.info(fields ?? {}, msg);
// this host's server first (it fails only with this coordinator), then the others shuffled
const hostAddresses = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((i) => i.address));
const nc = await connect({
  ...natsLinkOptions(orderNatsServers(config.natsUrls, hostAddresses)),
  name: `shoal-coordinator-${config.id}`,
  ...(config.natsUser ? { user: config.natsUser, pass: process.env.SHOAL_NATS_PASSWORD ?? '' } : {}),
});
const manager = new Manager({
  cluster: config.cluster,
  id: config.id,
  peers: config.peers ?? new Map(),
  join: config.join,
  listen: config.listen,
  standby: config.standby,
  name: config.name,
  dataDir: config.dataDir,
  bus: natsBus(nc),
  heartbeatPeriodMs: config.heartbeatMs,
  snapshotEvery: config.snapshotEvery,
  snapshotKeep: config.snapshotKeep,
  walSegmentBytes: config.walSegmentBytes,
  joinToken: config.joinToken,
  // Raft ticks every 50 ms: the election timeout counts in ticks
  electionTick: Math.max(2, Math.round(config.electionMs / 50)),
  log,
  onJoinRefused: (err) => {
    // a refusal is final (a wrong token, an id taken): say so and stop, rather than idle unseen
    process.stderr.write(`error: the cluster refused to add this coordinator: ${err.what}${err.todo ? ` — ${err.todo}` : ''}\n`);
    shutdown('join refused', 1);
  },
});
await manager.start();
// a lost connection loses what was published meanwhile (agents then resync): worth a log line
void (async () => {
  for await (const s of nc.status()) if (s.type === Events.Disconnect || s.type === Events.Reconnect || s.type === DebugEvents.StaleConnection) log('nats connection', { event: s.type });
})();
log('coordinator started', { id: config.id, cluster: config.cluster, name: manager.name, joining: config.join !== undefined });
let stopping = false;
const shutdown = (signal: string, code = 0): void => {
  if (stopping) return;
  stopping = true;
  log('shutting down', { signal });
  // a watchdog: a shutdown that hangs must not leave the process around
  setTimeout(() => process.exit(1), 10_000).unref();
  manager
    .stop()
    .then(() => nc.drain())
    .then(
      () => {
        log('stopped', { id: config.id });
        process.exit(code);
      },
      () => process.exit(1),
    );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
