// A Shoal cluster on a lab, started by hand: a NATS cluster (one nats-server per coordinator host,
// joined by routes), a coordinator on each of those hosts (3 by default) and an agent on every
// host (hosts without a coordinator run an agent only). Every daemon is a child of this
// process, entered into its host with nsenter (which execs it), so its pid is the daemon's and
// the bench or chaos can kill -9 it and start it again. Stands in for `cluster bootstrap` here.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect } from 'nats';
import { apiRequest, decodeApiResponse } from '@shoal/core';
import { NATS_SERVER_LIVENESS } from '@shoal/cli';
import { memberApiSubject } from '@shoal/coordinator';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const COORDINATOR = `${ROOT}packages/coordinator/dist/bin.js`;
const AGENT = `${ROOT}packages/agent/dist/bin.js`;
const NATS_PORT = 4222;
const ROUTE_PORT = 6222;
const RAFT_PORT = 7100;
const enc = new TextEncoder();
const dec = new TextDecoder();
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something other than undefined; throws after `ms`. */
export async function until(what, probe, ms, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await sleep(every);
  }
}

export class ShoalCluster {
  /** kind → host → child process */
  #children = { nats: new Map(), coordinator: new Map(), agent: new Map() };
  #nc;
  #reqs = 0;

  /**
   * `hosts`: every host, each runs an agent; `coordinators`: the hosts that also run a
   * nats-server and a coordinator (member ids 1, 2, … in that order), by default all of them.
   */
  constructor(lab, { cluster = 'bench', hosts = ['h1', 'h2', 'h3'], coordinators = hosts, logDir, heartbeatMs } = {}) {
    this.lab = lab;
    this.cluster = cluster;
    this.hosts = hosts;
    this.coordinators = coordinators;
    this.heartbeatMs = heartbeatMs;
    this.logDir = logDir ?? `${ROOT}.bench-logs/${lab.name}`;
    // each run's logs alone, so what a failure points at is this run's
    rmSync(this.logDir, { recursive: true, force: true });
    mkdirSync(this.logDir, { recursive: true });
  }

  address(host) {
    return this.lab.host(host).address;
  }

  natsUrl(host) {
    return `nats://${this.address(host)}:${NATS_PORT}`;
  }

  /** Every nats-server's URL (the coordinators' hosts), as a CLI context lists them. */
  get natsUrls() {
    return this.coordinators.map((h) => this.natsUrl(h));
  }

  /** What a daemon on `host` is given, as `cluster bootstrap` gives it: its own host's server first, then the others. */
  natsUrlsFor(host) {
    return [...this.coordinators.filter((h) => h === host), ...this.coordinators.filter((h) => h !== host)].map((h) => this.natsUrl(h));
  }

  member(host) {
    return this.coordinators.indexOf(host) + 1;
  }

  hostOfMember(id) {
    return this.coordinators[id - 1];
  }

