// npm run bench — Shoal against Docker Swarm mode, one after the other on one 4-host lab (3
// managers / coordinators, each also running tasks, and a worker / agent-only host), with the
// same image and the same stack file, each figure taken the same way for both (from inside a
// client container's namespace). Prints one table (metric, Swarm, Shoal, ratio, target, met?),
// writes bench/results/latest.md and bench/results/latest.png. A script, never a test: it
// reports figures, it does not fail on them (exit 1 only if the bench itself could not run).
//
//   npm run bench [-- --only swarm|shoal] [--seconds N] [--lab bench --subnet 192.168.234.0/24]
//                 [--faults a,b,c,d]
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LAB_ROOT, Lab, run } from '@shoal/lab';
import { barChart } from './lib/chart.mjs';
import { handBuilt, underlay } from './lib/dataplane.mjs';
import { containerPid, containerStarts, dnsperf, inNetns, iperf, median, nameGaps, resolve, resolverOf, restartedBetween, streamNames, watchNames } from './lib/probe.mjs';
import { ShoalCluster, sleep, until } from './lib/shoal-cluster.mjs';
import { SwarmCluster } from './lib/swarm-cluster.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPLICAS = 30;
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const LAB = opt('lab', 'bench');
const SUBNET = opt('subnet', '192.168.234.0/24');
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
// Swarm managers / Shoal coordinators (each host also runs tasks); h4 is a Swarm worker / a host
// with a Shoal agent only
const MANAGERS = ['h1', 'h2', 'h3'];
const OVERLAY = /^10\.60\.[0-3]\.\d+$/; // the stack's overlay, 10.60.0.0/22
const ONLY = opt('only', 'both');
const FAULTS = opt('faults', 'a,b,c,d').split(',').filter(Boolean);
// what each recovery may take, for both conditions to be met: a share of Swarm's, and at most
const RECOVERY_RATIO = 0.2;
const RECOVERY_MAX_S = 4;
const SECONDS = Number(opt('seconds', process.env.BENCH_SECONDS ?? 5));
const DNS_QPS = Number(process.env.BENCH_DNS_QPS ?? 5000);
const STACK_FILE = `${ROOT}bench/results/stack.yml.tmp`;
const SWARM_STACK_FILE = `${ROOT}bench/results/stack-swarm.yml.tmp`;
const started = Date.now();
// the machine may be shared: its load when the bench starts and ends goes beside the figures
const loadAtStart = loadavg()[0];
const say = (s) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);

// The stack both run: 30 replicas answering their hostname on :7000, a client on every host to
// look from (global: a host that stays up always has one), an iperf3 server (on h2), 3 replicas
// at most one per node (a placement limit to check after each heal) and a service of 0 replicas
// that the write probe scales. dnsrr: Swarm's VIPs need IPVS, which these kernels lack.
const STACK = `version: "3.8"
services:
  web:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; nc -ll -p 7000 -e hostname & wait"]
    networks: [front]
    deploy:
      replicas: ${REPLICAS}
      endpoint_mode: dnsrr
  client:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    networks: [front]
    deploy:
      mode: global
      endpoint_mode: dnsrr
  spread:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; nc -ll -p 7000 -e hostname & wait"]
    networks: [front]
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
      placement:
        max_replicas_per_node: 1
  probe:
    image: shoal/busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
    networks: [front]
    deploy:
      replicas: 0
      endpoint_mode: dnsrr
  iperf:
    image: shoal/busybox
    command: ["iperf3", "-s"]
    networks: [front]
    deploy:
      replicas: 1
      endpoint_mode: dnsrr
      placement:
        constraints: [node.hostname == h2]
networks:
  front:
    driver: overlay
    ipam:
      config:
        - subnet: 10.60.0.0/22
`;

