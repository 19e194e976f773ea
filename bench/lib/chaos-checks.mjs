// What chaos checks, read from the outside: the API (each coordinator on its own subject too),
// every host's Docker, every host's kernel (overlay sandboxes' FDB and neighbour tables) and
// every host's resolver as a container there sees it. Each check returns { name, ok, detail }.
import { macForAddress } from '@shoal/core';
import { ApiClient } from '@shoal/cli';
import { containerPid, containerStarts, nameGaps, resolve, resolverOf, restartedBetween, streamNames } from './probe.mjs';

const ENDED = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned']);
const plain = (a) => a.split('/')[0];

/** Everything the checks compare, gathered once. */
export async function observe(cluster) {
  const lab = cluster.lab;
  const infos = await cluster.infos(5000);
  const nodes = await cluster.api('node.ls');
  const networks = await cluster.api('network.ls');
  const services = await cluster.api('service.ls');
  const tasks = [];
  const serviceNet = new Map();
  for (const s of [...services]) {
    try {
      const spec = (await cluster.api('service.inspect', { service: s.name })).spec;
      serviceNet.set(s.name, spec.networks.map((n) => n.target));
      for (const t of await cluster.api('service.ps', { service: s.name })) tasks.push({ ...t, networks: serviceNet.get(s.name) });
    } catch (err) {
      // removed between the list and this look: it is simply gone
      if (err.code !== 'no_such_service') throw err;
      services.splice(services.indexOf(s), 1);
    }
  }
  const hosts = {};
  for (const h of cluster.hosts) {
    const ps = await lab.exec(h, ['docker', 'ps', '-a', '--no-trunc', '-f', `label=io.shoal.cluster=${cluster.cluster}`, '--format', '{{.ID}} {{.State}} {{.Label "io.shoal.task.id"}}'], { timeoutMs: 30_000 });
    const containers = ps.code === 0 ? ps.stdout.split('\n').filter(Boolean).map((l) => {
      const [id, state, task] = l.split(' ');
      return { id, state, task };
    }) : undefined;
    const ns = await lab.exec(h, ['ip', '-j', 'netns', 'list'], { timeoutMs: 10_000 });
    const sandboxes = {};
    for (const n of JSON.parse(ns.stdout || '[]')) {
      const vni = /^shoal-ov-(\d+)$/.exec(n.name)?.[1];
      if (!vni) continue;
      const fdb = JSON.parse((await lab.exec(h, ['bridge', '-n', n.name, '-j', 'fdb', 'show', 'dev', 'vxlan0'])).stdout || '[]');
      const neigh = JSON.parse((await lab.exec(h, ['ip', '-n', n.name, '-j', 'neigh', 'show', 'dev', 'vxlan0'])).stdout || '[]');
      sandboxes[vni] = {
        fdb: new Set(fdb.filter((e) => e.dst && e.mac !== '00:00:00:00:00:00').map((e) => `${e.mac} ${e.dst}`)),
        neigh: new Set(neigh.filter((e) => e.lladdr).map((e) => `${e.dst} ${e.lladdr}`)),
      };
    }
    hosts[h] = { containers, sandboxes };
  }
  return { infos, nodes, networks, services, tasks, hosts };
}

const result = (name, problems, okDetail) => ({ name, ok: problems.length === 0, detail: problems.length === 0 ? okDetail : problems.slice(0, 6).join('; ') + (problems.length > 6 ? `; … ${problems.length - 6} more` : '') });

