import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '@shoal/cli';
import { shoal } from './support/cli.js';
import { CoordinatorCluster } from './support/coordinators.js';
import { eventually } from './support/net.js';
import { testService } from './support/specs.js';

// Three coordinator PROCESSES (the built shoal-coordinator) on loopback, Raft over TCP, the API
// over a real nats-server. No agents and no lab: this is the control plane's own durability,
// consistency and membership. Ports: NATS 14271, Raft 17410 + member id.
const CLUSTER = 'coordt';
const FOUNDERS = [1, 2, 3];

interface ServiceRow {
  id: string;
  name: string;
  stack?: string;
  vips: { networkId: string; address: string }[];
}
interface NetworkRow {
  id: string;
  name: string;
  subnet?: string;
  vni?: number;
}
interface TaskRow {
  id: string;
  addresses: string[];
}

describe('three shoal-coordinator processes', () => {
  let dir = '';
  let c: CoordinatorCluster;
  const founder = (id: number): void => void c.spawn(id, ['--peers', c.members(FOUNDERS)]);
  const body = <T>(r: { ok: boolean; body?: unknown; error?: { code: string; message: string } }): T => {
    if (!r.ok) throw new Error(`API error ${r.error?.code}: ${r.error?.message}`);
    return r.body as T;
  };
  const others = (id: number, among = FOUNDERS): number[] => among.filter((x) => x !== id);
  const target = (): string[] => ['--nats', c.nats.url, '--cluster', CLUSTER];
  /** The roles `node ls` shows, by hostname. */
  const roles = async (): Promise<Record<string, string>> => Object.fromEntries(body<{ hostname: string; role: string }[]>(await c.api('node.ls', {})).map((n) => [n.hostname, n.role]));
  /** A host registering as its agent would (the coordinator on host cN is named cN). */
  const register = async (host: string, ip: number): Promise<void> => {
    const reg = { v: 1, kind: 'node.register', nodeId: `n-${host}`, hostname: host, address: `10.9.0.${ip}`, platform: { os: 'linux', arch: 'x64' }, resources: { nanoCpus: 1e9, memoryBytes: 1 << 30 }, engineLabels: {}, agentVersion: 'test', runningTasks: [] };
    // as an agent does, it tries again while no leader listens yet (a leader just elected starts
    // its dispatcher a moment after it wins: NATS answers "no responders" meanwhile)
    await eventually(`the leader to take ${host}'s registration`, async () => (await c.nc?.request(`shoal.${CLUSTER}.node.n-${host}.register`, new TextEncoder().encode(JSON.stringify(reg)), { timeout: 20_000 })) ?? undefined);
  };
  /** A coordinator that the leader refuses to add: it says why, and exits 1. */
  const refusedJoin = async (id: number, token: string): Promise<string> => {
    const child = c.spawn(id, ['--join', c.members(FOUNDERS), '--listen', c.endpoint(id), '--token', token]);
    const code = await new Promise<number | null>((r) => child.once('exit', (x) => r(x)));
    expect(code, c.output(id)).toBe(1);
    return c.output(id);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-coordt-'));
    c = new CoordinatorCluster(CLUSTER, 14271, 17410, (id) => join(dir, `c${id}`));
    await c.start();
    for (const id of FOUNDERS) founder(id);
  });

  afterAll(async () => {
    // each coordinator's log, for a failure to be read afterwards
    await mkdir('.test-results', { recursive: true });
    for (const id of c?.procs.keys() ?? []) await writeFile(`.test-results/coordinator-cluster-c${id}.log`, c.output(id)).catch(() => undefined);
    await c?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('elects one leader, and every member serves the API', async () => {
    const leader = await c.leader(FOUNDERS);
    expect(FOUNDERS).toContain(leader);
    for (const id of FOUNDERS) {
      const s = await eventually(`member ${id} serving`, async () => ((await c.status(id)).serving ? c.status(id) : undefined));
      expect(s.voters).toEqual(FOUNDERS);
      expect(body<{ index: number }>(await c.api('cluster.info', {}, id)).index).toBeGreaterThanOrEqual(0);
    }
  });

  it('reads through any coordinator see a write acknowledged through another one at once (ReadIndex)', async () => {
    const leader = await c.leader(FOUNDERS);
    const [a, b] = others(leader);
    if (a === undefined || b === undefined) throw new Error('three members expected');
    // followers both: the write goes a → leader, the read is answered from b's own store
    for (let i = 0; i < 15; i++) {
      const name = `rw${i}`;
      const spec = { name, driver: 'overlay' as const, driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} };
      body(await c.api('network.create', { spec }, i % 2 === 0 ? a : b));
      const seen = await c.api('network.inspect', { network: name }, i % 2 === 0 ? b : a);
      expect(seen.ok, `network ${name} read right after its write`).toBe(true);
    }
    // a member that lags (paused, here) when the read reaches it must catch up before answering
    for (let i = 0; i < 5; i++) {
      const name = `lag${i}`;
      const spec = { name, driver: 'overlay' as const, driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} };
      c.signal(b, 'SIGSTOP');
      try {
        body(await c.api('network.create', { spec }, leader));
        const read = c.api('network.inspect', { network: name }, b);
        await new Promise((r) => setTimeout(r, 100));
        c.signal(b, 'SIGCONT');
        expect((await read).ok, `network ${name} read on a member that lagged behind its write`).toBe(true);
      } finally {
        c.signal(b, 'SIGCONT');
      }
      body(await c.api('network.rm', { network: name }, leader));
    }
    for (let i = 0; i < 15; i++) body(await c.api('network.rm', { network: `rw${i}` }, a));
    expect(body<NetworkRow[]>(await c.api('network.ls', {}, b)).filter((n) => n.name.startsWith('rw'))).toEqual([]);
  });

  it('20 concurrent stack deploys leave a consistent store: no address, subnet, VNI or VIP handed out twice', async () => {
    const files = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const file = join(dir, `stack${i}.yml`);
        const yml = [
          'services:',
          '  web:',
          '    image: shoal/busybox',
          '    networks: [front, back]',
          '    deploy:',
          `      replicas: ${2 + (i % 3)}`,
          '  db:',
          '    image: shoal/busybox',
          '    networks: [back]',
          '    deploy:',
          '      replicas: 2',
          'networks:',
          '  front: {}',
          '  back: {}',
          '',
        ];
        await writeFile(file, yml.join('\n'));
        return file;
      }),
    );
    const target = ['--nats', c.nats.url, '--cluster', CLUSTER, '--detach'];
    const results = await Promise.all(files.map((f, i) => shoal(['stack', 'deploy', '-c', f, `s${i}`, ...target])));
    for (const [i, r] of results.entries()) expect(r.code, `stack s${i}: ${r.stderr}`).toBe(0);

    const wantTasks = Array.from({ length: 20 }, (_, i) => 2 + (i % 3) + 2).reduce((x, y) => x + y, 0);
    const { services, networks, tasks } = await eventually('every task and network allocated', async () => {
      const services = body<ServiceRow[]>(await c.api('service.ls', {}));
      const networks = body<NetworkRow[]>(await c.api('network.ls', {}));
      const tasks: TaskRow[] = [];
      for (const s of services) tasks.push(...body<TaskRow[]>(await c.api('service.ps', { service: s.id })));
      const done = services.length === 40 && networks.length === 40 && tasks.length === wantTasks && tasks.every((t) => t.addresses.length > 0) && networks.every((n) => n.subnet && n.vni) && services.every((s) => s.vips.length > 0);
      return done ? { services, networks, tasks } : undefined;
    }, 120_000);
    const subnets = networks.map((n) => n.subnet);
    expect(new Set(subnets).size).toBe(subnets.length);
    const vnis = networks.map((n) => n.vni);
    expect(new Set(vnis).size).toBe(vnis.length);
    // an address is unique within its network; networks never share a subnet, so across all of them
    const addresses = [...tasks.flatMap((t) => t.addresses), ...services.flatMap((s) => s.vips.map((v) => v.address))];
    expect(addresses.length).toBe(tasks.reduce((n, t) => n + t.addresses.length, 0) + services.reduce((n, s) => n + s.vips.length, 0));
    expect(new Set(addresses).size).toBe(addresses.length);
    // every stack complete, none mixed with another
    for (let i = 0; i < 20; i++) expect(services.filter((s) => s.stack === `s${i}`).map((s) => s.name).sort()).toEqual([`s${i}_db`, `s${i}_web`]);
  });

  it('kill -9 of the leader: writes succeed again through every other coordinator, and nothing committed is lost', async () => {
    const before = body<ServiceRow[]>(await c.api('service.ls', {})).map((s) => s.name).sort();
    const old = await c.leader(FOUNDERS);
    await c.kill(old, 'SIGKILL');
    const alive = others(old);
    for (const id of alive) {
      const spec = { name: `after-${old}-via-${id}`, driver: 'overlay' as const, driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} };
      // the write waits out the election inside the coordinator, or is retried here until then
      await eventually(`a write through member ${id}`, async () => ((await c.api('network.create', { spec }, id)).ok ? true : undefined), 60_000);
    }
    const leader = await c.leader(alive);
    expect(leader).not.toBe(old);
    for (const id of alive) expect(body<ServiceRow[]>(await c.api('service.ls', {}, id)).map((s) => s.name).sort()).toEqual(before);
    // the old leader comes back as a follower and catches up
    c.restart(old);
    const [s] = await c.converged(FOUNDERS);
    expect(s?.counts.services).toBe(before.length);
  });

  it('kill -9 of the leader with writes in flight: each is answered ok and applied exactly once, no leader_changed', async () => {
    const client = await ApiClient.open({ natsUrl: c.nats.url, cluster: CLUSTER });
    const nc = c.nc;
    if (!nc) throw new Error('not started');
    try {
      const old = await c.leader(FOUNDERS);
      const before = body<ServiceRow[]>(await c.api('service.ls', {})).length;
      const names = Array.from({ length: 24 }, (_, i) => `burst-${old}-${i}`);
      // the leader dies as the first of the burst is applied: the others are then at every
      // stage, not yet forwarded, proposed, committed but not answered, answered
      let killed: Promise<unknown> | undefined;
      const events = nc.subscribe(`shoal.${CLUSTER}.events`, {
        callback: (_err, m) => {
          if (!killed && new TextDecoder().decode(m.data).includes(`burst-${old}-`)) killed = c.kill(old, 'SIGKILL');
        },
      });
      const burst = names.map((name) => client.call('service.create', { spec: testService('x', name, 1, []).spec }).then((r) => r as { id: string }));
      // and a person's command, sent as the leader dies
      const cli = shoal(['service', 'create', '-d', '--name', `cli-${old}`, ...target(), 'shoal/busybox', 'sleep', '1d']);
      const answers = await Promise.all(burst);
      const printed = await cli;
      events.unsubscribe();
      await killed;
      expect(killed, 'the leader was killed during the burst').toBeDefined();
      expect(c.running(old)).toBe(false);
      expect(printed.stderr).not.toContain('leader');
      expect(printed.code, printed.stderr).toBe(0);

      const leader = await c.leader(others(old));
      const services = body<ServiceRow[]>(await c.api('service.ls', {}, leader));
      // exactly once: one service per request, under the id its answer gave
      for (const [i, name] of names.entries()) expect(services.filter((s) => s.name === name).map((s) => s.id), name).toEqual([answers[i]?.id]);
      expect(services.filter((s) => s.name === `cli-${old}`).map((s) => s.id)).toEqual([printed.stdout.trim()]);
      expect(services.length).toBe(before + names.length + 1);
      // the old leader comes back as a follower with the same store
      c.restart(old);
      const all = await c.converged(FOUNDERS);
      expect(new Set(all.map((s) => s.digest)).size).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('SIGTERM stops each member cleanly, and after all three restart every store is identical', async () => {
    const before = await c.converged(FOUNDERS);
    const names = body<ServiceRow[]>(await c.api('service.ls', {})).map((s) => s.name).sort();
    for (const id of FOUNDERS) {
      expect(await c.kill(id, 'SIGTERM')).toBe(0);
      expect(c.output(id)).toMatch(/"msg":"stopped"/);
    }
    for (const id of FOUNDERS) c.restart(id);
    await c.leader(FOUNDERS);
    const after = await c.converged(FOUNDERS);
    const digests = new Set(after.map((s) => s.digest));
    expect(digests.size).toBe(1);
    expect(after[0]?.counts).toEqual(before[0]?.counts);
    expect(after[0]?.storeIndex).toBe(before[0]?.storeIndex);
    expect(after[0]?.digest).toBe(before[0]?.digest);
    expect(body<ServiceRow[]>(await c.api('service.ls', {})).map((s) => s.name).sort()).toEqual(names);
  });

  it('a 4th coordinator joins with the manager token (learner, then voter once caught up), serves, is demoted to standby and removed; node ls shows its role', async () => {
    for (const id of [1, 2, 3, 4]) await register(`c${id}`, id);
    const printed = await shoal(['cluster', 'join-token', '-q', 'coordinator', ...target()]);
    expect(printed.code, printed.stderr).toBe(0);
    const token = printed.stdout.trim();
    expect(token).toMatch(/^SHOALTKN-1-m-[0-9a-f]{40}$/);
    const worker = (await shoal(['cluster', 'join-token', 'worker', ...target()])).stdout;
    expect(worker).toMatch(/worker join token[^]*SHOALTKN-1-w-/);
    const workerToken = /SHOALTKN-1-w-[0-9a-f]{40}/.exec(worker)?.[0] ?? '';
    // the worker token, or none at all, does not make a coordinator; nothing changes
    expect(await refusedJoin(5, workerToken)).toContain('that is the worker join token; joining as a coordinator needs the manager token');
    const none = c.spawn(6, ['--join', c.members(FOUNDERS), '--listen', c.endpoint(6)]);
    expect(await new Promise((r) => none.once('exit', r))).toBe(2);
    expect(c.output(6)).toContain("--join needs the cluster's manager join token");
    const leader = await c.leader(FOUNDERS);
    expect(await c.status(leader)).toMatchObject({ voters: FOUNDERS, standbys: [] });
    await eventually('the founders\' hosts managers', async () => {
      const r = await roles();
      return r.c1 === 'manager' && r.c2 === 'manager' && r.c3 === 'manager' && r.c4 === 'worker' ? true : undefined;
    });

    c.spawn(4, ['--join', c.members(FOUNDERS), '--listen', c.endpoint(4), '--token', token]);
    await eventually('member 4 a voter', async () => ((await c.status(leader)).voters.includes(4) ? true : undefined), 60_000);
    await eventually('node c4 a manager', async () => ((await roles()).c4 === 'manager' ? true : undefined));
    const four = await eventually('member 4 serving', async () => ((await c.status(4)).serving ? c.status(4) : undefined));
    expect(four.voters).toEqual([1, 2, 3, 4]);
    // it holds the whole store, and answers reads from it
    const all = await c.converged([...FOUNDERS, 4]);
    expect(new Set(all.map((s) => s.digest)).size).toBe(1);
    expect(body<ServiceRow[]>(await c.api('service.ls', {}, 4)).length).toBe(all[0]?.counts.services);

    const demoted = body<{ role: string }>(await c.api('node.demote', { node: 'c4' }));
    expect(demoted.role).toBe('standby');
    expect((await c.status(leader)).standbys).toEqual([4]);
    // the node's role follows at once, as the CLI shows it
    const ls = await shoal(['node', 'ls', '--json', ...target()]);
    expect((JSON.parse(ls.stdout) as { hostname: string; role: string }[]).find((n) => n.hostname === 'c4')?.role).toBe('worker');
    const removed = body<{ role: string }>(await c.api('node.demote', { node: '4' }));
    expect(removed.role).toBe('removed');
    const s = await c.status(leader);
    expect([s.voters, s.standbys]).toEqual([FOUNDERS, []]);
    await eventually('member 4 no longer serving', async () => ((await c.status(4)).serving ? undefined : true));
    // its id is not reused
    expect(await c.kill(4, 'SIGTERM')).toBe(0);
    const again = await c.api('node.promote', { node: '4' });
    expect(again.ok ? undefined : again.error.code).toBe('not_a_coordinator');

    // rotated, the old token no longer admits anyone; the new one is printed
    const rotated = await shoal(['cluster', 'join-token', '--rotate', 'coordinator', ...target()]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain('Rotated the coordinator join token');
    const fresh = /SHOALTKN-1-m-[0-9a-f]{40}/.exec(rotated.stdout)?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(token);
    expect((await shoal(['cluster', 'join-token', '-q', 'manager', ...target()])).stdout.trim()).toBe(fresh);
    expect((await shoal(['cluster', 'join-token', '-q', 'worker', ...target()])).stdout.trim()).toBe(workerToken);
    expect(await refusedJoin(5, token)).toContain("the manager join token is not this cluster's (or it was rotated)");
    const bad = await shoal(['cluster', 'join-token', 'boss', ...target()]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected worker or coordinator, got "boss"');
  });

  it('demote is refused when too few voters would be left up; the demoted leader hands over first; promote makes it a voter again', async () => {
    const leader = await c.leader(FOUNDERS);
    const [a, b] = others(leader);
    if (a === undefined || b === undefined) throw new Error('three members expected');
    await c.kill(b, 'SIGKILL');
    const refused = await c.api('node.demote', { node: String(a) });
    expect(refused.ok ? undefined : refused.error.code).toBe('quorum_at_risk');
    expect(refused.ok ? '' : refused.error.message).toContain('only 1 is up');
    expect((await c.status(leader)).voters).toEqual(FOUNDERS);
    c.restart(b);
    await c.converged(FOUNDERS);

    // the leader itself: the lead moves, then the new leader makes it a standby
    const r = body<{ role: string }>(await c.api('node.demote', { node: `c${leader}` }));
    expect(r.role).toBe('standby');
    const next = await c.leader(others(leader));
    expect(next).not.toBe(leader);
    expect((await c.status(next)).standbys).toEqual([leader]);
    await eventually(`c${leader} to show as a worker`, async () => ((await roles())[`c${leader}`] === 'worker' ? true : undefined), 10_000);
    const p = body<{ role: string; changed: boolean }>(await c.api('node.promote', { node: `c${leader}` }));
    expect(p).toMatchObject({ role: 'voter', changed: true });
    expect((await c.status(next)).voters).toEqual(FOUNDERS);
    const ls = await shoal(['node', 'ls', ...target()]);
    const row = ls.stdout.split('\n').find((l) => l.includes(` c${leader} `)) ?? '';
    expect(row, ls.stdout).toMatch(/\smanager\s/);
  });

  it('hostile API messages get a clear error and the coordinators keep serving', async () => {
    const garbage = await c.raw('service.ls', new TextEncoder().encode('{"not json'));
    expect(garbage.ok ? undefined : garbage.error.code).toBe('bad_message');
    const huge = await c.raw('service.create', new TextEncoder().encode(JSON.stringify({ v: 1, kind: 'api.request', id: 'x', verb: 'service.create', body: { spec: { name: 'x'.repeat(100_000) } } })));
    expect(huge.ok).toBe(false);
    const million = await c.api('service.scale', { service: 's0_web', replicas: 1_000_000 });
    expect(million.ok ? undefined : million.error.code).toBe('bad_message');
    expect(body<ServiceRow[]>(await c.api('service.ls', {})).length).toBeGreaterThan(0);
  });
});
