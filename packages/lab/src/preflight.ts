import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ShoalError } from '@shoal/core';

/** The programs the lab runs, each with the Debian package that provides it. */
export const LAB_TOOLS: Record<string, string> = {
  ip: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  findmnt: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  dockerd: 'docker.io',
  docker: 'docker.io',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  busybox: 'busybox-static',
  iperf3: 'iperf3',
  nft: 'nftables',
  iptables: 'iptables',
  tar: 'tar',
  ldd: 'libc-bin',
};

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export async function which(tool: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...SBIN].filter(Boolean);
  for (const dir of dirs) {
    const path = join(dir, tool);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) {
    throw new ShoalError('need_root', 'shoal lab needs root: it makes network namespaces, bridges and mounts', 'run it as root, e.g. sudo shoal lab …');
  }
}

/** Fails with every missing program and the packages to install, rather than half-way through. */
export async function requireTools(tools: readonly string[] = Object.keys(LAB_TOOLS)): Promise<void> {
  const missing: string[] = [];
  for (const tool of tools) if ((await which(tool)) === undefined) missing.push(tool);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => LAB_TOOLS[t] ?? t))];
    throw new ShoalError(
      'missing_tool',
      `the lab needs ${missing.join(', ')}, not found on this machine`,
      `install them: apt-get install -y ${pkgs.join(' ')} (or run scripts/setup.sh)`,
    );
  }
}