/** Every coordinator answers, at the same index, with the same store digest. */
export function coordinatorsAgree(o, { strict }) {
  const problems = [];
  const answered = o.infos.map((x, i) => ({ ...x, member: i + 1 })).filter((x) => x.index !== undefined);
  if (strict && answered.length < o.infos.length) problems.push(`${o.infos.length - answered.length} coordinator(s) did not answer`);
  const byIndex = new Map();
  for (const x of answered) byIndex.set(x.index, [...(byIndex.get(x.index) ?? []), x]);
  for (const [index, xs] of byIndex) if (new Set(xs.map((x) => x.digest)).size > 1) problems.push(`members ${xs.map((x) => x.member).join(',')} differ at index ${index}`);
  if (strict && byIndex.size > 1) problems.push(`indexes differ: ${answered.map((x) => `${x.member}@${x.index}`).join(' ')}`);
  if (strict && answered.filter((x) => x.leading).length !== 1) problems.push(`${answered.filter((x) => x.leading).length} leaders`);
  const first = answered[0];
  return result('coordinators agree', problems, first ? `${answered.length} at index ${first.index}, digest ${first.digest.slice(0, 12)}` : 'none answered');
}

export function nodesReady(o) {
  const problems = o.nodes.filter((n) => n.state !== 'ready').map((n) => `${n.hostname} is ${n.state}`);
  if (o.nodes.length !== Object.keys(o.hosts).length) problems.push(`${o.nodes.length} nodes registered for ${Object.keys(o.hosts).length} hosts`);
  return result('every node ready', problems, o.nodes.map((n) => n.hostname).sort().join(', '));
}

export function servicesConverge(o) {
  const problems = o.services.filter((s) => s.running !== s.desired).map((s) => `${s.name} ${s.running}/${s.desired}`);
  return result('every service at its desired replicas', problems, `${o.services.length} services, ${o.services.reduce((n, s) => n + s.desired, 0)} replicas`);
}

export function nothingHeldTwice(o) {
  const problems = [];
  const seen = (what, key, owner, map) => {
    if (map.has(key)) problems.push(`${what} ${key} held by ${map.get(key)} and ${owner}`);
    else map.set(key, owner);
  };
  const vnis = new Map();
  const subnets = new Map();
  for (const n of o.networks) {
    if (n.vni !== undefined && n.vni !== null) seen('VNI', n.vni, n.name, vnis);
    if (n.subnet) seen('subnet', n.subnet, n.name, subnets);
  }
  const addresses = new Map();
  for (const t of o.tasks) if (t.desired === 'running' && !ENDED.has(t.state)) for (const a of t.addresses) seen('address', plain(a), `task ${t.id}`, addresses);
  for (const s of o.services) for (const v of s.vips ?? []) seen('address', plain(v.address), `VIP of ${s.name}`, addresses);
  return result('no address, VNI or subnet held twice', problems, `${vnis.size} VNIs, ${subnets.size} subnets, ${addresses.size} addresses`);
}

/** Safety (always): no task with two containers. Liveness (strict): containers ⇔ wanted tasks. */
export function containersMatchTasks(o, { strict }) {
  const problems = [];
  const byTask = new Map();
  let count = 0;
  for (const [h, { containers }] of Object.entries(o.hosts)) {
    if (!containers) {
      if (strict) problems.push(`${h}: docker did not answer`);
      continue;
    }
    for (const c of containers) {
      count++;
      byTask.set(c.task, [...(byTask.get(c.task) ?? []), { host: h, ...c }]);
    }
  }
  for (const [task, cs] of byTask) {
    const live = cs.filter((c) => c.state === 'running');
    if (live.length > 1) problems.push(`task ${task} has ${live.length} running containers (${live.map((c) => c.host).join(', ')})`);
    if (strict && cs.length > 1) problems.push(`task ${task} has ${cs.length} containers`);
  }
  if (strict) {
    const wanted = new Map(o.tasks.filter((t) => t.desired === 'running' && !ENDED.has(t.state) && t.node).map((t) => [t.id, t]));
    for (const [task, cs] of byTask) {
      const t = wanted.get(task);
      if (!t) problems.push(`container ${cs[0].id.slice(0, 12)} on ${cs[0].host} has no task (task ${task} is ${o.tasks.find((x) => x.id === task)?.state ?? 'not in the store'})`);
      else if (cs.some((c) => c.host !== t.node)) problems.push(`task ${task} belongs on ${t.node} but has a container on ${cs.map((c) => c.host).join(',')}`);
    }
    for (const [id, t] of wanted) {
      const cs = (byTask.get(id) ?? []).filter((c) => c.state === 'running');
      if (cs.length !== 1) problems.push(`task ${id} (${t.service}) on ${t.node} has ${cs.length} running containers`);
    }
  }
  return result('containers ⇔ tasks (none without a task, none twice)', problems, `${count} containers, ${byTask.size} tasks`);
}

