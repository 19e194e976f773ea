import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { ApiClient, CONNECT_TIMEOUT_MS, buildProgram, clusterTarget, main } from '@shoal/cli';
import { Lab } from '@shoal/lab';
import { Workspace, pids, show } from './support/bootstrap.js';
import { SHOAL_BIN, type CliResult } from './support/cli.js';
import { requireLabMachine } from './support/machine.js';
import { eventually } from './support/net.js';

// The `shoal` CLI as a new user meets it: a cluster made by `cluster bootstrap` over real SSH,
// with its real per-node NATS users, and every command run against it. Each case asserts on what
// the command prints (rows, lines, ids): exiting 0 with nothing to show where the cluster holds
// data is a failure here.
const LAB = process.env.SHOAL_TEST_LAB ?? 'clib';

/**
 * Every command of the CLI, each either run by a case below against the bootstrapped cluster or
 * set aside here with the reason. A command added to the CLI without a line here fails the
 * first test.
 */
const COVERED = [
  'cluster bootstrap',
  'cluster status',
  'cluster join-token',
  'node ls',
  'node inspect',
  'node update',
  'network create',
  'network ls',
  'network inspect',
  'network connect',
  'network disconnect',
  'network rm',
  'service create',
  'service ls',
  'service ps',
  'service inspect',
  'service scale',
  'service update',
  'service logs',
  'service rm',
  'stack deploy',
  'stack ls',
  'stack ps',
  'stack services',
  'stack rm',
  'events',
];
const ELSEWHERE: Record<string, string> = {
  'cluster add-host': 'test/bootstrap.test.ts removes a worker and adds it back over SSH',
  'cluster remove-host': 'test/bootstrap.test.ts removes a worker and adds it back over SSH',
  'node promote': 'changes the Raft membership: test/coordinator-cluster.test.ts',
  'node demote': 'changes the Raft membership: test/coordinator-cluster.test.ts',
  'node rm': 'needs a host taken away: test/cli-cluster.test.ts',
  watch: 'a full-screen view driven through a pseudo-terminal: test/cli-cluster.test.ts',
  ...Object.fromEntries(['up', 'down', 'ls', 'status', 'ssh-config', 'exec', 'cut', 'heal', 'partition', 'kill', 'revive'].map((v) => [`lab ${v}`, 'the lab itself, not a cluster: test/lab.test.ts'])),
};

/** The CLI's commands that do something (leaves of the tree), as `group verb`. */
function cliCommands(): string[] {
  const out: string[] = [];
  const walk = (cmd: Command, path: string[]): void => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      if (sub.commands.length === 0) out.push(p.join(' '));
      else walk(sub, p);
    }
  };
  walk(buildProgram({ out: () => undefined, err: () => undefined }, () => undefined), []);
  return out.sort();
}

describe('the CLI suite covers every command', () => {
  it('has a case (or a stated reason) for every command of the CLI', () => {
    expect(cliCommands()).toEqual([...COVERED, ...Object.keys(ELSEWHERE)].sort());
  });

  it('gives every command a --help with examples', async () => {
    for (const c of cliCommands()) {
      let out = '';
      const code = await main([...c.split(' '), '--help'], { out: (t) => void (out += t), err: (t) => void (out += t) });
      expect(code, c).toBe(0);
      expect(out, c).toMatch(/\nExamples:\n {2}shoal /);
    }
  });
});
const TALK = 'echo start-$HOSTNAME; trap "exit 0" TERM; (i=0; while true; do echo tick-$i; i=$((i+1)); sleep 1; done) & wait';

