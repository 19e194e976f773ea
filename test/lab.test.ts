import { readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, run, type HostStatus, type LabState } from '@shoal/lab';
import { shoal } from './support/cli.js';
import { requireLabMachine } from './support/machine.js';

// Real namespaces, dockerd, sshd and kernel: everything here runs on this machine, as root.
const LAB = 'citest';
const OTHER = 'citest2';

async function ping(lab: Lab, from: string, to: string): Promise<boolean> {
  const r = await lab.exec(from, ['busybox', 'ping', '-c', '1', '-W', '1', lab.host(to).address], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** Reachability that is expected: a ping lost right after a heal (neighbour entries, a busy
 * machine) is asked again, up to 5 times; an expected failure uses ping, once. */
async function reaches(lab: Lab, from: string, to: string): Promise<boolean> {
  for (let i = 0; i < 5; i++) if (await ping(lab, from, to)) return true;
  return false;
}

/** Pids of every process whose network namespace is one of the lab's hosts', read from /proc. */
async function pidsInNetns(lab: string): Promise<number[]> {
  const inodes = new Set<number>();
  for (const n of await readdir('/run/netns').catch(() => [] as string[])) {
    if (n.startsWith(`shoal-${lab}-`)) inodes.add((await stat(`/run/netns/${n}`)).ino);
  }
  const pids: number[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const link = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
    const ino = Number(/\[(\d+)\]/.exec(link)?.[1]);
    if (inodes.has(ino)) pids.push(Number(pid));
  }
  return pids;
}

/** A zombie counts as dead: it is init's job, not the lab's, to reap it. */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/\) [ZX] /.test(stat);
}

async function expectNothingLeft(name: string): Promise<void> {
  expect(await Lab.leftovers(name)).toEqual({ netns: [], links: [], processes: [], mounts: [], rules: [], files: [], cgroups: [] });
}

