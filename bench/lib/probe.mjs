// Looking at a cluster the way its users do: from inside a client container's network namespace
// (entered from the machine with nsenter, so the same dig, node (the name watcher), iperf3 and dnsperf serve
// Swarm and Shoal alike), names are resolved by the container's own resolver and replicas asked
// to answer over the overlay.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { run } from '@shoal/lab';

/** The pid of the one running container with this label on the host, or undefined. */
export async function containerPid(lab, host, label) {
  const ps = await lab.exec(host, ['docker', 'ps', '-q', '-f', `label=${label}`], { timeoutMs: 20_000 });
  const id = ps.stdout.trim().split('\n').find(Boolean);
  if (!id) return undefined;
  const pid = Number((await lab.exec(host, ['docker', 'inspect', '-f', '{{.State.Pid}}', id], { timeoutMs: 20_000 })).stdout.trim());
  return pid > 0 ? pid : undefined;
}

/** The first nameserver of the container's resolv.conf. */
export async function resolverOf(pid) {
  const conf = await readFile(`/proc/${pid}/root/etc/resolv.conf`, 'utf8');
  const m = /^nameserver\s+(\S+)/m.exec(conf);
  if (!m) throw new Error(`container ${pid} has no nameserver in its resolv.conf (${JSON.stringify(conf.slice(0, 200))})`);
  return m[1];
}

export async function inNetns(pid, argv, { timeoutMs = 30_000, input } = {}) {
  return run('nsenter', ['-t', String(pid), '-n', '--', ...argv], { timeoutMs, ...(input === undefined ? {} : { input }) });
}

