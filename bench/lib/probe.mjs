// Looking at a cluster the way its users do: from inside a client container's network namespace
// (entered from the machine with nsenter, so the same dig, busybox nc, iperf3 and dnsperf serve
// Swarm and Shoal alike), names are resolved by the container's own resolver and replicas asked
// to answer over the overlay.
import { readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
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
  if (!m) throw new Error(`container ${pid} has no nameserver in its resolv.conf`);
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

/** Which of `addresses` answer on `port` (each replica writes its hostname and closes), in parallel. */
export async function answering(pid, addresses, port = 7000) {
  if (addresses.length === 0) return [];
  const script = `for a in ${addresses.join(' ')}; do (o=$(nc -w 2 $a ${port} </dev/null 2>/dev/null) && [ -n "$o" ] && echo $a) & done; wait`;
  const r = await inNetns(pid, ['busybox', 'sh', '-c', script], { timeoutMs: 20_000 });
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
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
  const fixed = await inNetns(pid, ['dnsperf', '-v', '-s', resolver, '-d', queries, '-l', String(seconds), '-c', '4', '-Q', String(fixedQps), '-t', '2'], { timeoutMs: (seconds + 30) * 1000 });
  const lat = [];
  for (const line of fixed.stdout.split('\n')) {
    // "> NOERROR name A 0.000123" — the last field is the latency in seconds
    const m = /^> \S+ .* (\d+\.\d+)$/.exec(line.trim());
    if (m) lat.push(Number(m[1]) * 1000);
  }
  lat.sort((a, b) => a - b);
  const p99 = lat.length > 0 ? lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] : NaN;
  const answered = Number(/Queries completed:\s+(\d+)/.exec(fixed.stdout)?.[1] ?? NaN);
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