describe('shoal lab', () => {
  let lab: Lab;

  beforeAll(async () => {
    await requireLabMachine();
    // a crashed earlier run may have left these behind
    await Lab.down(LAB);
    await Lab.down(OTHER);
    const up = await shoal(['lab', 'up', '--hosts', '3', '--name', LAB, '--json']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const printed = JSON.parse(up.stdout) as { lab: LabState; hosts: HostStatus[] };
    expect(printed.hosts.map((h) => h.name)).toEqual(['h1', 'h2', 'h3']);
    lab = await Lab.open(LAB);
  });

  afterAll(async () => {
    await Lab.down(OTHER).catch(() => undefined);
    await Lab.down(LAB).catch(() => undefined);
  });

  it('brings up three hosts, each with its own dockerd and sshd running', async () => {
    const status = await lab.status();
    expect(status.map((h) => [h.name, h.link, h.dockerd, h.sshd])).toEqual([
      ['h1', 'up', true, true],
      ['h2', 'up', true, true],
      ['h3', 'up', true, true],
    ]);
    const st = await shoal(['lab', 'status', '--name', LAB]);
    expect(st.code).toBe(0);
    expect(st.stdout).toMatch(/^h2\s+\S+\s+up\s+-\s+up\s+up/m);
  });

  it("runs the test image (busybox and iperf3) on every host's Docker", async () => {
    for (const host of ['h1', 'h2', 'h3']) {
      const r = await lab.exec(host, ['docker', 'run', '--rm', 'shoal/busybox', 'sh', '-c', 'iperf3 --version && nslookup 2>&1 | head -1; wget --help 2>&1 | head -1'], {
        timeoutMs: 60_000,
      });
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^iperf 3\./m);
      expect(r.stdout).toMatch(/BusyBox/);
    }
  });

  it("gives each host its own hostname, Docker socket and private /etc/shoal", async () => {
    for (const host of ['h1', 'h2', 'h3']) {
      expect((await lab.exec(host, ['hostname'])).stdout.trim()).toBe(host);
      const info = await lab.exec(host, ['docker', 'info', '--format', '{{.Name}}']);
      expect(info.stdout.trim()).toBe(host);
    }
    expect((await lab.exec('h1', ['sh', '-c', 'echo mine > /etc/shoal/marker'])).code).toBe(0);
    expect((await lab.exec('h1', ['cat', '/etc/shoal/marker'])).stdout).toBe('mine\n');
    expect((await lab.exec('h2', ['ls', '/etc/shoal'])).stdout).toBe('');
    await expect(stat('/etc/shoal/marker')).rejects.toThrow();
  });

  it('lets host A reach host B over the underlay', async () => {
    expect(await reaches(lab, 'h1', 'h2')).toBe(true);
    expect(await reaches(lab, 'h3', 'h1')).toBe(true);
  });

  it("accepts ssh from one host to another, and from the machine, with the lab's key", async () => {
    const cfg = await shoal(['lab', 'ssh-config', '--name', LAB]);
    expect(cfg.code).toBe(0);
    expect(cfg.stdout).toMatch(/^Host h2 citest-h2$/m);
    const file = `${lab.names.dir}/ssh_config.test`;
    await writeFile(file, cfg.stdout);
    const fromA = await lab.exec('h1', ['ssh', '-F', file, '-o', 'BatchMode=yes', 'h2', 'hostname'], { timeoutMs: 20_000 });
    expect(fromA.stderr).toBe('');
    expect(fromA.stdout.trim()).toBe('h2');
    const fromMachine = await run('ssh', ['-F', file, '-o', 'BatchMode=yes', 'h3', 'hostname']);
    expect(fromMachine.stdout.trim().split('\n').pop()).toBe('h3');
  });

  it('cut takes exactly one host off the underlay, and heal brings it back', async () => {
    expect((await shoal(['lab', 'cut', 'h2', '--name', LAB])).code).toBe(0);
    expect(await ping(lab, 'h1', 'h2')).toBe(false);
    expect(await reaches(lab, 'h1', 'h3')).toBe(true);
    expect((await lab.status()).find((h) => h.name === 'h2')?.link).toBe('cut');
    expect((await shoal(['lab', 'heal', 'h2', '--name', LAB])).code).toBe(0);
    expect(await reaches(lab, 'h1', 'h2')).toBe(true);
  });

  it('partition stops traffic between the groups only, and heal ends it', async () => {
    const r = await shoal(['lab', 'partition', 'h1,h2', 'h3', '--name', LAB]);
    expect(r.code).toBe(0);
    expect(await reaches(lab, 'h1', 'h2')).toBe(true);
    expect(await ping(lab, 'h1', 'h3')).toBe(false);
    expect(await ping(lab, 'h3', 'h2')).toBe(false);
    // the machine itself is not partitioned: the CLI can still reach every host
    expect((await Lab.open(LAB)).state.partition).toEqual([['h1', 'h2'], ['h3']]);
    expect((await shoal(['lab', 'heal', '--name', LAB])).code).toBe(0);
    expect(await reaches(lab, 'h1', 'h3')).toBe(true);
    expect(await reaches(lab, 'h3', 'h2')).toBe(true);
  });

  it('kill stops every process of a host, containers included, and revive boots it again', async () => {
    const run = await lab.exec('h3', ['docker', 'run', '-d', '--name', 'sleeper', 'shoal/busybox', 'sleep', '600']);
    expect(run.code).toBe(0);
    const killed = await shoal(['lab', 'kill', 'h3', '--name', LAB]);
    expect(killed.code).toBe(0);
    const h3 = (await lab.status()).find((h) => h.name === 'h3');
    expect(h3).toMatchObject({ dockerd: false, sshd: false, processes: 0 });
    const sleepers = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
    for (const pid of sleepers) {
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      expect(cmd).not.toBe('sleep\u0000600\u0000');
    }
    expect(await reaches(lab, 'h1', 'h2')).toBe(true);
    expect((await shoal(['lab', 'revive', 'h3', '--name', LAB])).code).toBe(0);
    const ps = await lab.exec('h3', ['docker', 'ps', '-a', '--format', '{{.Names}} {{.State}}']);
    expect(ps.stdout.trim()).toBe('sleeper exited');
  });

  it('refuses bad input with one clear line and changes nothing', async () => {
    const before = (await Lab.open(LAB)).state;
    const again = await shoal(['lab', 'up', '--hosts', '2', '--name', LAB]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: lab citest is already up \(3 hosts on .*\) — .*shoal lab down --name citest\n$/);
    expect((await Lab.open(LAB)).state).toEqual(before);

    const unknown = await shoal(['lab', 'exec', 'h9', '--name', LAB, '--', 'true']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error: lab citest has no host "h9" — its hosts are h1, h2, h3\n');

    const zero = await shoal(['lab', 'up', '--hosts', '0', '--name', OTHER]);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/^error: --hosts must be a whole number from 1 to 64, got 0 — /);

    const clash = await shoal(['lab', 'up', '--hosts', '1', '--name', OTHER, '--subnet', before.subnet]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain(`collides with ${before.subnet}`);

    const badName = await shoal(['lab', 'up', '--hosts', '1', '--name', 'Bad_Name']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toMatch(/not a valid lab name/);

    await expectNothingLeft(OTHER);
  });

  it('runs a second lab beside the first, and down of a lab whose state was lost still cleans it', async () => {
    const up = await shoal(['lab', 'up', '--hosts', '1', '--name', OTHER, '--mtu', '9000']);
    expect(up.code).toBe(0);
    const other = await Lab.open(OTHER);
    expect(other.state.subnet).not.toBe(lab.state.subnet);
    expect((await other.exec('h1', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('9000');
    expect((await other.status())[0]).toMatchObject({ dockerd: true, sshd: true });
    // as if the machine crashed mid-run: the lab's own record is gone
    await rm(`${other.names.dir}/state.json`);
    const down = await shoal(['lab', 'down', '--name', OTHER]);
    expect(down.code).toBe(0);
    await expectNothingLeft(OTHER);
    // the first lab did not notice
    expect(await reaches(lab, 'h1', 'h3')).toBe(true);
    expect((await lab.status()).every((h) => h.dockerd && h.sshd)).toBe(true);
  });

  it("keeps hosts talking when the machine's FORWARD chain drops bridged traffic, as a root dockerd makes it", async () => {
    const tablesBefore = (await run('nft', ['list', 'tables'])).stdout;
    const policyBefore = /-P FORWARD (\w+)/.exec((await run('iptables', ['-w', '-S', 'FORWARD'])).stdout)?.[1] ?? 'ACCEPT';
    try {
      expect((await run('iptables', ['-w', '-P', 'FORWARD', 'DROP'])).code).toBe(0);
      expect((await shoal(['lab', 'up', '--hosts', '2', '--name', OTHER])).code).toBe(0);
      const other = await Lab.open(OTHER);
      expect(other.state.forwardRule).toBe(true);
      expect(await reaches(other, 'h1', 'h2')).toBe(true);
      expect((await shoal(['lab', 'down', '--name', OTHER])).code).toBe(0);
      expect((await run('iptables', ['-w', '-S', 'FORWARD'])).stdout).not.toContain(`shoal-lab:${OTHER}`);
      await expectNothingLeft(OTHER);
    } finally {
      await Lab.down(OTHER).catch(() => undefined);
      await run('iptables', ['-w', '-P', 'FORWARD', policyBefore]);
      // leave the machine's firewall as found: no filter table if there was none
      if (!tablesBefore.includes('table ip filter')) await run('nft', ['delete', 'table', 'ip', 'filter']);
    }
  });

  it('down leaves no namespace, link, process, mount, firewall rule, cgroup or file of the lab', async () => {
    await shoal(['lab', 'partition', 'h1', 'h2,h3', '--name', LAB]);
    const pids = await pidsInNetns(LAB);
    expect(pids.length).toBeGreaterThanOrEqual(6); // dockerd, containerd, sshd on each host

    const down = await shoal(['lab', 'down', '--name', LAB]);
    expect(down.stderr).not.toMatch(/^error/m);
    expect(down.code).toBe(0);

    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(`shoal-${LAB}-`);
    expect((await run('ip', ['-o', 'link', 'show'])).stdout).not.toMatch(/slcitest/);
    const survivors: number[] = [];
    for (const pid of pids) if (await alive(pid)) survivors.push(pid);
    expect(survivors).toEqual([]);
    // other labs may be up beside this one: only this lab's mounts must be gone
    expect((await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout).not.toMatch(/citest/);
    expect((await run('nft', ['list', 'ruleset'])).stdout).not.toContain('shoal_lab_citest');
    expect((await run('iptables', ['-w', '-S'])).stdout).not.toContain('shoal-lab:citest');
    const cgroups = await run('sh', ['-c', 'ls -d /sys/fs/cgroup/shoal-lab-citest-* /sys/fs/cgroup/*/shoal-lab-citest-* 2>/dev/null || true']);
    expect(cgroups.stdout).toBe('');
    await expect(stat(lab.names.dir)).rejects.toThrow();
    await expectNothingLeft(LAB);
  });
});