/** The A records of `name` from `resolver`, as the container would get them (TCP if truncated). */
export async function resolve(pid, resolver, name) {
  const r = await inNetns(pid, ['dig', '+short', '+time=2', '+tries=1', `@${resolver}`, name, 'A'], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

const WATCHER = fileURLToPath(new URL('./watch-names.mjs', import.meta.url));

/**
 * Watches, from the container's namespace, until `name` gives `expected` addresses and every one
 * answers on `port` (see watch-names.mjs: rounds every 100 ms that overlap, so an address that
 * drops packets delays nothing). Resolves with the Date.now() of that moment; `onNames` hears
 * when the name first gave them all. Rejects after `timeoutMs`.
 */
export function watchNames(pid, resolver, name, expected, { timeoutMs, port = 7000, onNames } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(pid), '-n', '--', process.execPath, WATCHER, resolver, name, String(expected), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`timed out waiting for ${expected} addresses of ${name} to answer`));
    }, timeoutMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = JSON.parse(line);
      if (m.names !== undefined) onNames?.(m.names);
      if (m.done !== undefined) {
        clearTimeout(timer);
        resolve(m.done);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the name watcher exited with ${code}: ${err.slice(0, 300)}`));
    });
  });
}

/**
 * Resolves `name` from the container's namespace every `every` ms, rounds overlapping (the
 * watcher's stream mode), and keeps every round: { t (when it started), a (the addresses, [] for
 * NXDOMAIN, null if the resolver did not answer within 2 s) }, in `rounds` (a new array unless
 * one is given). Runs until stop() or `maxMs`. Feed `rounds` to nameGaps.
 */
export function streamNames(pid, resolver, name, { every = 100, maxMs = 900_000, rounds = [] } = {}) {
  const child = spawn('nsenter', ['-t', String(pid), '-n', '--', process.execPath, WATCHER, resolver, name, 'stream', String(maxMs), String(every)], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => undefined);
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      rounds.push(JSON.parse(line));
    } catch {
      // a line cut by the kill
    }
  });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    rounds,
    started: Date.now(),
    /** Whether the watcher still runs (it ends on its own after maxMs, or if its namespace's process is gone). */
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

/**
 * The longest time one of `addresses` was not in the name's answer, over rounds that started in
 * [from, to]: a gap opens at the start of a round whose answer lacks the address (or that got no
 * answer) and closes at the start of the next round that has it, or at `to`. 0 when every round
 * had every address. Returns { ms, address, from } of the longest, and how many rounds there were.
 */
export function nameGaps(rounds, addresses, from, to) {
  const inWindow = rounds.filter((r) => r.t >= from && r.t <= to).sort((x, y) => x.t - y.t);
  let worst = { ms: 0, address: undefined, from: undefined };
  for (const address of addresses) {
    let open;
    for (const r of inWindow) {
      const has = r.a?.includes(address) ?? false;
      if (!has && open === undefined) open = r.t;
      if (has && open !== undefined) {
        if (r.t - open > worst.ms) worst = { ms: r.t - open, address, from: open };
        open = undefined;
      }
    }
    if (open !== undefined && to - open > worst.ms) worst = { ms: to - open, address, from: open };
  }
  return { ...worst, rounds: inWindow.length };
}

/**
 * Every running container with this label filter on each host: id → { host, started, service,
 * task } (Docker's StartedAt; service and task from the labels `serviceLabel` and `taskLabel`).
 * Compared before and after a fault by restartedBetween.
 */
export async function containerStarts(lab, hosts, filter, serviceLabel = 'io.shoal.service.name', taskLabel = 'io.shoal.task.id') {
  const out = new Map();
  await Promise.all(hosts.map(async (h) => {
    // a container removed between the list and the inspect is simply not there (inspect's
    // error for it is ignored); a Docker that does not list is an error
    const ps = await lab.exec(h, ['sh', '-c', `ids=$(docker ps -q --no-trunc -f '${filter}') || exit 3; [ -z "$ids" ] || docker inspect -f '{{.Id}} {{.State.StartedAt}} {{.State.Running}} {{index .Config.Labels "${serviceLabel}"}} {{index .Config.Labels "${taskLabel}"}}' $ids 2>/dev/null; exit 0`], { timeoutMs: 30_000 });
    if (ps.code !== 0) throw new Error(`${h}: docker did not list its containers: ${ps.stderr.trim().slice(0, 200)}`);
    for (const line of ps.stdout.split('\n').filter(Boolean)) {
      const [id, started, running, service, task] = line.split(' ');
      if (running === 'true') out.set(id, { host: h, started, service, task });
    }
  }));
  return out;
}

/** The containers running before that are gone, or were started again, after (ids with their host). */
export function restartedBetween(before, after, { except = () => false } = {}) {
  const lost = [];
  for (const [id, b] of before) {
    if (except(id, b)) continue;
    const a = after.get(id);
    if (!a || a.started !== b.started) lost.push({ id, host: b.host, service: b.service, how: a ? 'restarted' : 'gone' });
  }
  return lost;
}

const gbps = (json) => JSON.parse(json).end.sum_received.bits_per_second / 1e9;

/** One iperf3 stream from the container's namespace to `server` (already listening). */
export async function iperf(pid, server, seconds) {
  const r = await inNetns(pid, ['iperf3', '-c', server, '-t', String(seconds), '-J'], { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`iperf3 to ${server} failed: ${r.stdout.slice(0, 300)} ${r.stderr.slice(0, 300)}`);
  return gbps(r.stdout);
}

/**
 * dnsperf against `resolver` for `name`, from the container's namespace: the saturating rate
 * (queries/s answered, 100 outstanding) and, in a second run at a fixed rate, the 99th
 * percentile latency of each query (from dnsperf's per-query lines).
 */
export async function dnsperf(pid, resolver, name, { seconds = 5, fixedQps = 5000 } = {}) {
  // a file, not stdin: dnsperf loops over its input for the whole run only if it can rewind it
  const queries = `${tmpdir()}/shoal-bench-dnsperf-${process.pid}.txt`;
  await writeFile(queries, `${name} A\n`);
  const sat = await inNetns(pid, ['dnsperf', '-s', resolver, '-d', queries, '-l', String(seconds), '-c', '4', '-q', '100', '-t', '2'], { timeoutMs: (seconds + 30) * 1000 });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(sat.stdout)?.[1] ?? NaN);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(sat.stdout)?.[1] ?? NaN);
  // the per-query lines (50,000 a second) go to a file, read once the run is over: a pipe read
  // by this process during the run would take CPU from the resolver being measured
  const lines = `${tmpdir()}/shoal-bench-dnsperf-${process.pid}.out`;
  const fixed = await inNetns(pid, ['sh', '-c', `exec dnsperf -v -s ${resolver} -d ${queries} -l ${seconds} -c 4 -Q ${fixedQps} -t 2 > ${lines}`], { timeoutMs: (seconds + 30) * 1000 });
  if (fixed.code !== 0) throw new Error(`dnsperf failed: ${fixed.stderr.slice(0, 300)}`);
  const out = await readFile(lines, 'utf8');
  await rm(lines, { force: true });
  const lat = [];
  for (const line of out.split('\n')) {
    // "> NOERROR name A 0.000123" — the last field is the latency in seconds
    const m = /^> \S+ .* (\d+\.\d+)$/.exec(line.trim());
    if (m) lat.push(Number(m[1]) * 1000);
  }
  lat.sort((a, b) => a - b);
  const p99 = lat.length > 0 ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] : NaN;
  const answered = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  return { qps, lost, p99Ms: p99, fixedQps, samples: lat.length, answered };
}

/** The median of a few runs, so one noisy run does not make the figure. */
export function median(xs) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

/** Whether something listens on host:port (a TCP connect succeeds). */
export function listening(host, port) {
  return new Promise((resolve) => {
    const s = createConnection({ host, port }, () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

/** Polls `fn` every `every` ms until it gives a truthy value, which it returns; throws after `ms`. */
export async function whenTrue(what, fn, ms = 120_000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
