import { open, mkdir, rm, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { dockerPing } from './docker-api.js';
import type { LabNames } from './names.js';
import { must } from './run.js';

/** One virtual host as the lab records it. */
export interface LabHost {
  name: string;
  index: number;
  address: string;
}

export interface HostPaths {
  netns: string;
  mnt: string;
  uts: string;
  dir: string;
  /** The host's /run, bind-mounted from here, so its docker.sock is reachable from outside. */
  run: string;
  dockerSocket: string;
}

export function hostPaths(names: LabNames, host: string): HostPaths {
  const dir = names.hostDir(host);
  return {
    netns: names.netnsPath(host),
    mnt: names.mntPath(host),
    uts: names.utsPath(host),
    dir,
    run: `${dir}/run`,
    dockerSocket: `${dir}/run/docker.sock`,
  };
}

/** The argv that runs a command inside the host: its network, mount and UTS namespaces. */
export function inHost(p: HostPaths, argv: readonly string[]): string[] {
  return ['nsenter', `--net=${p.netns}`, `--mount=${p.mnt}`, `--uts=${p.uts}`, '--', ...argv];
}

export async function createUnderlay(names: LabNames, host: LabHost, prefix: number, mtu: number): Promise<void> {
  const ns = names.netns(host.name);
  const veth = names.veth(host.index);
  await must('ip', ['netns', 'add', ns]);
  await must('ip', ['link', 'add', veth, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'netns', ns]);
  await must('ip', ['link', 'set', veth, 'master', names.bridge, 'up']);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await must('ip', ['-n', ns, 'addr', 'add', `${host.address}/${prefix}`, 'dev', 'eth0']);
  await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  // A default route on the link, without a gateway: programs find "their" interface from it
  // (the agent autodetects its address so), while nothing can leave the lab through the root
  // namespace, which neither answers ARP for foreign addresses nor forwards.
  await must('ip', ['-n', ns, 'route', 'add', 'default', 'dev', 'eth0']);
}

function sshdConfig(labDir: string, p: HostPaths): string {
  return [
    'Port 22',
    `HostKey ${p.dir}/ssh_host_ed25519_key`,
    'PidFile /run/sshd.pid',
    `AuthorizedKeysFile ${labDir}/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // the lab's files live under /var/lib/shoal-lab, whose modes sshd would otherwise judge
    'StrictModes no',
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/**
 * Makes the host's mount and UTS namespaces and pins them to files (as `ip netns` pins network
 * namespaces), so the host outlives any of its processes and `kill`/`revive` work.
 */
export async function createHostNamespaces(names: LabNames, host: LabHost, hostsFile: string): Promise<void> {
  const p = hostPaths(names, host.name);
  for (const d of [p.run, `${p.dir}/docker`, `${p.dir}/etc-shoal`, `${p.dir}/var-lib-shoal`]) await mkdir(d, { recursive: true });
  await writeFile(`${p.dir}/sshd_config`, sshdConfig(names.dir, p));
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${host.name}`, '-f', `${p.dir}/ssh_host_ed25519_key`]);
  await writeFile(p.mnt, '');
  await writeFile(p.uts, '');
  // Mounts copied from the root namespace under /run and the lab's directories would hold
  // other namespaces (and other labs' hosts) alive: drop them before binding the host's own.
  const setup = [
    'set -e',
    `hostname ${host.name}`,
    "findmnt -rn -o TARGET | grep -E '^/run(/|$)|^/var/lib/docker(/|$)|^/var/lib/shoal-lab(/|$)' | sort -r | while read -r m; do umount -l \"$m\" 2>/dev/null || true; done",
    `mount --bind ${p.run} /run`,
    'mkdir -p /run/sshd /run/lock',
    `mount --bind ${p.dir}/docker /var/lib/docker`,
    `mount --bind ${p.dir}/etc-shoal /etc/shoal`,
    `mount --bind ${p.dir}/var-lib-shoal /var/lib/shoal`,
    `mount --bind ${hostsFile} /etc/hosts`,
    // A sysfs of the host's own network namespace, so /sys/class/net shows its interfaces (as
    // on a real machine), with the machine's cgroup mounts carried over: dockerd needs them.
    `mkdir -p ${p.dir}/cgroup`,
    `mount --rbind /sys/fs/cgroup ${p.dir}/cgroup`,
    'mount -t sysfs sysfs /sys',
    `mount --rbind ${p.dir}/cgroup /sys/fs/cgroup`,
    `umount -R -l ${p.dir}/cgroup`,
  ].join('\n');
  await must('nsenter', [`--net=${p.netns}`, 'unshare', `--mount=${p.mnt}`, `--uts=${p.uts}`, '--propagation', 'private', 'sh', '-c', setup]);
}

async function spawnDetached(argv: readonly string[], logFile: string): Promise<void> {
  const log = await open(logFile, 'a');
  try {
    const [cmd, ...args] = argv;
    const child = spawn(cmd ?? 'false', args, { detached: true, stdio: ['ignore', log.fd, log.fd] });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
  } finally {
    await log.close();
  }
}

/** Starts the host's dockerd and sshd (on `up` and on `revive`). */
export async function startDaemons(names: LabNames, host: LabHost): Promise<void> {
  const p = hostPaths(names, host.name);
  await rm(`${p.run}/sshd.pid`, { force: true });
  await startDockerd(names, host);
  await must('nsenter', [`--net=${p.netns}`, `--mount=${p.mnt}`, `--uts=${p.uts}`, '--', '/usr/sbin/sshd', '-f', `${p.dir}/sshd_config`, '-E', `${p.dir}/sshd.log`]);
}

/** Starts the host's dockerd (detached, logging to its dockerd.log); does not wait for it. */
export async function startDockerd(names: LabNames, host: LabHost): Promise<void> {
  const p = hostPaths(names, host.name);
  // a pid file left by a killed dockerd would make it refuse to start if the pid was reused
  await rm(`${p.run}/docker.pid`, { force: true });
  await spawnDetached(inHost(p, ['dockerd', '--cgroup-parent', `/${names.cgroup(host.name)}`]), `${p.dir}/dockerd.log`);
}

/** Waits until the host's dockerd answers its API. */
export async function waitForDockerd(names: LabNames, host: LabHost): Promise<void> {
  const p = hostPaths(names, host.name);
  await waitFor(`${host.name}: dockerd (see ${p.dir}/dockerd.log)`, () => dockerPing(p.dockerSocket), 60_000);
}

export function tcpOpen(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('timeout', () => done(false));
    sock.once('error', () => done(false));
  });
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not ready after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitForDaemons(names: LabNames, host: LabHost): Promise<void> {
  const p = hostPaths(names, host.name);
  await Promise.all([waitForDockerd(names, host), waitFor(`${host.name}: sshd (see ${p.dir}/sshd.log)`, () => tcpOpen(host.address, 22), 20_000)]);
}