/** What differs between the two: how to deploy, write, find containers, kill the leader. */
function swarmSide(lab, swarm) {
  /** `docker node ls` from the first manager that answers (a cut or partitioned one may not). */
  const nodeLs = async (format) => {
    for (const h of MANAGERS) {
      const r = await lab.exec(h, ['docker', 'node', 'ls', '--format', format], { timeoutMs: 10_000 });
      if (r.code === 0) return r.stdout.trim().split('\n').filter(Boolean);
    }
    return undefined;
  };
  return {
    name: 'Swarm',
    tasksName: 'tasks.web',
    serviceLabel: 'com.docker.swarm.service.name',
    filter: 'label=com.docker.stack.namespace=bench',
    label: (svc) => `com.docker.swarm.service.name=bench_${svc}`,
    deploy: () => swarm.must('h1', ['docker', 'stack', 'deploy', '--resolve-image', 'never', '-c', SWARM_STACK_FILE, 'bench']),
    leader: () => swarm.leader(),
    /** Swarm's control plane and data-plane helpers are all dockerd (and its containerd). */
    daemons: async () => {
      const pids = [];
      for (const h of HOSTS) pids.push(Number((await readFile(`${LAB_ROOT}/${LAB}/${h}/run/docker.pid`, 'utf8')).trim()));
      return pids;
    },
    /** Every node Ready and every manager Reachable or Leader again. */
    settled: async () => {
      const rows = await nodeLs('{{.Status}} {{.ManagerStatus}}');
      if (!rows || rows.length !== HOSTS.length || !rows.every((l) => /^Ready( (Leader|Reachable))?$/.test(l))) return undefined;
      return rows.filter((l) => / (Leader|Reachable)$/.test(l)).length === MANAGERS.length ? true : undefined;
    },
    killLeader: (host) => swarm.killDockerd(host),
    /** One `docker service scale` of the probe service, on `host` (a manager); true if accepted. */
    write: async (host) => (await lab.exec(host, ['docker', 'service', 'scale', '--detach', 'bench_probe=0'], { timeoutMs: 30_000 })).code === 0,
    /** One attempt at scaling web from surviving managers; true once it is accepted. */
    scale: async (survivors, n) => {
      for (const h of survivors) {
        const r = await lab.exec(h, ['docker', 'service', 'scale', '--detach', `bench_web=${n}`], { timeoutMs: 30_000 });
        if (r.code === 0) return true;
      }
      return false;
    },
  };
}