/** The FDB and neighbour entries every host's sandboxes should hold, from the store alone. */
export function expectedKernel(o) {
  const vniOf = new Map(o.networks.map((n) => [n.name, n.vni]));
  const addressOf = new Map(o.nodes.map((n) => [n.hostname, n.address]));
  const want = {};
  for (const h of Object.keys(o.hosts)) want[h] = {};
  const placed = o.tasks.filter((t) => t.desired === 'running' && !ENDED.has(t.state) && t.node);
  for (const h of Object.keys(o.hosts)) {
    for (const t of placed.filter((x) => x.node === h)) {
      for (const net of t.networks) {
        const vni = vniOf.get(net);
        if (vni !== undefined) want[h][vni] ??= { fdb: new Set(), neigh: new Set() };
      }
    }
  }
  for (const t of placed) {
    t.networks.forEach((net, i) => {
      const vni = vniOf.get(net);
      const addr = t.addresses[i] && plain(t.addresses[i]);
      if (vni === undefined || !addr) return;
      const mac = macForAddress(addr);
      for (const h of Object.keys(o.hosts)) {
        if (h === t.node || !want[h][vni]) continue;
        want[h][vni].fdb.add(`${mac} ${addressOf.get(t.node)}`);
        want[h][vni].neigh.add(`${addr} ${mac}`);
      }
    });
  }
  return want;
}

export function kernelMatchesStore(o) {
  const problems = [];
  const want = expectedKernel(o);
  let entries = 0;
  for (const [h, { sandboxes }] of Object.entries(o.hosts)) {
    const vnis = new Set([...Object.keys(sandboxes), ...Object.keys(want[h]).map(String)]);
    for (const vni of vnis) {
      const have = sandboxes[vni];
      const w = want[h][vni];
      if (!have) {
        problems.push(`${h}: no sandbox for VNI ${vni}`);
        continue;
      }
      if (!w) {
        problems.push(`${h}: sandbox shoal-ov-${vni} has no local task`);
        continue;
      }
      for (const [kind, a, b] of [['FDB', have.fdb, w.fdb], ['neighbour', have.neigh, w.neigh]]) {
        entries += a.size;
        for (const x of a) if (!b.has(x)) problems.push(`${h} VNI ${vni}: stale ${kind} ${x}`);
        for (const x of b) if (!a.has(x)) problems.push(`${h} VNI ${vni}: missing ${kind} ${x}`);
      }
    }
  }
  return result('kernel FDB and neighbours ⇔ store', problems, `${entries} entries on ${Object.keys(o.hosts).length} hosts`);
}

/** From a container on each host, per network, `tasks.<service>` is exactly the running tasks. */
export async function dnsMatchesStore(o, cluster) {
  const problems = [];
  let asked = 0;
  const running = o.tasks.filter((t) => t.desired === 'running' && t.state === 'running' && t.node);
  for (const h of cluster.hosts) {
    const nets = new Set(running.filter((t) => t.node === h).flatMap((t) => t.networks));
    for (const net of nets) {
      const local = running.find((t) => t.node === h && t.networks.includes(net));
      const pid = await containerPid(cluster.lab, h, `io.shoal.task.id=${local.id}`);
      if (!pid) {
        problems.push(`${h}: no container for task ${local.id} to ask from`);
        continue;
      }
      const resolver = await resolverOf(pid);
      for (const s of o.services.filter((x) => running.some((t) => t.service === x.name && t.networks.includes(net)))) {
        const want = running.filter((t) => t.service === s.name).map((t) => plain(t.addresses[t.networks.indexOf(net)])).sort();
        const got = (await resolve(pid, resolver, `tasks.${s.name}`)).sort();
        asked++;
        if (got.join() !== want.join()) problems.push(`${h}: tasks.${s.name} answered [${got.join(' ')}], the store has [${want.join(' ')}]`);
      }
    }
  }
  return result("every host's DNS ⇔ store", problems, `${asked} names asked`);
}

