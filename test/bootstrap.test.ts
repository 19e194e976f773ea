import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteHost, SshSession, loadConfig, loadInventory, targetOf } from '@shoal/cli';
import { Lab, run } from '@shoal/lab';
import { Workspace, fileExists, pids, show, type HostLine } from './support/bootstrap.js';
import { requireLabMachine } from './support/machine.js';
import { eventually } from './support/net.js';

// `shoal cluster bootstrap` over real SSH to the lab's sshd, as it would reach real servers:
// the real binary, real host keys and known_hosts, the daemons started on the hosts by it.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STACK = join(ROOT, 'examples/stack.yml');

const LABELS: Record<string, Record<string, string>> = { h1: { tier: 'web' }, h2: { tier: 'app' }, h3: { tier: 'web', db: 'true' } };
const oneCoordinator = (h3Key?: string): HostLine[] => [
  { name: 'h1', role: 'coordinator', labels: LABELS.h1 },
  { name: 'h2', role: 'worker', labels: LABELS.h2 },
  { name: 'h3', role: 'worker', labels: LABELS.h3, ...(h3Key ? { identityFile: h3Key } : {}) },
];

describe('shoal cluster bootstrap: one coordinator and two workers over SSH', () => {
  let lab: Lab;
  let ws: Workspace;

  beforeAll(async () => {
    await requireLabMachine();
    await Lab.down('boot');
    lab = await Lab.up({ name: 'boot', hosts: 3, subnet: '192.168.232.0/24' });
    ws = new Workspace(lab);
    await ws.init();
  });

  afterAll(async () => {
    // kept for whoever debugs a failure
    for (const h of ['h1', 'h2', 'h3']) {
      const logs = await lab?.exec(h, ['sh', '-c', 'tail -n 200 /var/lib/shoal/log/*.log 2>/dev/null; true']).catch(() => undefined);
      if (logs) await writeFile(join(ROOT, '.test-results', `bootstrap-${h}.log`), logs.stdout).catch(() => undefined);
    }
    await Lab.down('boot');
    if (ws?.dir) await rm(ws.dir, { recursive: true, force: true });
  });

  it('refuses an inventory with a typo before any SSH connection, naming the line and key', async () => {
    const inv = await ws.inventory('typo.yaml', 'shop', oneCoordinator());
    await writeFile(inv, (await readFile(inv, 'utf8')).replace('    role: worker', '    rolle: worker'));
    const r = await ws.bootstrap(inv, '--accept-new-host-keys');
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toMatch(/error: .*typo\.yaml:\d+: hosts\[1\]\.rolle: unknown key "rolle" — the keys here are name, address, role/);
    expect(r.stderr).not.toContain('connecting');
    // no connection, so not even a host key was recorded
    expect(await readFile(ws.knownHosts, 'utf8')).toBe('');
    expect(await fileExists(lab, 'h1', '/etc/shoal/cluster.json')).toBe(false);
  });

  it('refuses hosts whose key is not in known_hosts without --accept-new-host-keys, and changes nothing', async () => {
    const inv = await ws.inventory('hosts.yaml', 'shop', oneCoordinator());
    const r = await ws.bootstrap(inv);
    expect(r.code, show(r)).toBe(1);
    for (const h of lab.state.hosts) {
      expect(r.stderr).toContain(`${h.name}: failed: the host key of ${h.name} (${h.address}) is unknown (ssh-ed25519 SHA256:`);
      expect(await fileExists(lab, h.name, '/etc/shoal/cluster.json')).toBe(false);
    }
    expect(r.stderr).toContain('--accept-new-host-keys');
    expect(await readFile(ws.knownHosts, 'utf8')).toBe('');
  });

  it('names a host whose SSH key is refused while the others come up; fixing the key and running again completes it', async () => {
    const wrong = join(ws.dir, 'wrong_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const broken = await ws.inventory('broken.yaml', 'shop', oneCoordinator(wrong));
    const r = await ws.bootstrap(broken, '--accept-new-host-keys');
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`h3: failed: h3 (root@192.168.232.13:22) refused the SSH key (tried ${wrong})`);
    expect(r.stderr).toMatch(/error: 1 of 3 hosts failed/);
    expect(r.stdout).toMatch(/^h1 +h1 +192\.168\.232\.11 +coordinator +ready/m);
    expect(r.stdout).toMatch(/^h2 +h2 +192\.168\.232\.12 +worker +ready/m);
    // the keys were accepted and recorded, hashed: three hosts, no address in clear
    const known = (await readFile(ws.knownHosts, 'utf8')).trim().split('\n');
    expect(known).toHaveLength(3);
    expect(known.join('\n')).not.toContain('192.168.232');

    const fixed = await ws.inventory('hosts.yaml', 'shop', oneCoordinator());
    const again = await ws.bootstrap(fixed);
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toMatch(/^h1: unchanged \(/m);
    expect(again.stderr).toMatch(/^h2: unchanged \(/m);
    expect(again.stderr).toMatch(/^h3: Shoal uploaded, 3 files written, agent started \(/m);
    expect(again.stdout).toMatch(/^h3 +h3 +192\.168\.232\.13 +worker +ready/m);
    expect(again.stdout).toMatch(/^Finished in \d+\.\d s$/m);
    // the context is saved (0600, with the admin user), so later commands need no flags
    const config = await loadConfig(ws.env.SHOAL_CONFIG);
    expect(config.current).toBe('shop');
    expect(config.contexts[0]).toMatchObject({ cluster: 'shop', nats: ['nats://192.168.232.11:4222'], user: 'admin' });
  });

  it('deploys the example stack: every task runs, and names resolve across hosts', async () => {
    const r = await ws.cli(['stack', 'deploy', '-c', STACK, 'shop', '--timeout', '180']);
    expect(r.code, show(r)).toBe(0);
    const tasks = await ws.api((c) => c.call('stack.ps', { stack: 'shop' }) as Promise<{ service: string; node?: string; desired: string; state: string }[]>);
    const wanted = tasks.filter((t) => t.desired === 'running');
    expect(wanted.map((t) => t.service).sort()).toEqual(['shop_db', 'shop_web', 'shop_web', 'shop_worker', 'shop_worker']);
    expect(wanted.every((t) => t.state === 'running'), JSON.stringify(tasks)).toBe(true);
    // the placement the example asks for, from the inventory's labels
    expect(wanted.filter((t) => t.service === 'shop_web').map((t) => t.node).sort()).toEqual(['h1', 'h3']);
    expect(wanted.filter((t) => t.service === 'shop_worker').map((t) => t.node)).toEqual(['h2', 'h2']);

    // from a worker's container on h2, the web service's name answers with a web container on h1 or h3
    const webIds = [...(await lab.exec('h1', ['docker', 'ps', '-q', '-f', 'label=io.shoal.service.name=shop_web'])).stdout.split('\n'), ...(await lab.exec('h3', ['docker', 'ps', '-q', '-f', 'label=io.shoal.service.name=shop_web'])).stdout.split('\n')].filter(Boolean);
    const inWorker = async (cmd: string): Promise<string> =>
      (await lab.exec('h2', ['sh', '-c', `docker exec $(docker ps -q -f label=io.shoal.service.name=shop_worker | head -1) sh -c '${cmd}'`], { timeoutMs: 30_000 })).stdout.trim();
    // a task reports running once started; its resolver and VIP follow the next assignment
    const answer = await eventually('web to answer from h2', async () => {
      const a = await inWorker('wget -q -O - http://web');
      return a === '' ? undefined : a;
    }, 60_000);
    expect(webIds).toContain(answer);
    // and the database's alias on the back network reaches its container on h3
    const dbId = (await lab.exec('h3', ['docker', 'ps', '-q', '-f', 'label=io.shoal.service.name=shop_db'])).stdout.trim();
    expect(await eventually('the database to answer from h2', async () => (await inWorker('nc -w 3 database 5432')) || undefined, 60_000)).toBe(dbId);
    // the published port answers on the hosts the web tier runs on
    const page = await (await fetch('http://192.168.232.13:8080')).text();
    expect(webIds).toContain(page.trim());
  });

  it('changes nothing when run again: every host says unchanged and the daemons keep their pids', async () => {
    const before = { h1: await pids(lab, 'h1'), h2: await pids(lab, 'h2'), h3: await pids(lab, 'h3') };
    expect(Object.keys(before.h1).sort()).toEqual(['agent.pid', 'agent.supervisor.pid', 'coordinator.pid', 'coordinator.supervisor.pid', 'nats.pid', 'nats.supervisor.pid']);
    expect(Object.keys(before.h2).sort()).toEqual(['agent.pid', 'agent.supervisor.pid']);
    const r = await ws.bootstrap(join(ws.dir, 'hosts.yaml'), '--json');
    expect(r.code, show(r)).toBe(0);
    for (const h of ['h1', 'h2', 'h3']) expect(r.stderr).toMatch(new RegExp(`^${h}: unchanged \\(`, 'm'));
    // --json says the same as the lines and the table
    const out = JSON.parse(r.stdout) as { hosts: { name: string; result: string }[]; nodes: { id: string; state: string }[] };
    expect(out.hosts.map((h) => `${h.name}:${h.result}`)).toEqual(['h1:unchanged', 'h2:unchanged', 'h3:unchanged']);
    expect(out.nodes.map((n) => `${n.id}:${n.state}`).sort()).toEqual(['h1:ready', 'h2:ready', 'h3:ready']);
    expect({ h1: await pids(lab, 'h1'), h2: await pids(lab, 'h2'), h3: await pids(lab, 'h3') }).toEqual(before);
  });

  it('names a host whose Docker is missing while the others go on; a re-run once Docker is back completes', async () => {
    const sock = '/var/run/docker.sock';
    await lab.exec('h3', ['mv', sock, `${sock}.away`]);
    try {
      const r = await ws.bootstrap(join(ws.dir, 'hosts.yaml'));
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain('h3: failed: h3: Docker is not reachable (no socket at /var/run/docker.sock) — install Docker and start dockerd');
      expect(r.stderr).toMatch(/^h1: unchanged \(/m);
    } finally {
      await lab.exec('h3', ['mv', `${sock}.away`, sock]);
    }
    const again = await ws.bootstrap(join(ws.dir, 'hosts.yaml'));
    expect(again.code, show(again)).toBe(0);
    expect(again.stderr).toMatch(/^h3: unchanged \(/m);
  });

  it('never puts a file cut short on the way in place (what a dropped connection leaves)', async () => {
    const l = await loadInventory(join(ws.dir, 'hosts.yaml'));
    const h3 = l.inv.hosts.find((h) => h.name === 'h3');
    if (!h3) throw new Error('no h3 in the inventory');
    const ssh = await SshSession.open(targetOf(l, h3, ws.env), { acceptNewHostKeys: false });
    try {
      const host = new RemoteHost('h3', ssh);
      const whole = Buffer.alloc(4 << 20, 'x');
      const hash = createHash('sha256').update(whole).digest('hex');
      await host.writeFile('/var/lib/shoal/cut-short', 'old\n', 0o644, createHash('sha256').update('old\n').digest('hex'));
      await expect(host.writeFile('/var/lib/shoal/cut-short', whole.subarray(0, 1 << 20), 0o644, hash)).rejects.toThrow(/h3: writing \/var\/lib\/shoal\/cut-short failed/);
      expect((await lab.exec('h3', ['cat', '/var/lib/shoal/cut-short'])).stdout).toBe('old\n');
      await host.writeFile('/var/lib/shoal/cut-short', whole, 0o644, hash);
      expect((await lab.exec('h3', ['stat', '-c', '%s', '/var/lib/shoal/cut-short'])).stdout.trim()).toBe(String(4 << 20));
    } finally {
      ssh.close();
      await lab.exec('h3', ['rm', '-f', '/var/lib/shoal/cut-short', '/var/lib/shoal/cut-short.shoal-tmp']);
    }
  });

  it('refuses a different coordinator set (a Raft membership change) and changes nothing', async () => {
    const before = await pids(lab, 'h1');
    const inv = await ws.inventory('three.yaml', 'shop', [
      { name: 'h1', role: 'coordinator' },
      { name: 'h2', role: 'coordinator' },
      { name: 'h3', role: 'coordinator' },
    ]);
    const r = await ws.bootstrap(inv);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain('error: the cluster runs with coordinators h1 (192.168.232.11) (as h1 says), but the inventory has h1 (192.168.232.11), h2 (192.168.232.12), h3 (192.168.232.13) — changing the coordinator set needs a Raft membership change');
    expect(await pids(lab, 'h1')).toEqual(before);
    expect(await fileExists(lab, 'h2', '/etc/shoal/nats.conf')).toBe(false);
  });

  it('removes a worker (its daemons, containers and files) and adds it back', async () => {
    const inv = join(ws.dir, 'hosts.yaml');
    const rm = await ws.cli(['cluster', 'remove-host', 'h2', '-i', inv]);
    expect(rm.code, show(rm)).toBe(0);
    expect(rm.stdout).toContain('h2 removed');
    expect(await pids(lab, 'h2')).toEqual({});
    expect(await fileExists(lab, 'h2', '/etc/shoal/agent.yaml')).toBe(false);
    expect(await fileExists(lab, 'h2', '/var/lib/shoal/bundle')).toBe(false);
    expect((await lab.exec('h2', ['docker', 'ps', '-aq', '-f', 'label=io.shoal.task.id'])).stdout.trim()).toBe('');
    // the coordinator's NATS server no longer knows h2's agent
    expect((await lab.exec('h1', ['cat', '/etc/shoal/nats.conf'])).stdout).not.toContain('agent-h2');

    const add = await ws.cli(['cluster', 'add-host', 'h2', '-i', inv, '--ready-timeout', '90']);
    expect(add.code, show(add)).toBe(0);
    expect(add.stderr).toMatch(/^h2: Shoal uploaded, 3 files written, agent started \(/m);
    expect(add.stderr).toMatch(/^h1: 2 files written, nats reloaded \(/m);
    expect(add.stdout).toMatch(/^h2 +h2 +192\.168\.232\.12 +worker +ready/m);
  });
});

describe('shoal cluster bootstrap: three coordinators', () => {
  let lab: Lab;
  let ws: Workspace;

  beforeAll(async () => {
    await requireLabMachine();
    await Lab.down('boot2');
    lab = await Lab.up({ name: 'boot2', hosts: 3, subnet: '192.168.233.0/24' });
    ws = new Workspace(lab);
    await ws.init({ h3: 'h1' });
  });

  afterAll(async () => {
    await Lab.down('boot2');
    if (ws?.dir) await rm(ws.dir, { recursive: true, force: true });
  });

  it('stands up three coordinators with clustered NATS (one reached through a jump host), and the API answers through each of them', async () => {
    const inv = await ws.inventory('hosts.yaml', 'trio', [
      { name: 'h1', role: 'coordinator' },
      { name: 'h2', role: 'coordinator' },
      { name: 'h3', role: 'coordinator' },
    ]);
    const r = await ws.bootstrap(inv, '--accept-new-host-keys');
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/recorded the host key of 192\.168\.233\.11/);
    expect(r.stderr).toContain('h3: connecting to root@192.168.233.13:22 via h1');
    for (const h of lab.state.hosts) {
      const nodes = await ws.api((c) => c.call('node.ls', {}) as Promise<{ id: string; state: string }[]>, `nats://${h.address}:4222`);
      expect(nodes.map((n) => `${n.id}:${n.state}`).sort(), h.name).toEqual(['h1:ready', 'h2:ready', 'h3:ready']);
      expect(Object.keys(await pids(lab, h.name)).sort()).toContain('coordinator.pid');
    }
  });

  it('always refuses a host whose key changed, even with --accept-new-host-keys', async () => {
    const other = join(ws.dir, 'other_host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    // h2's recorded (hashed) line goes, a line with another key takes its place
    await run('ssh-keygen', ['-q', '-R', '192.168.233.12', '-f', ws.knownHosts]);
    const fake = (await readFile(`${other}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ');
    await writeFile(ws.knownHosts, `${await readFile(ws.knownHosts, 'utf8')}192.168.233.12 ${fake}\n`);
    const r = await ws.bootstrap(join(ws.dir, 'hosts.yaml'), '--accept-new-host-keys');
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`h2: failed: the host key of h2 (192.168.233.12) is not the one in ${ws.knownHosts}`);
    expect(r.stderr).toMatch(/^h1: unchanged \(/m);
    expect(await readFile(ws.knownHosts, 'utf8')).toContain(fake);
  });
});