function shoalSide(lab, cluster) {
  const cli = (host, args) => lab.exec(host, [process.execPath, `${ROOT}packages/cli/dist/bin.js`, ...args, '--nats', cluster.natsUrls.join(','), '--cluster', cluster.cluster], { timeoutMs: 30_000 });
  return {
    name: 'Shoal',
    tasksName: 'tasks.web',
    serviceLabel: 'io.shoal.service.name',
    filter: `label=io.shoal.cluster=${cluster.cluster}`,
    label: (svc) => `io.shoal.service.name=bench_${svc}`,
    deploy: async () => {
      const r = await run(process.execPath, [`${ROOT}packages/cli/dist/bin.js`, 'stack', 'deploy', '-c', STACK_FILE, 'bench', '--detach', '--nats', cluster.natsUrl('h1'), '--cluster', cluster.cluster], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`shoal stack deploy failed: ${r.stderr.trim() || r.stdout.trim()}`);
    },
    leader: () => cluster.leader(),
    daemons: async () => ['agent', 'coordinator', 'nats'].flatMap((k) => HOSTS.map((h) => cluster.pid(k, h))).filter((p) => p !== undefined),
    /** Every node ready and every coordinator at the same index. */
    settled: async () => {
      const nodes = await cluster.api('node.ls', {}, { timeoutMs: 5000 });
      const infos = await cluster.infos();
      return nodes.length === HOSTS.length && nodes.every((n) => n.state === 'ready') && infos.every((i) => i && i.index === infos[0]?.index) ? true : undefined;
    },
    killLeader: (host) => cluster.kill('coordinator', host, 'SIGKILL'),
    /** One `shoal service scale` of the probe service, run on `host` by the CLI with every server listed (as a context does). */
    write: async (host) => (await cli(host, ['service', 'scale', 'bench_probe=0', '--detach'])).code === 0,
    scale: async (_survivors, n) => {
      try {
        await cluster.api('service.scale', { service: 'bench_web', replicas: n }, { timeoutMs: 15_000 });
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** User + system CPU seconds the processes used so far (from /proc; gone processes count 0). */
async function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited
    }
  }
  return ticks / 100;
}

/** When every replica's address is answered for the name and every one answers (Date.now()). */
function allAnswer(pid, resolver, name, { timeoutMs, phases, t0 }) {
  return watchNames(pid, resolver, name, REPLICAS, {
    timeoutMs,
    onNames: (at) => {
      if (phases && phases.names === undefined) phases.names = (at - t0) / 1000;
    },
  });
}

async function measure(lab, side) {
  const r = { phases: {} };
  // deploy → reachable
  say(`${side.name}: deploying ${REPLICAS} replicas`);
  const t0 = Date.now();
  await side.deploy();
  r.phases.deployReturned = (Date.now() - t0) / 1000;
  const { pid, resolver } = await clientOn(lab, side, 'h1', 300_000);
  r.phases.client = (Date.now() - t0) / 1000;
  r.deploy = ((await allAnswer(pid, resolver, side.tasksName, { timeoutMs: 300_000, phases: r.phases, t0 })) - t0) / 1000;
  say(`${side.name}: deploy → reachable ${r.deploy.toFixed(1)} s (deploy returned ${r.phases.deployReturned.toFixed(1)} s, client up ${r.phases.client.toFixed(1)} s, ${REPLICAS} names ${r.phases.names?.toFixed(1)} s)`);

  // data plane: client (h1) → iperf (h2) across the overlay; DNS from the client. After a pause
  // so the deploy's aftermath settles; the daemons' CPU during the runs is kept, since it is
  // taken from the same two cores the packets need.
  await sleep(10_000);
  const pids = await side.daemons();
  const cpu0 = await cpuSeconds(pids);
  const tp = Date.now();
  try {
    const server = await until('the iperf service to resolve', async () => (await resolve(pid, resolver, 'iperf'))[0], 60_000);
    await sleep(1000);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await iperf(pid, server, SECONDS));
    r.gbps = median(runs);
    r.daemonCpu = ((await cpuSeconds(pids)) - cpu0) / ((Date.now() - tp) / 1000);
    say(`${side.name}: overlay ${runs.map((x) => x.toFixed(2)).join(', ')} Gbit/s (its daemons used ${(r.daemonCpu * 100).toFixed(0)}% of a core meanwhile)`);
  } catch (err) {
    say(`${side.name}: throughput not measured: ${err.message}`);
  }
  try {
    r.dns = await dnsperf(pid, resolver, 'iperf', { seconds: SECONDS, fixedQps: DNS_QPS });
    say(`${side.name}: DNS ${r.dns.qps.toFixed(0)} q/s (lost ${r.dns.lost}), p99 ${r.dns.p99Ms.toFixed(2)} ms at ${DNS_QPS} q/s (${r.dns.samples} samples)`);
  } catch (err) {
    say(`${side.name}: DNS not measured: ${err.message}`);
  }

  // host loss, four ways (SCENARIOS), each from a whole cluster and healed back to one
  r.faults = {};
  for (const key of FAULTS) {
    try {
      r.faults[key] = await hostLoss(lab, side, key);
    } catch (err) {
      say(`${side.name}: (${key}) not measured: ${err.stack ?? err}`);
      await lab.heal().catch(() => undefined);
      const w = await waitWhole(lab, side, 180_000);
      r.faults[key] = { error: err.message, whole: w.whole, why: w.why };
    }
  }

  // leader loss: kill -9 the leader, then a scale must be accepted
  const leader = await until('a leader', () => side.leader(), 60_000, 500);
  const survivors = MANAGERS.filter((h) => h !== leader);
  say(`${side.name}: kill -9 the leader on ${leader}`);
  const t2 = Date.now();
  await side.killLeader(leader);
  try {
    await until('a scale to be accepted', async () => ((await side.scale(survivors, REPLICAS + 1)) ? true : undefined), 180_000, 100);
    r.leaderLoss = (Date.now() - t2) / 1000;
    r.leaderHost = leader;
    say(`${side.name}: leader loss ${r.leaderLoss.toFixed(1)} s`);
  } catch (err) {
    say(`${side.name}: leader loss not measured: ${err.message}`);
  }
  return r;
}

// The four host losses of issue 13: which host goes, and how.
const SCENARIOS = {
  a: { title: 'an agent-only host (Swarm: a worker) cut', short: 'AGENT HOST', how: 'cut', target: () => 'h4' },
  b: { title: "a coordinator follower's host cut", short: 'FOLLOWER HOST', how: 'cut', target: (leader) => [...MANAGERS].reverse().find((h) => h !== leader) },
  c: { title: "the leader's host cut", short: 'LEADER HOST', how: 'cut', target: (leader) => leader },
  d: { title: "the leader's host partitioned from the rest", short: 'LEADER PARTITIONED', how: 'partition', target: (leader) => leader },
};

/**
 * The client container on `host`: its pid and the resolver its resolv.conf names, both read again
 * until they are there (a container just started, or replaced meanwhile, may not have them yet).
 */
function clientOn(lab, side, host, ms) {
  return until(`the client container on ${host} and its resolver`, async () => {
    const pid = await containerPid(lab, host, side.label('client'));
    return pid ? { pid, resolver: await resolverOf(pid) } : undefined;
  }, ms, 200);
}

