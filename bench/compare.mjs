// npm run bench — Shoal against Docker Swarm mode, one after the other on one 3-host lab, with the
// same image and the same stack file, each figure taken the same way for both (from inside a
// client container's namespace). Prints one table (metric, Swarm, Shoal, ratio, target, met?),
// writes bench/results/latest.md and bench/results/latest.png. A script, never a test: it
// reports figures, it does not fail on them (exit 1 only if the bench itself could not run).
//
//   npm run bench [-- --only swarm|shoal] [--seconds N]
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LAB_ROOT, Lab, run } from '@shoal/lab';
import { barChart } from './lib/chart.mjs';
import { handBuilt, underlay } from './lib/dataplane.mjs';
import { containerPid, dnsperf, iperf, median, resolve, resolverOf, watchNames } from './lib/probe.mjs';
import { ShoalCluster, sleep, until } from './lib/shoal-cluster.mjs';
import { SwarmCluster } from './lib/swarm-cluster.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LAB = 'bench';
const SUBNET = '192.168.234.0/24';
const REPLICAS = 30;
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ONLY = opt('only', 'both');
const SECONDS = Number(opt('seconds', process.env.BENCH_SECONDS ?? 5));
const DNS_QPS = Number(process.env.BENCH_DNS_QPS ?? 5000);
const STACK_FILE = `${ROOT}bench/results/stack.yml.tmp`;
const SWARM_STACK_FILE = `${ROOT}bench/results/stack-swarm.yml.tmp`;
const started = Date.now();
// the machine may be shared: its load when the bench starts and ends goes beside the figures
const loadAtStart = loadavg()[0];
const say = (s) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);

// The stack both run: 30 replicas answering their hostname on :7000, a client to look from
// (on h1), an iperf3 server (on h2). dnsrr: Swarm's VIPs need IPVS, which these kernels lack.
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
      replicas: 1
      endpoint_mode: dnsrr
      placement:
        constraints: [node.hostname == h1]
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

