import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager, natsBus } from '@shoal/coordinator';
import { LeaderHarness } from './support/leader.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';
import { SHOAL_BIN, shoal, type CliResult } from './support/cli.js';

// The `shoal` binary against a real coordinator and real agents on two lab hosts: what a person
// types, and what a script reads with --json and -q.
const SERVE = 'trap "exit 0" TERM; nc -ll -p 7000 -e hostname & wait';

describe('shoal CLI against a cluster', () => {
  const h = new LeaderHarness('clitest', 'cl', 14228);
  let manager: Manager;
  let dir = '';
  // the cluster's flags go right after the command's name: after an image, words are the command
  const cli = (group: string, verb: string, ...args: string[]): Promise<CliResult> => shoal([group, verb, '--nats', h.nats.url, '--cluster', 'cl', ...args], { timeoutMs: 240_000 });

  /** A table's rows as arrays of cells (its header dropped); cells never hold two spaces. */
  const cells = (table: string): string[][] =>
    table
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/ {2,}/));

  beforeAll(async () => {
    await requireLabMachine();
    dir = await mkdtemp(join(tmpdir(), 'shoal-cli-'));
    await h.start(2, { answer: false });
    // named after h1, as a coordinator running on that host is: h1's node is then a manager
    manager = new Manager({ cluster: 'cl', id: 1, name: 'h1', peers: new Map([[1, { host: '127.0.0.1', port: 17112 }]]), dataDir: join(dir, 'c1'), bus: natsBus(h.nc), heartbeatPeriodMs: 500, missedHeartbeats: 4 });
    await manager.start();
    await eventually('two nodes ready', () => (manager.leading && manager.store.list('node').filter((n) => n.status.state === 'ready').length === 2 ? true : undefined), 60_000);
  });

  afterAll(async () => {
    await manager?.stop().catch(() => undefined);
    await h.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates networks with docker flags and refuses a name taken or a subnet that overlaps, changing nothing', async () => {
    const made = await cli('network', 'create', '--subnet', '10.60.0.0/24', '--ip-range', '10.60.0.128/25', '--gateway', '10.60.0.1', '--label', 'tier=back', 'back');
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    expect((await cli('network', 'create', 'front')).code).toBe(0);
    const overlap = await cli('network', 'create', '--subnet', '10.60.0.0/16', 'other');
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toBe('error: subnet 10.60.0.0/16 overlaps 10.60.0.0/24 of network back — choose a subnet no other network uses, or leave it out to get one from the pool\n');
    const taken = await cli('network', 'create', 'back');
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^error: a network named back already exists — /);
    const inspect = JSON.parse((await cli('network', 'inspect', 'back')).stdout) as { id: string; spec: { labels: Record<string, string>; ipam: unknown[] }; allocation: { subnet: string; gateway: string } };
    expect(inspect.spec.ipam).toEqual([{ subnet: '10.60.0.0/24', ipRange: '10.60.0.128/25', gateway: '10.60.0.1' }]);
    expect(inspect.spec.labels).toEqual({ tier: 'back' });
    expect(inspect.allocation.gateway).toBe('10.60.0.1');
    const ls = await cli('network', 'ls');
    const json = JSON.parse((await cli('network', 'ls', '--json')).stdout) as { id: string; name: string; subnet: string }[];
    expect(json.map((n) => n.name).sort()).toEqual(['back', 'front']);
    // the table shows the same rows as the JSON
    expect(cells(ls.stdout).map((r) => [r[1], r[3]]).sort()).toEqual(json.map((n) => [n.name, n.subnet]).sort());
    expect((await cli('network', 'ls', '-q')).stdout.trim().split('\n').sort()).toEqual(json.map((n) => n.id).sort());
  });

  it('creates a service with docker flags, waits until it runs, and scales it', async () => {
    const created = await cli('service', 'create', '--name', 'web', '--replicas', '2', '--network', 'name=back,alias=www', '--limit-memory', '64M', '-e', 'GREETING=hi', 'shoal/busybox', 'sh', '-c', SERVE);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain('web 2/2');
    const svc = JSON.parse((await cli('service', 'inspect', 'web')).stdout) as { spec: { networks: unknown[]; container: { env: Record<string, string> }; resources: { limits: { memoryBytes: number } } } };
    expect(svc.spec.networks).toEqual([{ target: 'back', aliases: ['www'] }]);
    expect(svc.spec.container.env).toEqual({ GREETING: 'hi' });
    expect(svc.spec.resources.limits.memoryBytes).toBe(64 * 2 ** 20);
    // addresses come from the ip-range only, never the gateway
    const tasks = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { id: string; node: string; state: string; addresses: string[] }[];
    expect(tasks).toHaveLength(2);
    for (const t of tasks) {
      const last = Number(t.addresses[0]?.split('/')[0]?.split('.')[3]);
      expect(last).toBeGreaterThanOrEqual(128);
    }
    const scaled = await cli('service', 'scale', 'web=3');
    expect(scaled.code).toBe(0);
    expect(scaled.stdout).toBe('web scaled to 3\n');
    const ls = JSON.parse((await cli('service', 'ls', '--json')).stdout) as { name: string; running: number; desired: number }[];
    expect(ls.find((s) => s.name === 'web')).toMatchObject({ running: 3, desired: 3 });
    const table = cells((await cli('service', 'ls')).stdout);
    expect(table.find((r) => r[1] === 'web')?.[3]).toBe('3/3');
    const ps = await cli('service', 'ps', 'web');
    const psJson = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { id: string; node: string; state: string }[];
    expect(cells(ps.stdout).map((r) => [r[0], r[2], r[4]]).sort()).toEqual(psJson.map((t) => [t.id.slice(0, 12), t.node, t.state]).sort());
    expect((await cli('service', 'ps', 'web', '-q')).stdout.trim().split('\n').sort()).toEqual(psJson.map((t) => t.id).sort());
  });

  it('connects a running service to a network and disconnects it, without restarting its containers', async () => {
    const before = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { id: string; node: string; containerId: string; addresses: string[] }[];
    expect((await cli('network', 'connect', 'front', 'web', '--alias', 'api')).code).toBe(0);
    const front = JSON.parse((await cli('network', 'inspect', 'front')).stdout) as { id: string; allocation: { subnet: string } };
    const prefix = front.allocation.subnet.split('.').slice(0, 3).join('.');
    await eventually('every task on front too', async () => {
      const tasks = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { state: string; addresses: string[] }[];
      return tasks.filter((t) => t.state === 'running').every((t) => t.addresses.some((a) => a.startsWith(prefix))) ? true : undefined;
    }, 60_000);
    const onFront = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { id: string; node: string; containerId: string; addresses: string[] }[];
    // the same containers: connected, not replaced
    expect(onFront.map((t) => t.containerId).sort()).toEqual(before.map((t) => t.containerId).sort());
    const t = onFront[0];
    if (!t) throw new Error('no task');
    const frontAddress = (t.addresses.find((a) => a.startsWith(prefix)) ?? '').split('/')[0] ?? '';
    await eventually('the container to hold its front address', async () => ((await h.inTask(t.node, t.id, 'ip -o -4 addr')).out.includes(`${frontAddress}/`) ? true : undefined), 60_000);
    expect((await cli('network', 'disconnect', 'front', 'web')).code).toBe(0);
    await eventually('the front address gone from the container', async () => ((await h.inTask(t.node, t.id, 'ip -o -4 addr')).out.includes(`${frontAddress}/`) ? undefined : true), 60_000);
    const after = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { containerId: string; state: string }[];
    expect(after.filter((x) => x.state === 'running').map((x) => x.containerId).sort()).toEqual(before.map((x) => x.containerId).sort());
  });

  it('updates a service: a new environment rolls its tasks, a stale or empty update is refused', async () => {
    const updated = await cli('service', 'update', '--env-add', 'MODE=blue', 'web');
    expect(updated.code).toBe(0);
    const svc = JSON.parse((await cli('service', 'inspect', 'web')).stdout) as { spec: { container: { env: Record<string, string> } } };
    expect(svc.spec.container.env).toEqual({ GREETING: 'hi', MODE: 'blue' });
    const tasks = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { id: string; node: string; state: string; desired: string }[];
    const live = tasks.filter((t) => t.desired === 'running' && t.state === 'running');
    expect(live).toHaveLength(3);
    for (const t of live) expect((await h.inTask(t.node, t.id, 'echo $MODE')).out).toBe('blue');
    const nothing = await cli('service', 'update', 'web');
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toMatch(/^error: the flags change nothing in service web — /);
  });

  it('labels and drains a node: its tasks move, and a ready node is not removed without --force', async () => {
    expect((await cli('node', 'update', '--label-add', 'zone=eu', 'h1')).code).toBe(0);
    const h1 = JSON.parse((await cli('node', 'inspect', 'h1')).stdout) as { spec: { labels: Record<string, string> } };
    expect(h1.spec.labels).toMatchObject({ zone: 'eu' });
    expect((await cli('node', 'update', '--availability', 'drain', 'h2')).code).toBe(0);
    await eventually('web off h2', async () => {
      const tasks = JSON.parse((await cli('service', 'ps', 'web', '--json')).stdout) as { node: string; desired: string; state: string }[];
      const live = tasks.filter((t) => t.desired === 'running');
      return live.length === 3 && live.every((t) => t.node === 'h1' && t.state === 'running') ? true : undefined;
    }, 120_000);
    // the host of the (voting) coordinator is a manager, the other a worker
    const roles = await eventually('h1 a manager', async () => {
      const rows = cells((await cli('node', 'ls')).stdout).map((r) => `${r[1]}:${r[5]}`).sort();
      return rows.includes('h1:manager') ? rows : undefined;
    });
    expect(roles).toEqual(['h1:manager', 'h2:worker']);
    const refused = await cli('node', 'rm', 'h2');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: .*h2.* — /);
    expect((await cli('node', 'update', '--availability', 'active', 'h2')).code).toBe(0);
    const bad = await cli('node', 'update', '--availability', 'gone', 'h2');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('is not active, pause or drain');
  });

  it('shoal watch, on a terminal, shows a node go down when its host is cut and come back when healed; shoal events --json sees both', async () => {
    // a pseudo-terminal from script(1): watch draws full-screen frames there
    const watch = spawn('script', ['-q', '-c', `${process.execPath} ${SHOAL_BIN} watch --nats ${h.nats.url} --cluster cl`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const events = spawn(process.execPath, [SHOAL_BIN, 'events', '--json', '--filter', 'type=node', '--nats', h.nats.url, '--cluster', 'cl'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    let eventLines = '';
    watch.stdout.on('data', (b: Buffer) => (screen += b.toString()));
    events.stdout.on('data', (b: Buffer) => (eventLines += b.toString()));
    /** The last frame drawn: what follows the last cursor-home. */
    const ESC = String.fromCharCode(27);
    const frame = (): string => (screen.split(`${ESC}[H`).pop() ?? '').replace(new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, 'g'), '');
    const rowOf = (host: string): string => frame().split('\n').find((l) => l.startsWith(`${host} `)) ?? '';
    const stop = async (p: ChildProcess): Promise<void> => {
      if (p.exitCode !== null) return;
      await new Promise<void>((r) => {
        p.once('exit', () => r());
        p.kill('SIGTERM');
      });
    };
    try {
      await eventually('watch to draw h2 ready', () => (/^h2\s+ready\s+worker\s+active\s+\S*\s*[\d.]+s ago/.test(rowOf('h2')) ? true : undefined), 30_000);
      expect(screen).toContain('\x1b[?1049h'); // the alternate screen: no scrolling
      expect(frame()).toMatch(/^shoal watch — cluster cl/);
      await h.lab.cut('h2');
      await eventually('watch to show h2 down', () => (/^h2\s+down\b/.test(rowOf('h2')) ? true : undefined), 60_000);
      await h.lab.heal(['h2']);
      await eventually('watch to show h2 ready again', () => (/^h2\s+ready\b/.test(rowOf('h2')) ? true : undefined), 60_000);
      await eventually('events to show both', () => {
        const seen = eventLines.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { object: string; action: string; name?: string });
        const h2 = seen.filter((e) => e.name === 'h2').map((e) => e.action);
        return h2.includes('down') && h2.lastIndexOf('ready') > h2.indexOf('down') ? true : undefined;
      }, 30_000);
      // q, typed on the terminal, ends it and gives the terminal back (alternate screen left)
      const exited = new Promise<number | null>((r) => watch.once('exit', (code) => r(code)));
      watch.stdin.write('q');
      expect(await exited).toBe(0);
      expect(screen).toContain('\x1b[?1049l');
    } finally {
      await stop(events);
      await stop(watch);
      await h.lab.heal([]).catch(() => undefined);
    }
  });

  it('prints a service\'s logs from every task, fetched through the agents from Docker: all, the tail, and following', async () => {
    const talk = 'echo first-out; echo first-err >&2; trap "exit 0" TERM; (i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done) & wait';
    expect((await cli('service', 'create', '--name', 'talker', '--replicas', '2', '--max-replicas-per-node', '1', 'shoal/busybox', 'sh', '-c', talk)).code).toBe(0);
    const tasks = JSON.parse((await cli('service', 'ps', 'talker', '--json')).stdout) as { id: string; slot: number; node: string }[];
    const all = await cli('service', 'logs', 'talker');
    expect(all.code).toBe(0);
    for (const t of tasks) {
      const prefix = `talker.${t.slot}.${t.id.slice(0, 12)}@${t.node}    | `;
      expect(all.stdout).toContain(`${prefix}first-out\n`);
      expect(all.stderr).toContain(`${prefix}first-err\n`);
      expect(all.stdout).toContain(`${prefix}tick-0\n`);
    }
    const tail = await cli('service', 'logs', '--tail', '1', '--no-task-ids', 'talker');
    const lines = tail.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/^talker\.\d@h\d {4}\| tick-\d+$/);
    // following: lines written after the command started arrive
    const seenBefore = Math.max(...[...all.stdout.matchAll(/tick-(\d+)/g)].map((m) => Number(m[1])));
    const follow = spawn(process.execPath, [SHOAL_BIN, 'service', 'logs', '-f', '--nats', h.nats.url, '--cluster', 'cl', 'talker'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let followed = '';
    follow.stdout.on('data', (b: Buffer) => (followed += b.toString()));
    try {
      await eventually('a line newer than any seen before', () => ([...followed.matchAll(/tick-(\d+)/g)].some((m) => Number(m[1]) > seenBefore + 1) ? true : undefined), 30_000);
    } finally {
      const exited = new Promise((r) => follow.once('exit', r));
      follow.kill('SIGINT');
      await exited;
    }
    expect((await cli('service', 'rm', 'talker')).code).toBe(0);
  });

  it('refuses a network in use, then removes service and networks', async () => {
    const inUse = await cli('network', 'rm', 'back');
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toBe('error: network back is in use by web — remove or disconnect those services first\n');
    expect((await cli('service', 'rm', 'web')).code).toBe(0);
    expect((await cli('network', 'rm', 'back', 'front')).code).toBe(0);
    expect(JSON.parse((await cli('network', 'ls', '--json')).stdout)).toEqual([]);
    const gone = await cli('service', 'inspect', 'web');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('error: there is no service web — see shoal service ls\n');
  });

  it('deploys a stack and lists it, its services and its tasks, tables matching JSON', async () => {
    const file = join(dir, 'stack.yml');
    await writeFile(file, `services:\n  api:\n    image: shoal/busybox\n    command: ["sh", "-c", '${SERVE}']\n    deploy: { replicas: 2 }\n`);
    const deployed = await cli('stack', 'deploy', '-c', file, 'shop', '--json');
    expect(deployed.code).toBe(0);
    expect((JSON.parse(deployed.stdout) as { name: string; running: number }[]).map((s) => [s.name, s.running])).toEqual([['shop_api', 2]]);
    const stacks = JSON.parse((await cli('stack', 'ls', '--json')).stdout) as { name: string; services: number }[];
    expect(stacks).toEqual([{ name: 'shop', services: 1 }]);
    expect(cells((await cli('stack', 'ls')).stdout)).toEqual([['shop', '1']]);
    const ps = JSON.parse((await cli('stack', 'ps', 'shop', '--json')).stdout) as { service: string; state: string }[];
    expect(ps.map((t) => [t.service, t.state])).toEqual([
      ['shop_api', 'running'],
      ['shop_api', 'running'],
    ]);
    const removed = await cli('stack', 'rm', 'shop');
    expect(removed.stderr).toBe('');
    expect(removed.stdout).toBe('stack shop removed (1 services, 1 networks)\n');
    const nodes = JSON.parse((await cli('node', 'ls', '--json')).stdout) as { hostname: string; state: string }[];
    expect(nodes.map((n) => [n.hostname, n.state]).sort()).toEqual([
      ['h1', 'ready'],
      ['h2', 'ready'],
    ]);
    expect(cells((await cli('node', 'ls')).stdout).map((r) => [r[1], r[3]]).sort()).toEqual(nodes.map((n) => [n.hostname, n.state]).sort());
  });
});