/** The overlay address of every running web replica on these hosts: address → host. */
async function webAddresses(lab, side, hosts) {
  const out = new Map();
  await Promise.all(hosts.map(async (h) => {
    const r = await lab.exec(h, ['sh', '-c', `ids=$(docker ps -q -f 'label=${side.label('web')}'); [ -z "$ids" ] || docker inspect -f '{{.State.Pid}}' $ids`], { timeoutMs: 30_000 });
    for (const pid of r.stdout.split('\n').map(Number).filter((x) => x > 0)) {
      const ip = await inNetns(pid, ['ip', '-4', '-o', 'addr', 'show'], { timeoutMs: 10_000 });
      for (const m of ip.stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)) if (OVERLAY.test(m[1])) out.set(m[1], h);
    }
  }));
  return out;
}

/**
 * Whether the cluster is whole: the control plane settled (side.settled), and, from every host's
 * Docker, exactly the stack's containers: 30 web, one client per host, 3 spread at most one per
 * host, one iperf, no probe; so a stale container of a replaced task, a task that never started
 * or a broken placement limit each show. { whole, why }.
 */
async function wholeState(lab, side) {
  try {
    if (!(await side.settled())) return { whole: false, why: 'the control plane has not settled (a node not ready, or a manager behind)' };
  } catch (err) {
    return { whole: false, why: `the control plane did not answer: ${err.message}` };
  }
  let cs;
  try {
    cs = await containerStarts(lab, HOSTS, side.filter, side.serviceLabel);
  } catch (err) {
    return { whole: false, why: err.message };
  }
  const on = (svc, h) => [...cs.values()].filter((c) => c.service === `bench_${svc}` && (h === undefined || c.host === h)).length;
  const problems = [];
  if (on('web') !== REPLICAS) problems.push(`${on('web')} web containers of ${REPLICAS}`);
  for (const h of HOSTS) if (on('client', h) !== 1) problems.push(`${on('client', h)} client containers on ${h}`);
  if (on('spread') !== 3) problems.push(`${on('spread')} spread containers of 3`);
  for (const h of HOSTS) if (on('spread', h) > 1) problems.push(`${on('spread', h)} spread containers on ${h} (max 1 per node)`);
  if (on('iperf') !== 1) problems.push(`${on('iperf')} iperf containers`);
  if (on('probe') !== 0) problems.push(`${on('probe')} probe containers`);
  const known = new Set(['web', 'client', 'spread', 'iperf', 'probe'].map((x) => `bench_${x}`));
  const other = [...cs.values()].filter((c) => !known.has(c.service));
  if (other.length > 0) problems.push(`${other.length} containers of no stack service`);
  return { whole: problems.length === 0, why: problems.join('; ') };
}

/** Waits (bounded) until the cluster is whole; { whole, why, s }. */
async function waitWhole(lab, side, ms) {
  const t = Date.now();
  let last = { whole: false, why: 'not looked at' };
  try {
    await until('the cluster to be whole', async () => {
      last = await wholeState(lab, side);
      return last.whole ? true : undefined;
    }, ms, 1000);
  } catch {
    // not whole in time: reported as such, with what was wrong last
  }
  return { ...last, s: (Date.now() - t) / 1000 };
}

/**
 * Writes from `host` (side.write: Swarm's docker CLI, Shoal's CLI), a new attempt every 500 ms
 * while fewer than 4 are under way, so one attempt stuck on a dead server delays nothing; resolves
 * with the Date.now() at which the first accepted one returned.
 */
function writeAccepted(side, host, timeoutMs) {
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    let done = false;
    const end = Date.now() + timeoutMs;
    const tick = () => {
      if (done) return;
      if (Date.now() > end) {
        done = true;
        clearInterval(timer);
        reject(new Error(`no write accepted within ${timeoutMs / 1000} s`));
        return;
      }
      if (inFlight >= 4) return;
      inFlight++;
      side.write(host).then(
        (ok) => {
          if (ok && !done) {
            done = true;
            clearInterval(timer);
            resolve(Date.now());
          }
        },
        () => undefined,
      ).finally(() => inFlight--);
    };
    const timer = setInterval(tick, 500);
    tick();
  });
}

/**
 * One host loss: from a whole cluster, the scenario's host is cut (or partitioned off), and from a
 * client on a host that stays up: when every replica answers by name again; when a write from a
 * surviving manager is accepted; the longest gap in the names of the replicas on hosts that stayed
 * up (watched from before the fault until the cluster is whole again after the heal); and the
 * containers on those hosts that were started again or went (ids and start times, before the
 * fault and once whole again).
 */