describe('every command on a cluster made by cluster bootstrap', () => {
  let lab: Lab;
  let ws: Workspace;
  const cli = (...args: string[]): Promise<CliResult> => ws.cli(args);
  const ok = async (...args: string[]): Promise<CliResult> => {
    const r = await cli(...args);
    expect(r.code, `shoal ${args.join(' ')}\n${show(r)}`).toBe(0);
    return r;
  };

  beforeAll(async () => {
    await requireLabMachine();
    await Lab.down(LAB);
    lab = await Lab.up({ name: LAB, hosts: 3 });
    ws = new Workspace(lab);
    await ws.init();
    const inv = await ws.inventory('hosts.yaml', 'tour', [
      { name: 'h1', role: 'coordinator' },
      { name: 'h2', role: 'coordinator' },
      { name: 'h3', role: 'coordinator' },
    ]);
    const r = await ws.bootstrap(inv, '--accept-new-host-keys');
    expect(r.code, show(r)).toBe(0);
  });

  afterAll(async () => {
    await Lab.down(LAB);
    if (ws?.dir) await rm(ws.dir, { recursive: true, force: true });
  });

  /** A table's rows as arrays of cells (its header dropped); cells never hold two spaces, an empty one is left out. */
  const cells = (table: string): string[][] =>
    table
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/ {2,}/));
  const clusterStatus = async (): Promise<{ leader: string; term: number; members: { id: number; name: string; reachability: string; applied?: number }[] }> => JSON.parse((await ok('cluster', 'status', '--json')).stdout) as never;

  describe('the coordinators and the hosts', () => {
    it('node ls shows every host with the MANAGER STATUS of its coordinator: one Leader, the others Reachable', async () => {
      const rows = await eventually('every coordinator reachable', async () => {
        const r = cells((await ok('node', 'ls')).stdout);
        return r.filter((c) => c[6] === 'Reachable').length === 2 ? r : undefined;
      }, 30_000);
      expect(rows.map((r) => [r[1], r[3], r[5]]).sort()).toEqual([
        ['h1', 'ready', 'manager'],
        ['h2', 'ready', 'manager'],
        ['h3', 'ready', 'manager'],
      ]);
      expect(rows.filter((r) => r[6] === 'Leader')).toHaveLength(1);
      const json = JSON.parse((await ok('node', 'ls', '--json')).stdout) as { id: string; hostname: string; managerStatus: string }[];
      expect(json.map((n) => n.managerStatus).sort()).toEqual(['Leader', 'Reachable', 'Reachable']);
      expect((await ok('node', 'ls', '-q')).stdout.trim().split('\n').sort()).toEqual(json.map((n) => n.id).sort());
    });

    it('cluster status prints the members, the leader, the term and each member\'s applied index', async () => {
      const r = await ok('cluster', 'status');
      const s = await clusterStatus();
      const leader = s.members.find((m) => m.reachability === 'leader');
      expect(r.stdout).toMatch(new RegExp(`^leader: ${leader?.name} \\(member ${leader?.id}\\), term ${s.term}, store index \\d+$`, 'm'));
      const rows = cells(r.stdout.split('\n\n')[1] ?? '');
      expect(rows.map((c) => [c[1], c[2]]).sort()).toEqual([
        ['h1', 'voter'],
        ['h2', 'voter'],
        ['h3', 'voter'],
      ]);
      for (const c of rows) {
        expect(c[3]).toMatch(/^(leader|reachable)$/);
        expect(Number(c[4])).toBe(s.term);
        expect(Number(c[6])).toBeGreaterThan(0);
      }
    });

    it('names a coordinator that is gone Unreachable in node ls and "no answer" in cluster status; Reachable once bootstrap starts it again', async () => {
      const s = await clusterStatus();
      const name = s.members.find((m) => m.reachability === 'reachable')?.name ?? '';
      const p = await pids(lab, name);
      // its supervisor first, or it would start the coordinator again at once
      for (const f of ['coordinator.supervisor.pid', 'coordinator.pid']) {
        expect(p[f], f).toMatch(/^\d+$/);
        await lab.exec(name, ['kill', '-KILL', p[f] ?? '']);
      }
      await eventually(`${name} Unreachable`, async () => (cells((await ok('node', 'ls')).stdout).find((c) => c[1] === name)?.[6] === 'Unreachable' ? true : undefined), 30_000);
      const row = cells((await ok('cluster', 'status')).stdout.split('\n\n')[1] ?? '').find((c) => c[1] === name);
      expect(row?.slice(3)).toEqual(['unreachable', '-', '-', 'no answer']);
      const again = await ws.bootstrap(join(ws.dir, 'hosts.yaml'));
      expect(again.code, show(again)).toBe(0);
      await eventually(`${name} Reachable again`, async () => (cells((await ok('node', 'ls')).stdout).find((c) => c[1] === name)?.[6] === 'Reachable' ? true : undefined), 30_000);
    });
  });

  describe('service logs, under the agents\' own NATS users', () => {
    beforeAll(async () => {
      await ok('service', 'create', '--name', 'talker', '--replicas', '3', '--max-replicas-per-node', '1', 'shoal/busybox', 'sh', '-c', TALK);
      await ok('service', 'create', '--name', 'echo', '--replicas', '1', 'shoal/busybox', 'sh', '-c', 'echo echo-was-here; exec sleep 1000000');
    });

    it('prints every task\'s lines, prefixed with its task and node, and takes --tail and --since', async () => {
      const tasks = JSON.parse((await ok('service', 'ps', 'talker', '--json')).stdout) as { id: string; slot: number; node: string }[];
      expect(tasks.map((t) => t.node).sort()).toEqual(['h1', 'h2', 'h3']);
      const all = await eventually('a tick from every task', async () => {
        const r = await ok('service', 'logs', 'talker');
        return tasks.every((t) => r.stdout.includes(`talker.${t.slot}.${t.id.slice(0, 12)}@${t.node}    | tick-1\n`)) ? r : undefined;
      }, 30_000);
      for (const t of tasks) expect(all.stdout).toMatch(new RegExp(`^talker\\.${t.slot}\\.${t.id.slice(0, 12)}@${t.node} {4}\\| start-`, 'm'));
      expect(all.stderr).toBe('');

      const tail = await ok('service', 'logs', '--tail', '1', '--no-task-ids', 'talker');
      const lines = tail.stdout.trim().split('\n');
      expect(lines.map((l) => l.split(' ')[0]).sort()).toEqual(tasks.map((t) => `talker.${t.slot}@${t.node}`).sort());
      for (const l of lines) expect(l).toMatch(/^talker\.\d@h\d {4}\| tick-\d+$/);

      // nothing was written in the future; a minute back holds the last ticks
      const none = await ok('service', 'logs', '--since', new Date(Date.now() + 60_000).toISOString(), 'talker');
      expect(none.stdout).toBe('');
      expect((await ok('service', 'logs', '--since', '1m', 'talker')).stdout).toMatch(/tick-\d+\n/);
    });

    it('prints several services at once', async () => {
      const r = await ok('service', 'logs', 'talker', 'echo');
      expect(r.stdout).toMatch(/^echo\.1\.[0-9a-z]+@h\d {4}\| echo-was-here$/m);
      expect(r.stdout).toMatch(/^talker\.1\.[0-9a-z]+@h\d {4}\| tick-/m);
    });

    it('follows new lines until interrupted', async () => {
      const follow = spawn(process.execPath, [SHOAL_BIN, 'service', 'logs', '-f', '--tail', '0', 'talker'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ws.env } });
      let out = '';
      follow.stdout.on('data', (b: Buffer) => (out += b.toString()));
      try {
        // lines from all three hosts, each an agent answering under its own user
        await eventually('new lines from every node', () => (['h1', 'h2', 'h3'].every((h) => new RegExp(`@${h} {4}\\| tick-\\d+`).test(out)) ? true : undefined), 30_000);
      } finally {
        const exited = new Promise<number | null>((r) => follow.once('exit', r));
        follow.kill('SIGINT');
        expect(await exited).toBe(0);
      }
    });

    it('node ls --wide and node inspect show each host\'s load: CPU, memory and its running containers', async () => {
      const running = async (h: string): Promise<number> => Number((await lab.exec(h, ['sh', '-c', 'docker ps -q -f label=io.shoal.task.id | wc -l'])).stdout.trim());
      const wide = await eventually('the container counts of every host', async () => {
        const rows = cells((await ok('node', 'ls', '--wide')).stdout);
        for (const h of ['h1', 'h2', 'h3']) if (rows.find((r) => r[1] === h)?.[10] !== String(await running(h))) return undefined;
        return rows;
      }, 30_000);
      expect(wide.map((r) => r[10]).reduce((a, b) => a + Number(b), 0)).toBe(4); // three talkers and one echo
      for (const r of wide) {
        expect(r[7]).toMatch(/^\d+\.\ds ago$/);
        expect(r[8]).toMatch(/^\d+%$/);
        expect(r[9]).toMatch(/^\d+\.\dG\/\d+\.\dG$/);
      }
      const h2 = JSON.parse((await ok('node', 'inspect', 'h2')).stdout) as { hostname: string; managerStatus: string; load: { cpuPercent: number; memoryUsedBytes: number; memoryTotalBytes: number; containers: number } };
      expect(h2.hostname).toBe('h2');
      expect(h2.managerStatus).toMatch(/^(Leader|Reachable)$/);
      expect(h2.load.memoryTotalBytes).toBeGreaterThan(h2.load.memoryUsedBytes);
      expect(h2.load.memoryUsedBytes).toBeGreaterThan(0);
      expect(h2.load.containers).toBe(await running('h2'));
    });

    it('names a node whose agent does not answer and exits 1, while the other nodes\' lines print', async () => {
      const agent = (await pids(lab, 'h3'))['agent.pid'];
      expect(agent).toMatch(/^\d+$/);
      const h3 = (JSON.parse((await ok('service', 'ps', 'talker', '--json')).stdout) as { id: string; slot: number; node: string }[]).find((t) => t.node === 'h3');
      await lab.exec('h3', ['kill', '-STOP', agent ?? '']);
      try {
        const r = await cli('service', 'logs', '--tail', '2', 'talker');
        expect(r.code, show(r)).toBe(1);
        expect(r.stdout).toMatch(/@h1 {4}\| tick-/);
        expect(r.stdout).toMatch(/@h2 {4}\| tick-/);
        expect(r.stdout).not.toContain('@h3');
        expect(r.stderr).toContain(`error: no logs from node h3 (talker.${h3?.slot}.${h3?.id.slice(0, 12)}@h3): its agent did not answer — check the node with shoal node ls`);
      } finally {
        await lab.exec('h3', ['kill', '-CONT', agent ?? '']);
      }
    });
  });

  describe('task errors and the rest of the commands', () => {
    it('a task whose command exits while it is wired reports its exit code and last line, not a kernel error', async () => {
      await ok('network', 'create', 'quitnet');
      await ok('service', 'create', '-d', '--name', 'quitter', '--network', 'quitnet', 'shoal/busybox', 'sh', '-c', 'echo bye-now; exit 3');
      const failed = await eventually('a failed task', async () => {
        const rows = JSON.parse((await ok('service', 'ps', 'quitter', '--json')).stdout) as { state: string; err?: string }[];
        return rows.find((r) => r.state === 'failed');
      }, 60_000);
      expect(failed.err).toBe('task: non-zero exit (3): bye-now');
      const table = (await ok('service', 'ps', 'quitter')).stdout;
      expect(table).toMatch(/failed +task: non-zero exit \(3\): bye-now/);
      expect(table).not.toContain('RTNETLINK');
      await ok('service', 'rm', 'quitter');
      await ok('network', 'rm', 'quitnet');
    });

    it('networks: create, ls, inspect, connect and disconnect a service', async () => {
      const id = (await ok('network', 'create', '--subnet', '10.77.0.0/24', '--label', 'tier=back', 'back')).stdout.trim();
      expect(id).toMatch(/^[0-9a-z]+$/);
      const ls = JSON.parse((await ok('network', 'ls', '--json')).stdout) as { id: string; name: string; subnet: string }[];
      expect(ls.find((n) => n.name === 'back')).toMatchObject({ id, subnet: '10.77.0.0/24' });
      expect(cells((await ok('network', 'ls')).stdout).some((r) => r[1] === 'back')).toBe(true);
      const inspect = JSON.parse((await ok('network', 'inspect', 'back')).stdout) as { spec: { labels: Record<string, string> } };
      expect(inspect.spec.labels).toEqual({ tier: 'back' });
      await ok('network', 'connect', '--alias', 'chatty', 'back', 'echo');
      const svc = JSON.parse((await ok('service', 'inspect', 'echo')).stdout) as { spec: { networks: { target: string; aliases: string[] }[] } };
      expect(svc.spec.networks).toEqual([{ target: 'back', aliases: ['chatty'] }]);
      await ok('network', 'disconnect', 'back', 'echo');
      expect((JSON.parse((await ok('service', 'inspect', 'echo')).stdout) as { spec: { networks: unknown[] } }).spec.networks).toEqual([]);
    });

    it('services: ls, inspect, scale, update, rm; then the network they used goes', async () => {
      const ls = JSON.parse((await ok('service', 'ls', '--json')).stdout) as { name: string; running: number; desired: number }[];
      expect(ls.find((r) => r.name === 'talker')).toMatchObject({ desired: 3 });
      expect(cells((await ok('service', 'ls')).stdout).map((r) => r[1]).sort()).toEqual(ls.map((r) => r.name).sort());
      await ok('service', 'scale', 'echo=2');
      expect((JSON.parse((await ok('service', 'ps', 'echo', '--json')).stdout) as { state: string }[]).filter((t) => t.state === 'running')).toHaveLength(2);
      const updated = await ok('service', 'update', '--env-add', 'GREETING=hi', 'echo');
      expect(updated.stdout + updated.stderr).toContain('echo');
      expect((JSON.parse((await ok('service', 'inspect', 'echo')).stdout) as { spec: { container: { env: Record<string, string> } } }).spec.container.env).toEqual({ GREETING: 'hi' });
      await ok('service', 'rm', 'echo');
      const gone = await cli('service', 'inspect', 'echo');
      expect(gone.code).toBe(1);
      expect(gone.stderr).toBe('error: there is no service echo — see shoal service ls\n');
      // echo's old tasks were on it: the network goes once they are gone with the service
      expect((await ok('network', 'rm', 'back')).stdout).toBe('back\n');
      expect((JSON.parse((await ok('network', 'ls', '--json')).stdout) as { name: string }[]).map((n) => n.name)).not.toContain('back');
    });

    it('stacks: deploy, ls, ps, services, rm', async () => {
      const file = join(ws.dir, 'stack.yml');
      await writeFile(file, `services:\n  api:\n    image: shoal/busybox\n    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]\n    deploy: { replicas: 2 }\n`);
      await ok('stack', 'deploy', '-c', file, 'shop');
      expect(cells((await ok('stack', 'ls')).stdout)).toEqual([['shop', '1']]);
      const ps = JSON.parse((await ok('stack', 'ps', 'shop', '--json')).stdout) as { service: string; state: string }[];
      expect(ps.map((t) => `${t.service}:${t.state}`)).toEqual(['shop_api:running', 'shop_api:running']);
      const services = JSON.parse((await ok('stack', 'services', 'shop', '--json')).stdout) as { name: string; running: number }[];
      expect(services.map((x) => [x.name, x.running])).toEqual([['shop_api', 2]]);
      await ok('stack', 'rm', 'shop');
      expect(JSON.parse((await ok('stack', 'ls', '--json')).stdout)).toEqual([]);
    });

    it('node update, join-token and events', async () => {
      expect((await ok('node', 'update', '--label-add', 'zone=eu', 'h2')).stdout).toBe('h2\n');
      expect((JSON.parse((await ok('node', 'inspect', 'h2')).stdout) as { spec: { labels: Record<string, string> } }).spec.labels).toMatchObject({ zone: 'eu' });
      expect((await ok('cluster', 'join-token', '-q', 'worker')).stdout).toMatch(/^SHOALTKN-1-w-\S+\n$/);
      // events follows until stopped: the replay of the last 10 minutes holds h2's label change
      const events = spawn(process.execPath, [SHOAL_BIN, 'events', '--since', '10m', '--json', '--filter', 'type=node'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...ws.env } });
      let lines = '';
      events.stdout.on('data', (b: Buffer) => (lines += b.toString()));
      try {
        await eventually('h2 in the events', () => (lines.split('\n').some((l) => l.includes('"name":"h2"') && l.includes('"object":"node"')) ? true : undefined), 30_000);
      } finally {
        const exited = new Promise((r) => events.once('exit', r));
        events.kill('SIGTERM');
        await exited;
      }
    });

    it('reaches the cluster through the context\'s other NATS servers within 1.5 s and a little when one host is cut off', async () => {
      const s = await clusterStatus();
      const cut = s.members.find((m) => m.reachability === 'reachable')?.name ?? '';
      const live = lab.state.hosts.filter((h) => h.name !== cut).map((h) => `nats://${h.address}:4222`);
      const dead = `nats://${lab.host(cut).address}:4222`;
      const target = await clusterTarget({}, ws.env);
      await lab.cut(cut);
      try {
        // alone, the cut host's server is given up on after one short dial
        const start = Date.now();
        await expect(ApiClient.open({ ...target, natsUrl: dead })).rejects.toMatchObject({ code: 'unreachable' });
        expect(Date.now() - start).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 100);
        expect(Date.now() - start).toBeLessThan(CONNECT_TIMEOUT_MS + 1000);
        // among the others, in whatever order they are drawn, it costs at most that dial
        for (let i = 0; i < 4; i++) {
          const start = Date.now();
          const c = await ApiClient.open({ ...target, natsUrl: [dead, ...live].join(',') });
          const took = Date.now() - start;
          await c.close();
          expect(took).toBeLessThan(CONNECT_TIMEOUT_MS + 1000);
        }
      } finally {
        await lab.heal([cut]);
      }
    });
  });
});