/** What differs between the two: how to deploy, scale, find a container, kill the leader. */
function swarmSide(lab, swarm) {
  return {
    name: 'Swarm',
    tasksName: 'tasks.web',
    label: (svc) => `com.docker.swarm.service.name=bench_${svc}`,
    deploy: () => swarm.must('h1', ['docker', 'stack', 'deploy', '--resolve-image', 'never', '-c', SWARM_STACK_FILE, 'bench']),
    leader: () => swarm.leader(),
    /** Swarm's control plane and data-plane helpers are all dockerd (and its containerd). */
    daemons: async () => {
      const pids = [];
      for (const h of ['h1', 'h2', 'h3']) pids.push(Number((await readFile(`${LAB_ROOT}/${LAB}/${h}/run/docker.pid`, 'utf8')).trim()));
      return pids;
    },
    /** Every node Ready and every manager Reachable or Leader again. */
    settled: async () => {
      const r = await lab.exec('h1', ['docker', 'node', 'ls', '--format', '{{.Status}} {{.ManagerStatus}}'], { timeoutMs: 10_000 });
      const rows = r.stdout.trim().split('\n').filter(Boolean);
      return r.code === 0 && rows.length === 3 && rows.every((l) => /^Ready (Leader|Reachable)$/.test(l)) ? true : undefined;
    },
    killLeader: (host) => swarm.killDockerd(host),
    /** One attempt at `service scale` from a surviving manager; true once it is accepted. */
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
  return {
    name: 'Shoal',
    tasksName: 'tasks.web',
    label: (svc) => `io.shoal.service.name=bench_${svc}`,
    deploy: async () => {
      const r = await run(process.execPath, [`${ROOT}packages/cli/dist/bin.js`, 'stack', 'deploy', '-c', STACK_FILE, 'bench', '--detach', '--nats', cluster.natsUrl('h1'), '--cluster', cluster.cluster], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`shoal stack deploy failed: ${r.stderr.trim() || r.stdout.trim()}`);
    },
    leader: () => cluster.leader(),
    daemons: async () => ['agent', 'coordinator', 'nats'].flatMap((k) => ['h1', 'h2', 'h3'].map((h) => cluster.pid(k, h))).filter((p) => p !== undefined),
    /** Every node ready and every coordinator at the same index. */
    settled: async () => {
      const nodes = await cluster.api('node.ls', {}, { timeoutMs: 5000 });
      const infos = await cluster.infos();
      return nodes.every((n) => n.state === 'ready') && infos.every((i) => i && i.index === infos[0]?.index) ? true : undefined;
    },
    killLeader: (host) => cluster.kill('coordinator', host, 'SIGKILL'),
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
  const pid = await until('the client container', () => containerPid(lab, 'h1', side.label('client')), 300_000, 200);
  r.phases.client = (Date.now() - t0) / 1000;
  const resolver = await resolverOf(pid);
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

  // host loss: a host holding a third of the replicas, neither the client's nor the leader's
  const leaderBefore = await side.leader();
  const cut = ['h3', 'h2'].find((h) => h !== leaderBefore) ?? 'h3';
  say(`${side.name}: cutting ${cut} (leader on ${leaderBefore})`);
  const t1 = Date.now();
  await lab.cut(cut);
  try {
    r.hostLoss = ((await allAnswer(pid, resolver, side.tasksName, { timeoutMs: 240_000, t0: t1 })) - t1) / 1000;
    r.cut = cut;
    say(`${side.name}: host loss ${r.hostLoss.toFixed(1)} s`);
  } catch (err) {
    say(`${side.name}: host loss not measured: ${err.message}`);
  } finally {
    await lab.heal([cut]);
  }
  // the healed host must be back in the control plane before the leader goes (else a manager
  // whose log lags can hold an election up, which is another measurement): settled, then 10 s
  const t3 = Date.now();
  await until(`${side.name} to settle after the heal`, () => side.settled(), 180_000, 1000);
  r.phases.settled = (Date.now() - t3) / 1000;
  say(`${side.name}: settled ${r.phases.settled.toFixed(1)} s after the heal`);
  await sleep(10_000);

  // leader loss: kill -9 the leader, then a scale must be accepted
  const leader = await until('a leader', () => side.leader(), 60_000, 500);
  const survivors = ['h1', 'h2', 'h3'].filter((h) => h !== leader);
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

async function benchSwarm(lab) {
  const swarm = new SwarmCluster(lab);
  say('Swarm: init on h1, h2 and h3 join as managers');
  await swarm.up();
  // the same stack, its image named by ID so that Swarm never tries a registry (see sameImage)
  const id = await swarm.sameImage();
  await writeFile(SWARM_STACK_FILE, STACK.replaceAll('image: shoal/busybox', `image: ${id}`));
  try {
    return await measure(lab, swarmSide(lab, swarm));
  } finally {
    say('Swarm: tearing down');
    // the killed manager's host is rebooted (dockerd and sshd), then every node leaves
    for (const h of ['h1', 'h2', 'h3']) {
      if ((await lab.exec(h, ['docker', 'info', '--format', '{{.ID}}'], { timeoutMs: 10_000 })).code !== 0) {
        await lab.kill(h);
        await lab.revive(h);
      }
    }
    await swarm.down();
    for (const h of ['h1', 'h2', 'h3']) {
      await lab.exec(h, ['sh', '-c', 'docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker network prune -f >/dev/null 2>&1; true'], { timeoutMs: 120_000 });
    }
  }
}

async function benchShoal(lab) {
  const cluster = new ShoalCluster(lab, { cluster: 'bench' });
  say('Shoal: NATS cluster, 3 coordinators, 3 agents');
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
function row(metric, short, unit, swarm, shoal, better, target, digits = 1) {
  const ratio = Number.isFinite(swarm) && Number.isFinite(shoal) && swarm > 0 ? shoal / swarm : NaN;
  const met = Number.isFinite(ratio) ? (better === 'lower' ? ratio <= target : ratio >= target) : undefined;
  return {
    cells: [metric, `${f(swarm, digits)} ${unit}`, `${f(shoal, digits)} ${unit}`, Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a', `${better === 'lower' ? '≤' : '≥'} ${target}×`, met === undefined ? 'n/a' : met ? 'yes' : 'NO'],
    chart: { label: short.toUpperCase(), swarm, shoal, unit: unit.toUpperCase(), better, verdict: met === undefined ? '' : `${met ? 'MET' : 'MISSED'}: ${ratio.toFixed(2)}X, TARGET ${better === 'lower' ? '<=' : '>='} ${target}X` },
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
  say(`lab ${LAB} on ${SUBNET}: 3 hosts`);
  await Lab.down(LAB);
  const lab = await Lab.up({ name: LAB, hosts: 3, subnet: SUBNET });
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
    row('host loss (1 of 3 hosts cut)', 'host loss', 's', sw.hostLoss, sh.hostLoss, 'lower', 0.2),
    row('leader loss (kill -9, until scale ok)', 'leader loss', 's', sw.leaderLoss, sh.leaderLoss, 'lower', 0.2),
    row('overlay throughput h1→h2 (1 stream)', 'overlay throughput', 'Gbit/s', sw.gbps, sh.gbps, 'higher', 1.0, 2),
    row('DNS queries/s (saturated)', 'DNS queries/s', 'q/s', sw.dns?.qps, sh.dns?.qps, 'higher', 1.0, 0),
    row(`DNS p99 at ${DNS_QPS} q/s`, `DNS p99 at ${DNS_QPS} q/s`, 'ms', sw.dns?.p99Ms, sh.dns?.p99Ms, 'lower', 1.0, 2),
  ];
  const cells = rows.map((r) => r.cells);
  cells.push(['underlay h1→h2 (reference)', `${f(res.underlay, 2)} Gbit/s`, `${f(res.underlay, 2)} Gbit/s`, '—', '—', '—']);
  cells.push(['hand-built VXLAN (reference)', `${f(res.handBuilt, 2)} Gbit/s`, `${f(res.handBuilt, 2)} Gbit/s`, '—', '—', '—']);
  cells.push(['overlay / underlay', Number.isFinite(sw.gbps / res.underlay) ? `${(sw.gbps / res.underlay).toFixed(2)}×` : 'n/a', Number.isFinite(sh.gbps / res.underlay) ? `${(sh.gbps / res.underlay).toFixed(2)}×` : 'n/a', '—', '—', '—']);
  const scale = await scaleFigures();
  if (scale === undefined) cells.push(['coordinator scale figures', '—', 'not run', '—', '—', '—']);
  else for (const s of scale) cells.push([`coordinator: ${s.metric}`, '—', String(s.value), '—', String(s.target ?? '—'), s.met === undefined ? 'n/a' : s.met ? 'yes' : 'NO']);
  const t = table(cells);
  console.log('');
  console.log(t.text);

  const phase = (r) => `daemons' CPU during iperf3 ${Number.isFinite(r.daemonCpu) ? `${(r.daemonCpu * 100).toFixed(0)}% of a core` : 'n/a'}; deploy returned ${f(r.phases?.deployReturned)} s, client container up ${f(r.phases?.client)} s, ${REPLICAS} names resolved ${f(r.phases?.names)} s, all answering ${f(r.deploy)} s; cut ${r.cut ?? 'n/a'}; leader was on ${r.leaderHost ?? 'n/a'}`;
  const when = new Date().toISOString();
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.versions.node} (load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end)`;
  const md = [
    '# Shoal vs Docker Swarm: latest bench',
    '',
    `${when} on ${machine}. One 3-host lab (\`${LAB}\`, ${SUBNET}); Swarm (3 managers) first, then Shoal (3 coordinators, a 3-node NATS cluster, 3 agents); the same image (shoal/busybox) and stack (${REPLICAS} dnsrr replicas of \`web\`, a client on h1, an iperf3 server on h2). Every figure is taken from inside the client container's network namespace; iperf3 ${SECONDS} s × 3 (median); dnsperf ${SECONDS} s saturated (4 clients, 100 outstanding) and ${SECONDS} s at ${DNS_QPS} q/s for the p99. Made by \`npm run bench\`.`,
    '',
    t.md,
    '',
    '![Shoal vs Swarm](latest.png)',
    '',
    '## Phases',
    '',
    `- Swarm: ${phase(sw)}`,
    `- Shoal: ${phase(sh)}`,
    '',
  ].join('\n');
  await writeFile(`${ROOT}bench/results/latest.md`, md);
  await writeFile(`${ROOT}bench/results/latest.png`, barChart('SHOAL VS DOCKER SWARM, 3-HOST LAB', rows.map((r) => r.chart)));
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