/** The checks that must hold at every moment, even mid-fault. */
export function safetyChecks(o) {
  return [coordinatorsAgree(o, { strict: false }), nothingHeldTwice(o), containersMatchTasks(o, { strict: false })];
}

/** Everything, once faults are healed and the cluster had time to converge. */
export async function finalChecks(o, cluster) {
  return [coordinatorsAgree(o, { strict: true }), nodesReady(o), servicesConverge(o), nothingHeldTwice(o), containersMatchTasks(o, { strict: true }), await dnsMatchesStore(o, cluster), kernelMatchesStore(o)];
}

// ---- disruption, measured while faults run ----
//
// Around every fault: the live containers (the store's running tasks, from every host's Docker,
// with their start times) just before it and just before the next one; the names of the canary
// stack's replicas as a canary_watch container on each healthy host resolves them, every 100 ms;
// and writes, tried all along on each coordinator's NATS server. See Disruption.

/** Raft's election timeout is drawn from [electionMs, 2 × electionMs): 1 s at the default 500 ms. */
export const ELECTION_MS = 1000;
/** Writes may be refused for an election plus this, no longer. */
export const WRITE_GAP_MAX_MS = ELECTION_MS + 2000;

/** The canary stack: replicas whose names are watched, a watcher per host, a service writes scale. */
export const CANARY_COMPOSE = `services:
  app:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; nc -ll -p 7000 -e hostname & wait"]
    networks: [net]
    deploy:
      replicas: 6
      endpoint_mode: dnsrr
  watch:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    networks: [net]
    deploy:
      mode: global
      endpoint_mode: dnsrr
  probe:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    networks: [net]
    deploy:
      replicas: 0
      endpoint_mode: dnsrr
networks:
  net:
    driver: overlay
`;

/**
 * What the cluster runs now: the store's running tasks, and the containers that are theirs on
 * their own node (id → { host, started, service, task }), with the canary replicas' addresses.
 */
export async function liveSnapshot(cluster) {
  const t = Date.now();
  const tasks = [];
  for (const s of await cluster.api('service.ls', {}, { timeoutMs: 10_000 })) {
    try {
      for (const x of await cluster.api('service.ps', { service: s.name }, { timeoutMs: 10_000 })) tasks.push({ ...x, service: s.name });
    } catch (err) {
      if (err.code !== 'no_such_service') throw err;
    }
  }
  const running = tasks.filter((x) => x.desired === 'running' && x.state === 'running' && x.node);
  const live = new Set(running.map((x) => `${x.id} ${x.node}`));
  const containers = await containerStarts(cluster.lab, cluster.hosts, `label=io.shoal.cluster=${cluster.cluster}`);
  for (const [id, c] of containers) if (!live.has(`${c.task} ${c.host}`)) containers.delete(id);
  const canary = running.filter((x) => x.service === 'canary_app').map((x) => ({ node: x.node, address: plain(x.addresses[0] ?? '') }));
  return { t, containers, canary };
}

/**
 * The disruption each fault causes. Before a fault: open(fault, faultedHosts) (snapshot, and the
 * hosts whose watcher sees every canary replica of the healthy hosts: the judges). Its window
 * ends when the next one opens (or at close()): then the containers of healthy hosts that ran
 * before and are gone or started again (collateral restarts; services the client scaled or
 * removed meanwhile are left out), the longest gap in the healthy hosts' canary names as each
 * judge saw them, and the longest time between two accepted writes.
 */
export class Disruption {
  windows = [];
  touched = []; // { t, service } the client changed
  writes = []; // Date.now() of each accepted write
  #watchers = new Map(); // host → { pid, stream, rounds }
  #open;