async function hostLoss(lab, side, key) {
  const sc = SCENARIOS[key];
  const w0 = await waitWhole(lab, side, 180_000);
  if (!w0.whole) say(`${side.name}: (${key}) the cluster is not whole before the fault: ${w0.why}`);
  const leader = await until('a leader', () => side.leader(), 60_000, 500);
  const target = sc.target(leader);
  const survivors = HOSTS.filter((h) => h !== target);
  const watchHost = survivors[0];
  const writeHost = MANAGERS.find((h) => h !== target);
  const { pid, resolver } = await clientOn(lab, side, watchHost, 60_000);
  const addresses = await webAddresses(lab, side, HOSTS);
  const live = [...addresses].filter(([, h]) => h !== target).map(([a]) => a);
  const before = await containerStarts(lab, survivors, side.filter, side.serviceLabel);
  const wb = Date.now();
  const baselineOk = await side.write(writeHost);
  const res = { target, leader, watchHost, writeHost, live: live.length, lost: addresses.size - live.length, writeBaseline: baselineOk ? (Date.now() - wb) / 1000 : NaN };
  const names = streamNames(pid, resolver, side.tasksName, { maxMs: 900_000 });
  try {
    await until('the name watcher to see every live replica', () => (names.rounds.some((x) => live.every((a) => x.a?.includes(a))) ? true : undefined), 30_000, 100);
    say(`${side.name}: (${key}) ${sc.how === 'cut' ? 'cutting' : 'partitioning off'} ${target} (leader on ${leader}); ${live.length} replicas on the hosts that stay up, watched from ${watchHost}, writes from ${writeHost}`);
    const t0 = Date.now();
    try {
      if (sc.how === 'cut') await lab.cut(target);
      else await lab.partition([[target], HOSTS.filter((h) => h !== target)]);
      const [recovered, written] = await Promise.all([
        allAnswer(pid, resolver, side.tasksName, { timeoutMs: 180_000 }).then((t) => (t - t0) / 1000, (err) => (say(`${side.name}: (${key}) replicas: ${err.message}`), NaN)),
        writeAccepted(side, writeHost, 180_000).then((t) => (t - t0) / 1000, (err) => (say(`${side.name}: (${key}) writes: ${err.message}`), NaN)),
      ]);
      res.recovered = recovered;
      res.write = written;
      const during = await containerStarts(lab, survivors, side.filter, side.serviceLabel).catch(() => undefined);
      res.restartedDuring = during ? restartedBetween(before, during).length : NaN;
    } finally {
      await lab.heal(sc.how === 'cut' ? [target] : []);
    }
    const w = await waitWhole(lab, side, 180_000);
    Object.assign(res, { whole: w.whole, why: w.why, wholeS: w.s });
    const after = await containerStarts(lab, survivors, side.filter, side.serviceLabel).catch(() => undefined);
    const restarted = after ? restartedBetween(before, after) : undefined;
    res.restarted = restarted ? restarted.length : NaN;
    res.restartedOn = restarted ? [...new Set(restarted.map((x) => x.host))].join(',') : '';
    const gap = nameGaps(names.rounds, live, t0, Date.now());
    Object.assign(res, { gapMs: gap.ms, gapAddress: gap.address, gapAt: gap.from === undefined ? undefined : (gap.from - t0) / 1000, rounds: gap.rounds });
    say(`${side.name}: (${key}) every replica answers ${res.recovered?.toFixed(1)} s; write accepted ${res.write?.toFixed(1)} s (undisturbed ${res.writeBaseline.toFixed(1)} s); restarted on hosts that stayed up ${res.restarted} (${res.restartedDuring} before the heal); longest gap in a live replica's name ${gap.ms} ms${gap.address ? ` (${gap.address} from ${res.gapAt.toFixed(1)} s)` : ''} over ${gap.rounds} rounds; whole again ${w.whole ? `${w.s.toFixed(1)} s after the heal` : `NOT within ${w.s.toFixed(0)} s: ${w.why}`}`);
    return res;
  } finally {
    await names.stop();
  }
}

