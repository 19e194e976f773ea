import { readdir, readFile, readlink, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** What ties a process to a virtual host: its network or mount namespace, or its cgroup. */
export interface HostIdentity {
  netnsInode?: number | undefined;
  mntnsInode?: number | undefined;
  /** Docker's --cgroup-parent for the host: containers have namespaces of their own. */
  cgroup: string;
}

export async function nsInode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

async function procNs(pid: string, kind: 'net' | 'mnt'): Promise<number | undefined> {
  try {
    const link = await readlink(`/proc/${pid}/ns/${kind}`);
    const m = /\[(\d+)\]/.exec(link);
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Every process that belongs to the host, found from /proc (no pid file is trusted). */
export async function hostProcesses(id: HostIdentity): Promise<number[]> {
  const pids: number[] = [];
  const self = String(process.pid);
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || pid === self) continue;
    let mine = false;
    if (id.netnsInode !== undefined && (await procNs(pid, 'net')) === id.netnsInode) mine = true;
    if (!mine && id.mntnsInode !== undefined && (await procNs(pid, 'mnt')) === id.mntnsInode) mine = true;
    if (!mine) {
      try {
        const cg = await readFile(`/proc/${pid}/cgroup`, 'utf8');
        mine = cg.split('\n').some((line) => line.includes(`/${id.cgroup}/`) || line.endsWith(`/${id.cgroup}`));
      } catch {
        // the process ended while we looked
      }
    }
    if (mine) pids.push(Number(pid));
  }
  return pids;
}

/** The processes whose parent is `pid` (dockerd's containerd, say). */
export async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Running or stopping; a zombie is dead, it only waits for a parent (often init) to reap it. */
export async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/**
 * SIGKILLs every process of the host until none is left (a dying dockerd may still fork), and
 * returns how many it killed. A host "crashes": nothing gets to clean up after itself.
 */
export async function killHost(id: HostIdentity, deadlineMs = 10_000): Promise<number> {
  const start = Date.now();
  const killed = new Set<number>();
  for (;;) {
    const pids = await hostProcesses(id);
    // a killed process leaves its namespaces before it is gone: wait for those too
    const dying: number[] = [];
    for (const pid of killed) if (await alive(pid)) dying.push(pid);
    if (pids.length === 0 && dying.length === 0) return killed.size;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    if (Date.now() - start > deadlineMs) {
      throw new Error(`processes ${[...new Set([...pids, ...dying])].join(', ')} survived SIGKILL for ${deadlineMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The cgroup directories Docker made for the host's containers, deepest first. */
export async function hostCgroupDirs(cgroup: string): Promise<string[]> {
  const found: string[] = [];
  const roots = ['/sys/fs/cgroup'];
  try {
    for (const e of await readdir('/sys/fs/cgroup', { withFileTypes: true })) {
      if (e.isDirectory()) roots.push(join('/sys/fs/cgroup', e.name));
    }
  } catch {
    return found;
  }
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
    found.push(dir);
  };
  for (const root of roots) {
    const dir = join(root, cgroup);
    if ((await nsInode(dir)) !== undefined) await walk(dir);
  }
  return found;
}

export async function removeHostCgroups(cgroup: string): Promise<void> {
  for (const dir of await hostCgroupDirs(cgroup)) {
    try {
      await rmdir(dir);
    } catch {
      // a cgroup with a process still in it cannot go; `down` reports what is left
    }
  }
}