  #spawn(kind, host, argv) {
    const [cmd, ...args] = this.lab.commandIn(host, argv);
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(`${this.logDir}/${kind}-${host}.log`, { flags: 'a' });
    log.write(`--- ${new Date().toISOString()} start pid ${child.pid}\n`);
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.once('exit', (code, signal) => log.end(`--- ${new Date().toISOString()} exit ${code ?? signal}\n`));
    this.#children[kind].set(host, child);
    return child;
  }

  startNats(host) {
    const routes = this.coordinators.filter((h) => h !== host).map((h) => `nats://${this.address(h)}:${ROUTE_PORT}`).join(',');
    // how fast a dead route or client is noticed, as bootstrap configures it; the rest are flags
    const conf = `${this.logDir}/nats-${host}.conf`;
    writeFileSync(conf, `${NATS_SERVER_LIVENESS.join('\n')}\n`);
    return this.#spawn('nats', host, ['nats-server', '-c', conf, '-a', '0.0.0.0', '-p', String(NATS_PORT), '-n', `${this.cluster}-${host}`, '--cluster_name', this.cluster, '--cluster', `nats://0.0.0.0:${ROUTE_PORT}`, '--routes', routes]);
  }

  /**
   * Every daemon is given every nats-server, its own host's first, as `cluster bootstrap` does
   * (packages/cli/src/bootstrap/plan.ts): which one it talks to, and how soon it leaves a server
   * whose host died, is the daemon's own doing, and what host-loss figures measure.
   */
  startCoordinator(host) {
    const peers = this.coordinators.map((h) => `${this.member(h)}=${this.address(h)}:${RAFT_PORT}`).join(',');
    const nats = this.natsUrlsFor(host).flatMap((u) => ['--nats', u]);
    const hb = this.heartbeatMs ? ['--heartbeat-ms', String(this.heartbeatMs)] : [];
    return this.#spawn('coordinator', host, [process.execPath, COORDINATOR, '--cluster', this.cluster, '--id', String(this.member(host)), '--peers', peers, '--data-dir', '/var/lib/shoal/coordinator', ...nats, ...hb]);
  }

  startAgent(host) {
    const nats = this.natsUrlsFor(host).flatMap((u) => ['--nats', u]);
    return this.#spawn('agent', host, [process.execPath, AGENT, '--cluster', this.cluster, ...nats, '--data-dir', '/var/lib/shoal/agent', '--label', `lab.host=${host}`]);
  }

  start(kind, host) {
    if (this.running(kind, host)) return this.#children[kind].get(host);
    if (kind === 'nats') return this.startNats(host);
    if (kind === 'coordinator') return this.startCoordinator(host);
    return this.startAgent(host);
  }

  running(kind, host) {
    const c = this.#children[kind].get(host);
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  pid(kind, host) {
    return this.#children[kind].get(host)?.pid;
  }

  /** kill -9 by pid (never by name: every lab host runs the same binaries). */
  async kill(kind, host, signal = 'SIGKILL') {
    const c = this.#children[kind].get(host);
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await Promise.race([exited, sleep(15_000)]);
  }

  /** Starts everything, waits for NATS routes, a leader and every agent ready. */
  async up({ timeoutMs = 90_000 } = {}) {
    for (const h of this.coordinators) this.startNats(h);
    await until('NATS on every coordinator host', async () => {
      for (const h of this.coordinators) {
        const nc = await connect({ servers: this.natsUrl(h), timeout: 1000, reconnect: false });
        await nc.close();
      }
      return true;
    }, 20_000);
    for (const h of this.coordinators) this.startCoordinator(h);
    for (const h of this.hosts) this.startAgent(h);
    await until('a leader', () => this.leader(), timeoutMs, 500);
    await this.waitNodesReady(this.hosts.length, timeoutMs);
  }

  async nc() {
    if (!this.#nc || this.#nc.isClosed()) {
      // a server whose host is cut is left within about 2 s (pings), so the bench's and chaos's
      // own requests measure the cluster, not this client's failover
      this.#nc = await connect({ servers: this.natsUrls, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 3000, pingInterval: 1000, maxPingOut: 2 });
    }
    return this.#nc;
  }

  /** A connection to one host's nats-server only (no failover to others): see chaos's writers. */
  connectTo(host) {
    return connect({ servers: this.natsUrl(host), maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 2000, pingInterval: 1000, maxPingOut: 2 });
  }

  /**
   * One API request; returns the body or throws the coordinator's error (err.code set). Over
   * this launcher's connection (every server), or `nc` when given.
   */
  async api(verb, body = {}, { member, timeoutMs = 20_000, nc: via } = {}) {
    const nc = via ?? (await this.nc());
    const subject = member === undefined ? `shoal.${this.cluster}.api.${verb}` : memberApiSubject(this.cluster, member);
    const msg = await nc.request(subject, enc.encode(JSON.stringify(apiRequest(`b${process.pid}-${++this.#reqs}`, verb, body))), { timeout: timeoutMs });
    const r = decodeApiResponse(JSON.parse(dec.decode(msg.data)));
    if (!r.ok) throw Object.assign(new Error(`${r.error.code}: ${r.error.message}`), { code: r.error.code });
    return r.body;
  }

  /** cluster.info from each coordinator on its own subject (undefined where none answers). */
  async infos(timeoutMs = 3000) {
    return Promise.all(this.coordinators.map((h) => this.api('cluster.info', {}, { member: this.member(h), timeoutMs }).catch(() => undefined)));
  }

  /** The host whose coordinator leads now, or undefined. */
  async leader() {
    const infos = await this.infos(2000);
    const i = infos.findIndex((x) => x?.leading === true);
    return i < 0 ? undefined : this.coordinators[i];
  }

  async waitNodesReady(n, timeoutMs = 90_000) {
    return until(`${n} nodes ready`, async () => {
      const nodes = await this.api('node.ls', {}, { timeoutMs: 3000 });
      return nodes.filter((x) => x.state === 'ready').length >= n ? nodes : undefined;
    }, timeoutMs, 500);
  }

  async stop() {
    await this.#nc?.close().catch(() => undefined);
    for (const kind of ['agent', 'coordinator', 'nats']) {
      for (const h of this.hosts) await this.kill(kind, h, 'SIGTERM');
    }
  }
}