async function benchSwarm(lab) {
  const swarm = new SwarmCluster(lab, { hosts: HOSTS, managers: MANAGERS });
  say('Swarm: init on h1, h2 and h3 join as managers, h4 as a worker');
  await swarm.up();
  // the same stack, its image named by ID so that Swarm never tries a registry (see sameImage)
  const id = await swarm.sameImage();
  await writeFile(SWARM_STACK_FILE, STACK.replaceAll('image: shoal/busybox', `image: ${id}`));
  try {
    return await measure(lab, swarmSide(lab, swarm));
  } finally {
    say('Swarm: tearing down');
    // the killed manager's host is rebooted (dockerd and sshd), then every node leaves
    for (const h of HOSTS) {
      if ((await lab.exec(h, ['docker', 'info', '--format', '{{.ID}}'], { timeoutMs: 10_000 })).code !== 0) {
        await lab.kill(h);
        await lab.revive(h);
      }
    }
    await swarm.down();
    for (const h of HOSTS) {
      await lab.exec(h, ['sh', '-c', 'docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker network prune -f >/dev/null 2>&1; true'], { timeoutMs: 120_000 });
    }
  }
}

async function benchShoal(lab) {
  const cluster = new ShoalCluster(lab, { cluster: 'bench', hosts: HOSTS, coordinators: MANAGERS });
  say('Shoal: NATS cluster and coordinators on h1, h2, h3; an agent on each of h1–h4');
  await cluster.up();
  try {
    return await measure(lab, shoalSide(lab, cluster));
  } finally {
    say('Shoal: tearing down');
    await cluster.stop();
  }
}

async function scaleFigures() {
  // written by the coordinator's scale bench, if it ran: { figures: [{ metric, value, target, met }] }
  try {
    return JSON.parse(await readFile(`${ROOT}bench/results/scale.json`, 'utf8')).figures ?? [];
  } catch {
    return undefined;
  }
}

// ---- the table ----
const f = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
/**
 * A row comparing the two: the ratio Shoal / Swarm against `target`; with `maxShoal`, Shoal's
 * figure must also be at most that (a recovery: ≤ 0.2× Swarm's and ≤ 4 s).
 */
