// npm run bench:dataplane — cross-host TCP throughput (one iperf3 stream, 5 s) on a 2-host lab:
// the bare underlay, a hand-built kernel VXLAN pair (the data plane's limit here), Shoal's
// overlay (a macvlan of the VXLAN device in each container, as the agent wires it) and Docker Swarm's overlay.
// Prints figures beside the targets of issue 5; it is a script, never a test.
import { Lab } from '@shoal/lab';
import { OverlayDriver } from '@shoal/agent';
import { handBuilt as handBuiltPath, underlay as underlayPath } from './lib/dataplane.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
// each path is measured ROUNDS times and its median kept: a 2-core machine is noisy
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const name = 'bdata';

const must = async (lab, host, argv, what = argv.join(' ')) => {
  const r = await lab.exec(host, argv, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${host}: ${what} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
};
const kernelOf = (lab, host) => ({ run: (argv) => must(lab, host, argv) });
const gbps = (json) => JSON.parse(json).end.sum_received.bits_per_second / 1e9;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = {};

async function iperfIn(lab, clientHost, clientPrefix, serverAddress, label) {
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(gbps(await must(lab, clientHost, [...clientPrefix, 'iperf3', '-c', serverAddress, '-t', String(SECONDS), '-J'])));
  samples[label] = runs;
  return median(runs);
}

/** The library's paths set up and measure once per call: ROUNDS calls, the median kept. */
async function rounds(label, once) {
  const runs = [];
  for (let i = 0; i < ROUNDS; i++) runs.push(await once());
  samples[label] = runs;
  return median(runs);
}
const underlay = (lab) => rounds('underlay', () => underlayPath(lab, { seconds: SECONDS }));
const handBuilt = (lab) => rounds('hand-built VXLAN', () => handBuiltPath(lab, { seconds: SECONDS }));

/** Shoal's overlay as the agent wires it, driven through the same driver. */
async function shoal(lab) {
  const spec = { vni: 4500, subnet: '10.0.77.0/24', gateway: '10.0.77.1' };
  const addrs = { h1: '10.0.77.2', h2: '10.0.77.3' };
  const drivers = {};
  for (const host of ['h1', 'h2']) {
    drivers[host] = new OverlayDriver(kernelOf(lab, host), { localAddress: lab.host(host).address, underlayDevice: 'eth0' });
    await drivers[host].ensureNetwork(spec);
    const cmd = host === 'h2' ? ['iperf3', '-s'] : ['sleep', '3600'];
    await must(lab, host, ['docker', 'run', '-d', '--network', 'none', '--name', 'bench', 'shoal/busybox', ...cmd]);
    const pid = Number((await must(lab, host, ['docker', 'inspect', '-f', '{{.State.Pid}}', 'bench'])).trim());
    await drivers[host].attach(spec, { id: `bench-${host}`, address: addrs[host], pid, ifname: 'eth0' });
  }
  await drivers.h1.setRemotes(spec.vni, [{ address: addrs.h2, host: lab.host('h2').address }]);
  await drivers.h2.setRemotes(spec.vni, [{ address: addrs.h1, host: lab.host('h1').address }]);
  try {
    return await iperfIn(lab, 'h1', ['docker', 'exec', 'bench'], addrs.h2, 'Shoal overlay');
  } finally {
    for (const host of ['h1', 'h2']) {
      await lab.exec(host, ['docker', 'rm', '-f', 'bench']);
      await drivers[host].removeNetwork(spec.vni);
    }
  }
}

/** Docker Swarm mode on the same two hosts: an attachable overlay, one container each side. */
async function swarm(lab) {
  await must(lab, 'h1', ['docker', 'swarm', 'init', '--advertise-addr', lab.host('h1').address]);
  try {
    const token = (await must(lab, 'h1', ['docker', 'swarm', 'join-token', '-q', 'worker'])).trim();
    await must(lab, 'h2', ['docker', 'swarm', 'join', '--token', token, `${lab.host('h1').address}:2377`]);
    await must(lab, 'h1', ['docker', 'network', 'create', '-d', 'overlay', '--attachable', 'swbench']);
    await must(lab, 'h2', ['docker', 'run', '-d', '--network', 'swbench', '--name', 'swsrv', 'shoal/busybox', 'iperf3', '-s']);
    const ip = (await must(lab, 'h2', ['docker', 'inspect', '-f', '{{(index .NetworkSettings.Networks "swbench").IPAddress}}', 'swsrv'])).trim();
    await must(lab, 'h1', ['docker', 'run', '-d', '--network', 'swbench', '--name', 'swcli', 'shoal/busybox', 'sleep', '3600']);
    return await iperfIn(lab, 'h1', ['docker', 'exec', 'swcli'], ip, 'Docker Swarm overlay');
  } finally {
    await lab.exec('h2', ['docker', 'rm', '-f', 'swsrv']);
    await lab.exec('h1', ['docker', 'rm', '-f', 'swcli']);
    await lab.exec('h2', ['docker', 'swarm', 'leave', '--force']);
    await lab.exec('h1', ['docker', 'swarm', 'leave', '--force']);
  }
}

await Lab.down(name);
const lab = await Lab.up({ name, hosts: 2 });
const results = {};
try {
  for (const [label, fn] of [['underlay', underlay], ['hand-built VXLAN', handBuilt], ['Shoal overlay', shoal], ['Docker Swarm overlay', swarm]]) {
    process.stderr.write(`measuring ${label}…\n`);
    try {
      results[label] = await fn(lab);
    } catch (err) {
      results[label] = undefined;
      process.stderr.write(`  ${label}: ${err.message}\n`);
    }
  }
} finally {
  await Lab.down(name);
}
const f = (x) => (x === undefined ? 'n/a' : x.toFixed(2));
const ratio = (a, b) => (a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`);
console.log(`cross-host TCP, 1 iperf3 stream, ${SECONDS} s, median of ${ROUNDS} runs per path, on a 2-host lab (underlay MTU 1500)`);
console.log('path                    Gbit/s   vs underlay   runs');
for (const [label, v] of Object.entries(results)) console.log(`${label.padEnd(22)}  ${f(v).padStart(6)}   ${ratio(v, results.underlay).padStart(11)}   ${(samples[label] ?? []).map(f).join(' ')}`);
const s = results['Shoal overlay'];
console.log('');
console.log(`target: Shoal ≥ 1.0× Swarm           got ${ratio(s, results['Docker Swarm overlay'])}`);
console.log(`target: Shoal ≥ 0.95× hand-built     got ${ratio(s, results['hand-built VXLAN'])}`);