  constructor(cluster, { say, until }) {
    this.cluster = cluster;
    this.say = say;
    this.until = until;
  }

  touch(service) {
    this.touched.push({ t: Date.now(), service });
  }

  /** A name watcher in each host's canary_watch container, started again when that container changed. */
  async #ensureWatchers(maxMs) {
    for (const h of this.cluster.hosts) {
      const pid = await containerPid(this.cluster.lab, h, 'io.shoal.service.name=canary_watch').catch(() => undefined);
      const w = this.#watchers.get(h);
      if (w && w.pid === pid && w.stream.running()) continue;
      await w?.stream.stop();
      if (!pid) {
        this.#watchers.delete(h);
        continue;
      }
      const resolver = await resolverOf(pid).catch(() => undefined);
      if (!resolver) continue;
      const rounds = w?.rounds ?? [];
      this.#watchers.set(h, { pid, rounds, stream: streamNames(pid, resolver, 'tasks.canary_app', { maxMs, rounds }) });
    }
  }

  /** Opens the window of a fault about to be injected on `faulted` (hosts; [] for a coordinator kill). */
  async open(fault, faulted, { maxMs }) {
    let snap;
    try {
      snap = await liveSnapshot(this.cluster);
    } catch (err) {
      this.say(`disruption: no snapshot before ${fault} (${err.message}): this window is not measured for restarts`);
    }
    this.#close(snap);
    await this.#ensureWatchers(maxMs);
    const healthy = this.cluster.hosts.filter((h) => !faulted.includes(h));
    const live = snap ? snap.canary.filter((c) => healthy.includes(c.node)).map((c) => c.address) : [];
    // judges: healthy hosts whose watcher sees every live replica right now (a host whose agent
    // just came back may not yet; it judges the next window)
    const judges = [];
    await this.until('a name watcher to see every live canary', () => {
      for (const h of healthy) {
        const w = this.#watchers.get(h);
        // a round started in the last 5 s (on a loaded machine its answer comes late)
        const last = w?.rounds.filter((r) => r.t > Date.now() - 5000).at(-1);
        if (!judges.includes(h) && last && live.every((a) => last.a?.includes(a))) judges.push(h);
      }
      return judges.length === healthy.filter((h) => this.#watchers.has(h)).length ? true : undefined;
    }, 20_000, 200).catch(() => undefined);
    this.#open = { fault, faulted, t0: Date.now(), before: snap, live, judges };
  }

  /** Ends the last window (after the final convergence). */
  async close() {
    let snap;
    try {
      snap = await liveSnapshot(this.cluster);
    } catch {
      // the last window then is not measured for restarts
    }
    this.#close(snap);
    for (const w of this.#watchers.values()) await w.stream.stop();
  }

  #close(next) {
    const w = this.#open;
    this.#open = undefined;
    if (!w) return;
    w.tEnd = next?.t ?? Date.now();
    if (w.before && next) {
      const touched = new Set(this.touched.filter((x) => x.t >= w.before.t - 25_000 && x.t <= w.tEnd).map((x) => x.service));
      const healthyBefore = new Map([...w.before.containers].filter(([, c]) => !w.faulted.includes(c.host)));
      w.collateral = restartedBetween(healthyBefore, next.containers, { except: (_id, c) => touched.has(c.service) || c.service === 'canary_probe' });
    }
    w.gap = { ms: 0 };
    for (const h of w.judges) {
      const g = nameGaps(this.#watchers.get(h)?.rounds ?? [], w.live, w.t0, w.tEnd);
      if (g.ms > w.gap.ms) w.gap = { ...g, judge: h };
    }
    const ok = this.writes.filter((t) => t <= w.tEnd);
    let writeGap = 0;
    for (let i = 1; i < ok.length; i++) if (ok[i] > w.t0) writeGap = Math.max(writeGap, ok[i] - ok[i - 1]);
    const lastOk = ok.at(-1);
    if (lastOk === undefined || lastOk < w.tEnd) writeGap = Math.max(writeGap, w.tEnd - Math.max(lastOk ?? w.t0, w.t0));
    w.writeGapMs = writeGap;
    this.windows.push(w);
    this.say(`disruption of ${w.fault}: ${w.collateral ? `${w.collateral.length} collateral restart(s)${w.collateral.length ? ` (${w.collateral.map((c) => `${c.id.slice(0, 12)} (${c.service}) on ${c.host} ${c.how}`).slice(0, 4).join(', ')})` : ''}` : 'restarts not measured'}; longest name gap ${w.gap.ms} ms${w.gap.address ? ` (${w.gap.address} from ${w.gap.judge})` : ''} (${w.live.length} live replicas, judged from ${w.judges.join(',') || 'no host'}); longest between accepted writes ${(w.writeGapMs / 1000).toFixed(1)} s`);
    // rounds before this window are no longer needed
    for (const x of this.#watchers.values()) {
      const keep = x.rounds.findIndex((r) => r.t >= w.tEnd - 5000);
      if (keep > 0) x.rounds.splice(0, keep);
    }
  }

  /**
   * Writes (scale canary_probe to 0) over each coordinator's own server, until `stop()`, through
   * the CLI's own client: what a person's `shoal service scale` would see, sending a write again
   * with the same id when no answer comes within 3 s (NATS may hand it to a coordinator that can
   * no longer answer). A success is timed when its answer arrives.
   */
  startWriters() {
    let stopped = false;
    const clients = [];
    const loops = this.cluster.coordinators.map(async (h, i) => {
      const client = await ApiClient.open({ natsUrl: this.cluster.natsUrl(h), cluster: this.cluster.cluster });
      clients.push(client);
      await sleep(i * 167);
      let inFlight = 0;
      // a write every 500 ms on each server, 4 at most waiting: the gap between two accepted
      // writes is then seen to within about 170 ms
      for (let n = 0; !stopped && n < 100_000; n++) {
        if (inFlight < 4) {
          inFlight++;
          client.call('service.scale', { service: 'canary_probe', replicas: 0 }, 10_000).then(() => this.writes.push(Date.now()), () => undefined).finally(() => inFlight--);
        }
        await sleep(500);
      }
    });
    return async () => {
      stopped = true;
      await Promise.all(loops.map((l) => l.catch(() => undefined)));
      for (const c of clients) await c.close().catch(() => undefined);
    };
  }

  /** The three checks of the run, each over every window. */
  checks() {
    const measured = this.windows.filter((w) => w.collateral);
    const collateral = measured.flatMap((w) => w.collateral.map((c) => ({ ...c, fault: w.fault })));
    const gaps = this.windows.filter((w) => w.judges.length > 0).sort((a, b) => b.gap.ms - a.gap.ms);
    const writes = [...this.windows].sort((a, b) => b.writeGapMs - a.writeGapMs);
    const unjudged = this.windows.length - this.windows.filter((w) => w.judges.length > 0).length;
    return [
      result('no collateral restarts (containers on hosts not faulted kept running)', collateral.map((c) => `${c.id.slice(0, 12)} (${c.service}) on ${c.host} ${c.how} during ${c.fault}`), `0 in ${measured.length} of ${this.windows.length} fault windows`),
      result("no gap in live tasks' names (canary replicas on healthy hosts, from every healthy host)", gaps.filter((w) => w.gap.ms > 0).map((w) => `${w.gap.ms} ms (${w.gap.address} from ${w.gap.judge}) during ${w.fault}`), `0 ms in ${gaps.length} windows${unjudged ? ` (${unjudged} without a ready watcher)` : ''}`),
      result(`writes never unavailable longer than an election + 2 s (${WRITE_GAP_MAX_MS / 1000} s)`, writes.filter((w) => w.writeGapMs > WRITE_GAP_MAX_MS).map((w) => `${(w.writeGapMs / 1000).toFixed(1)} s during ${w.fault}`), `longest ${((writes[0]?.writeGapMs ?? 0) / 1000).toFixed(1)} s (${writes[0]?.fault ?? 'no fault'})`),
    ];
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
