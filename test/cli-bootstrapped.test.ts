import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