function row(metric, short, unit, swarm, shoal, better, target, digits = 1, { maxShoal } = {}) {
  const ratio = Number.isFinite(swarm) && Number.isFinite(shoal) && swarm > 0 ? shoal / swarm : NaN;
  const ratioMet = Number.isFinite(ratio) ? (better === 'lower' ? ratio <= target : ratio >= target) : undefined;
  const met = maxShoal === undefined || ratioMet === undefined ? ratioMet : ratioMet && shoal <= maxShoal;
  const targetText = `${better === 'lower' ? '≤' : '≥'} ${target}×${maxShoal === undefined ? '' : ` and ≤ ${maxShoal} ${unit}`}`;
  return {
    cells: [metric, `${f(swarm, digits)} ${unit}`, `${f(shoal, digits)} ${unit}`, Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a', targetText, met === undefined ? 'n/a' : met ? 'yes' : 'NO'],
    chart: { label: short.toUpperCase(), swarm, shoal, unit: unit.toUpperCase(), better, verdict: met === undefined ? '' : `${met ? 'MET' : 'MISSED'}: ${ratio.toFixed(2)}X, TARGET ${better === 'lower' ? '<=' : '>='} ${target}X${maxShoal === undefined ? '' : ` AND <= ${maxShoal} ${unit.toUpperCase()}`}` },
  };
}

/** A row whose target is an absolute figure for Shoal (0 restarts, 0 ms); Swarm's beside it. */
function absRow(metric, unit, swarm, shoal, target, digits = 0) {
  const met = Number.isFinite(shoal) ? shoal <= target : undefined;
  return [metric, `${f(swarm, digits)} ${unit}`.trim(), `${f(shoal, digits)} ${unit}`.trim(), '—', `${target} ${unit}`.trim(), met === undefined ? 'n/a' : met ? 'yes' : 'NO'];
}

/** The rows of one host loss (see SCENARIOS). */
function faultRows(key, sw = {}, sh = {}) {
  const sc = SCENARIOS[key];
  const whole = (x) => (x.whole === undefined ? 'n/a' : x.whole ? `${f(x.wholeS)} s` : 'NOT whole');
  const recovery = row(`(${key}) ${sc.title}: every replica answers again`, `(${key}) ${sc.short}`, 's', sw.recovered, sh.recovered, 'lower', RECOVERY_RATIO, 1, { maxShoal: RECOVERY_MAX_S });
  const write = row(`(${key}) … a write accepted`, `(${key}) WRITE`, 's', sw.write, sh.write, 'lower', RECOVERY_RATIO, 1, { maxShoal: RECOVERY_MAX_S });
  return {
    charts: [recovery.chart, write.chart],
    cells: [
      recovery.cells,
      write.cells,
      absRow(`(${key}) … tasks restarted on hosts that stayed up`, '', sw.restarted, sh.restarted, 0),
      absRow(`(${key}) … longest gap in a live replica's name`, 'ms', sw.gapMs, sh.gapMs, 0),
      [`(${key}) … healed: whole again (replicas, limits, no stale container)`, whole(sw), whole(sh), '—', 'whole', sh.whole === undefined ? 'n/a' : sh.whole ? 'yes' : 'NO'],
    ],
  };
}

function table(rows) {
  const head = ['metric', 'Swarm', 'Shoal', 'ratio', 'target', 'met?'];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ');
  const md = (r) => `| ${r.join(' | ')} |`;
  return { text: [line(head), ...rows.map(line)].join('\n'), md: [md(head), md(head.map(() => '---')), ...rows.map(md)].join('\n') };
}

async function main() {
  if (process.getuid?.() !== 0) {
    process.stderr.write('error: the bench makes a lab (namespaces, dockerd) — run it as root\n');
    process.exit(2);
  }
  await mkdir(`${ROOT}bench/results`, { recursive: true });
  await writeFile(STACK_FILE, STACK);
  say(`lab ${LAB} on ${SUBNET}: ${HOSTS.length} hosts`);
  await Lab.down(LAB);
  const lab = await Lab.up({ name: LAB, hosts: HOSTS.length, subnet: SUBNET });
  // Swarm's workers try to pull an image named by tag even when it is present (the bench names it
  // by ID, but Docker may still look a registry up): with none reachable a lookup would wait for
  // DNS timeouts, aimed outside the lab. Naming the registry on loopback makes it fail at once.
  await appendFile(`${LAB_ROOT}/${LAB}/hosts`, '127.0.0.1 registry-1.docker.io index.docker.io auth.docker.io production.cloudflare.docker.com\n');
  const res = { swarm: {}, shoal: {} };
  try {
    say('reference paths: underlay and hand-built VXLAN, h1 → h2');
    res.underlay = median([await underlay(lab, { seconds: SECONDS }), await underlay(lab, { seconds: SECONDS })]);
    res.handBuilt = median([await handBuilt(lab, { seconds: SECONDS }), await handBuilt(lab, { seconds: SECONDS })]);
    say(`underlay ${f(res.underlay, 2)} Gbit/s, hand-built VXLAN ${f(res.handBuilt, 2)} Gbit/s`);
    if (ONLY !== 'shoal') {
      try {
        res.swarm = await benchSwarm(lab);
      } catch (err) {
        say(`Swarm: failed: ${err.stack ?? err}`);
      }
    }
    if (ONLY !== 'swarm') {
      try {
        res.shoal = await benchShoal(lab);
      } catch (err) {
        say(`Shoal: failed: ${err.stack ?? err}`);
      }
    }
  } finally {
    say('taking the lab down');
    await Lab.down(LAB);
  }

  const { swarm: sw, shoal: sh } = res;
  const rows = [
    row(`deploy → reachable (${REPLICAS} replicas)`, 'deploy to reachable', 's', sw.deploy, sh.deploy, 'lower', 0.5),
    row('leader loss (kill -9, until scale ok)', 'leader loss', 's', sw.leaderLoss, sh.leaderLoss, 'lower', 0.2),
    row('overlay throughput h1→h2 (1 stream)', 'overlay throughput', 'Gbit/s', sw.gbps, sh.gbps, 'higher', 1.0, 2),
    row('DNS queries/s (saturated)', 'DNS queries/s', 'q/s', sw.dns?.qps, sh.dns?.qps, 'higher', 1.0, 0),
    row(`DNS p99 at ${DNS_QPS} q/s`, `DNS p99 at ${DNS_QPS} q/s`, 'ms', sw.dns?.p99Ms, sh.dns?.p99Ms, 'lower', 1.0, 2),
  ];
  const faultTables = FAULTS.map((k) => faultRows(k, sw.faults?.[k], sh.faults?.[k]));
  const charts = [rows[0].chart, ...faultTables.flatMap((x) => x.charts), ...rows.slice(1).map((r) => r.chart)];
  const cells = [rows[0].cells, ...faultTables.flatMap((x) => x.cells), ...rows.slice(1).map((r) => r.cells)];
  cells.push(['underlay h1→h2 (reference)', `${f(res.underlay, 2)} Gbit/s`, `${f(res.underlay, 2)} Gbit/s`, '—', '—', '—']);
  cells.push(['hand-built VXLAN (reference)', `${f(res.handBuilt, 2)} Gbit/s`, `${f(res.handBuilt, 2)} Gbit/s`, '—', '—', '—']);
  cells.push(['overlay / underlay', Number.isFinite(sw.gbps / res.underlay) ? `${(sw.gbps / res.underlay).toFixed(2)}×` : 'n/a', Number.isFinite(sh.gbps / res.underlay) ? `${(sh.gbps / res.underlay).toFixed(2)}×` : 'n/a', '—', '—', '—']);
  const scale = await scaleFigures();
  if (scale === undefined) cells.push(['coordinator scale figures', '—', 'not run', '—', '—', '—']);
  else for (const s of scale) cells.push([`coordinator: ${s.metric}`, '—', String(s.value), '—', String(s.target ?? '—'), s.met === undefined ? 'n/a' : s.met ? 'yes' : 'NO']);
  const t = table(cells);
  console.log('');
  console.log(t.text);

  const phase = (r) => `daemons' CPU during iperf3 ${Number.isFinite(r.daemonCpu) ? `${(r.daemonCpu * 100).toFixed(0)}% of a core` : 'n/a'}; deploy returned ${f(r.phases?.deployReturned)} s, client container up ${f(r.phases?.client)} s, ${REPLICAS} names resolved ${f(r.phases?.names)} s, all answering ${f(r.deploy)} s; leader killed on ${r.leaderHost ?? 'n/a'}`;
  const faultPhase = (key, x) => {
    if (!x) return 'not run';
    if (x.error) return `not measured (${x.error}); whole after: ${x.whole ? 'yes' : `no (${x.why})`}`;
    return `${x.target} ${SCENARIOS[key].how === 'cut' ? 'cut' : 'partitioned off'} (leader on ${x.leader}; ${x.lost} replicas on it, ${x.live} on the others), watched from the client on ${x.watchHost}, writes from ${x.writeHost} (an undisturbed one took ${f(x.writeBaseline)} s); every replica answers ${f(x.recovered)} s, write ${f(x.write)} s; restarted on hosts that stayed up ${x.restarted}${x.restarted > 0 ? ` (on ${x.restartedOn})` : ''}, ${x.restartedDuring} of them before the heal; longest name gap ${x.gapMs} ms${x.gapAddress ? ` (${x.gapAddress}, from ${f(x.gapAt)} s after the fault)` : ''} over ${x.rounds} rounds; ${x.whole ? `whole ${f(x.wholeS)} s after the heal` : `not whole ${f(x.wholeS, 0)} s after the heal: ${x.why}`}`;
  };
  const when = new Date().toISOString();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.versions.node} (load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end)`;
  const md = [
    '# Shoal vs Docker Swarm: latest bench',
    '',
    `${when} on ${machine}. One 4-host lab (\`${LAB}\`, ${SUBNET}); Swarm (managers h1–h3, worker h4) first, then Shoal (coordinators and a NATS cluster on h1–h3, an agent on each of h1–h4); the same image (shoal/busybox) and stack (${REPLICAS} dnsrr replicas of \`web\`, a client on every host, 3 \`spread\` replicas at most one per node, an iperf3 server on h2, a \`probe\` service of 0 replicas that writes scale). Every figure is taken from inside a client container's network namespace; iperf3 ${SECONDS} s × 3 (median); dnsperf ${SECONDS} s saturated (4 clients, 100 outstanding) and ${SECONDS} s at ${DNS_QPS} q/s for the p99. Host losses (a)–(d) each start from a whole cluster and end when it is whole again after the heal. Made by \`npm run bench\`.`,
    '',
    t.md,
    '',
    '![Shoal vs Swarm](latest.png)',
    '',
    '## Phases',
    '',
    `- Swarm: ${phase(sw)}`,
    `- Shoal: ${phase(sh)}`,
    ...FAULTS.flatMap((k) => [`- (${k}) Swarm: ${faultPhase(k, sw.faults?.[k])}`, `- (${k}) Shoal: ${faultPhase(k, sh.faults?.[k])}`]),
    '',
  ].join('\n');
  await writeFile(`${ROOT}bench/results/latest.md`, md);
  await writeFile(`${ROOT}bench/results/latest.png`, barChart('SHOAL VS DOCKER SWARM, 4-HOST LAB', charts));
  await writeFile(`${ROOT}bench/results/latest.json`, JSON.stringify({ when, machine, ...res }, null, 2) + '\n');
  say(`wrote bench/results/latest.md, latest.png and latest.json in ${((Date.now() - started) / 60000).toFixed(1)} min`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`error: the bench could not run: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
