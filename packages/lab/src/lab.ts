import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { ShoalError, formatCidr, parseCidr } from '@shoal/core';
import { dockerImport, dockerPing } from './docker-api.js';
import {
  createHostNamespaces,
  createUnderlay,
  hostPaths,
  inHost,
  startDaemons,
  startDockerd,
  waitForDaemons,
  waitForDockerd,
  type LabHost,
} from './host.js';
import { buildTestImage } from './image.js';
import { DEFAULT_LAB, LAB_ROOT, LabNames, NS_ROOT, TEST_IMAGE, checkHostCount, checkLabName } from './names.js';
import { partitionPairs, planLab, type TakenRange } from './plan.js';
import { requireRoot, requireTools, which } from './preflight.js';
import { alive, childrenOf, hostProcesses, killHost, nsInode, removeHostCgroups, hostCgroupDirs } from './procs.js';
import { must, run, type RunResult } from './run.js';

export interface LabState {
  version: 1;
  name: string;
  subnet: string;
  gateway: string;
  mtu: number;
  hosts: LabHost[];
  /** Hosts whose underlay link is cut. */
  cut: string[];
  /** The groups of the current partition, empty when there is none. */
  partition: string[][];
  /** Whether `up` had to accept the lab's bridged traffic in the root namespace's FORWARD chain. */
  forwardRule: boolean;
  createdAt: string;
}

export interface UpOptions {
  name?: string;
  hosts: number;
  subnet?: string;
  mtu?: number;
  /** One short line per step, for a person watching `lab up`. */
  onProgress?: (line: string) => void;
}

export interface HostStatus {
  name: string;
  address: string;
  link: 'up' | 'cut';
  partitionGroup: number | null;
  dockerd: boolean;
  sshd: boolean;
  processes: number;
}

/** What of a lab is still on the machine; all empty after a clean `down`. */
export interface Leftovers {
  netns: string[];
  links: string[];
  processes: number[];
  mounts: string[];
  rules: string[];
  files: string[];
  cgroups: string[];
}

const STATE = 'state.json';

async function readState(names: LabNames): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(`${names.dir}/${STATE}`, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

async function writeState(names: LabNames, state: LabState): Promise<void> {
  const tmp = `${names.dir}/${STATE}.tmp`;
  await writeFile(tmp, JSON.stringify(state, null, 2) + '\n');
  await rename(tmp, `${names.dir}/${STATE}`);
}

async function listNetns(): Promise<string[]> {
  const out = await run('ip', ['-j', 'netns', 'list']);
  if (out.code !== 0 || out.stdout.trim() === '') return [];
  return (JSON.parse(out.stdout) as { name: string }[]).map((n) => n.name);
}

interface LinkInfo {
  ifname: string;
  flags?: string[];
  operstate?: string;
}

async function listLinks(): Promise<LinkInfo[]> {
  return JSON.parse(await must('ip', ['-j', 'link', 'show'])) as LinkInfo[];
}

/** Routes and addresses of the root namespace plus other labs' subnets: what a new lab must avoid. */
async function takenRanges(): Promise<TakenRange[]> {
  const taken: TakenRange[] = [];
  const routes = JSON.parse(await must('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])) as { dst: string; dev?: string }[];
  for (const r of routes) {
    if (r.dst === 'default' || r.dst.includes(':')) continue;
    try {
      const cidr = parseCidr(r.dst.includes('/') ? r.dst : `${r.dst}/32`);
      taken.push({ cidr, owner: `a route via ${r.dev ?? 'unknown'}` });
    } catch {
      // a route we cannot read cannot collide in a way we could name
    }
  }
  for (const name of await Lab.list()) {
    const st = await readState(new LabNames(name));
    if (st) taken.push({ cidr: parseCidr(st.subnet), owner: `lab ${name}` });
  }
  return taken;
}

/** Where the lab notes what it added to the machine itself, to take it away with the last lab. */
const MACHINE = `${LAB_ROOT}/machine.json`;
const MOUNTPOINTS = ['/etc/shoal', '/var/lib/shoal', '/var/lib/docker', '/run/netns'];

async function isMountpoint(path: string): Promise<boolean> {
  return (await run('findmnt', ['-rn', '-o', 'TARGET', path])).stdout.trim() === path;
}

/**
 * Remembers the directories and the /run/netns mount that do not exist yet and that the lab is
 * about to create in the root namespace, so that `down` of the last lab leaves the machine as found.
 */
async function noteMachineChanges(): Promise<void> {
  let noted: string[] = [];
  try {
    noted = JSON.parse(await readFile(MACHINE, 'utf8')) as string[];
  } catch {
    // first lab
  }
  for (const dir of MOUNTPOINTS) if ((await nsInode(dir)) === undefined && !noted.includes(dir)) noted.push(dir);
  if (!(await isMountpoint('/run/netns')) && !noted.includes('mount:/run/netns')) noted.push('mount:/run/netns');
  await writeFile(MACHINE, JSON.stringify(noted) + '\n');
}

async function undoMachineChanges(): Promise<void> {
  let noted: string[] = [];
  try {
    noted = JSON.parse(await readFile(MACHINE, 'utf8')) as string[];
  } catch {
    return;
  }
  if (noted.includes('mount:/run/netns') && (await listNetns()).length === 0) await run('umount', ['/run/netns']);
  for (const dir of noted) if (!dir.startsWith('mount:')) await rmdir(dir).catch(() => undefined);
  await rm(MACHINE, { force: true });
}

/** /run/shoal-lab holds the pinned namespace handles; it must be a private mount for that. */
async function ensureNsRoot(): Promise<void> {
  await mkdir(NS_ROOT, { recursive: true });
  const r = await run('findmnt', ['-rn', '-o', 'TARGET', NS_ROOT]);
  if (r.stdout.trim() !== NS_ROOT) {
    await must('mount', ['--bind', NS_ROOT, NS_ROOT]);
    await must('mount', ['--make-private', NS_ROOT]);
  }
}

async function rootForwardRules(comment: string): Promise<string[]> {
  if ((await which('iptables')) === undefined) return [];
  const r = await run('iptables', ['-w', '-S', 'FORWARD']);
  if (r.code !== 0) return [];
  return r.stdout.split('\n').filter((l) => l.startsWith('-A ') && l.includes(comment));
}

/**
 * br_netfilter (loaded by any dockerd) sends bridged frames through iptables' FORWARD chain. If
 * a root-namespace dockerd made that chain drop by default, the lab's hosts could not talk.
 */
async function acceptBridgedTraffic(names: LabNames): Promise<boolean> {
  let nf = '0';
  try {
    nf = (await readFile('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8')).trim();
  } catch {
    return false;
  }
  if (nf !== '1' || (await which('iptables')) === undefined) return false;
  const r = await run('iptables', ['-w', '-S', 'FORWARD']);
  if (r.code !== 0) return false;
  const restrictive = r.stdout.includes('-P FORWARD DROP') || r.stdout.split('\n').some((l) => l.startsWith('-A FORWARD'));
  if (!restrictive) return false;
  await must('iptables', ['-w', '-I', 'FORWARD', '-i', names.bridge, '-o', names.bridge, '-m', 'comment', '--comment', names.ruleComment, '-j', 'ACCEPT']);
  return true;
}

function hostsFile(state: Pick<LabState, 'hosts'>): string {
  return ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', ...state.hosts.map((h) => `${h.address} ${h.name}`), ''].join('\n');
}

export class Lab {
  private constructor(
    readonly names: LabNames,
    private current: LabState,
  ) {}

  get state(): LabState {
    return this.current;
  }

  get name(): string {
    return this.current.name;
  }

  /** Names of the labs on this machine (those with a directory, complete or not). */
  static async list(): Promise<string[]> {
    try {
      return (await readdir(LAB_ROOT, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    } catch {
      return [];
    }
  }

  static async open(name: string = DEFAULT_LAB): Promise<Lab> {
    requireRoot();
    const names = new LabNames(name);
    const state = await readState(names);
    if (!state) {
      throw new ShoalError('no_such_lab', `there is no lab named ${name}`, `bring one up with: shoal lab up --hosts 3${name === DEFAULT_LAB ? '' : ` --name ${name}`}`);
    }
    return new Lab(names, state);
  }

  static async up(options: UpOptions): Promise<Lab> {
    const name = checkLabName(options.name ?? DEFAULT_LAB);
    const count = checkHostCount(options.hosts);
    const mtu = options.mtu ?? 1500;
    if (!Number.isInteger(mtu) || mtu < 1280 || mtu > 65535) {
      throw new ShoalError('bad_mtu', `--mtu must be a whole number from 1280 to 65535, got ${String(options.mtu)}`, 'e.g. --mtu 9000 for jumbo frames');
    }
    requireRoot();
    await requireTools();
    const names = new LabNames(name);
    const progress = options.onProgress ?? (() => undefined);

    const leftovers = await Lab.leftovers(name);
    const anything = Object.values(leftovers).some((l: unknown[]) => l.length > 0);
    if (anything) {
      const st = await readState(names);
      throw new ShoalError(
        'lab_exists',
        st ? `lab ${name} is already up (${st.hosts.length} hosts on ${st.subnet})` : `pieces of an earlier lab ${name} are still here`,
        st ? `use it, or take it down first: shoal lab down${name === DEFAULT_LAB ? '' : ` --name ${name}`}` : `clean them up with: shoal lab down${name === DEFAULT_LAB ? '' : ` --name ${name}`}`,
      );
    }
    const plan = planLab(count, options.subnet, await takenRanges());
    const prefix = plan.subnet.prefix;
    const state: LabState = {
      version: 1,
      name,
      subnet: formatCidr(plan.subnet),
      gateway: plan.gateway,
      mtu,
      hosts: plan.hosts,
      cut: [],
      partition: [],
      forwardRule: false,
      createdAt: new Date().toISOString(),
    };

    // From here on, anything that fails takes down what was made: no half-created lab stays.
    await mkdir(LAB_ROOT, { recursive: true });
    await noteMachineChanges();
    await mkdir(names.dir);
    try {
      await writeState(names, state);
      await ensureNsRoot();
      await mkdir(names.nsDir, { recursive: true });
      for (const d of ['/etc/shoal', '/var/lib/shoal', '/var/lib/docker']) await mkdir(d, { recursive: true });
      await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `shoal-lab-${name}`, '-f', `${names.dir}/id_ed25519`]);
      await writeFile(`${names.dir}/authorized_keys`, await readFile(`${names.dir}/id_ed25519.pub`));
      await writeFile(`${names.dir}/hosts`, hostsFile(state));

      progress(`underlay: bridge ${names.bridge} on ${state.subnet}, mtu ${mtu}`);
      await must('ip', ['link', 'add', names.bridge, 'mtu', String(mtu), 'type', 'bridge']);
      await must('ip', ['addr', 'add', `${plan.gateway}/${prefix}`, 'dev', names.bridge]);
      await must('ip', ['link', 'set', names.bridge, 'up']);

      const imageTar = buildTestImage(names.dir);
      imageTar.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      await Promise.all(
        state.hosts.map(async (h) => {
          const t0 = Date.now();
          await createUnderlay(names, h, prefix, mtu);
          await createHostNamespaces(names, h, `${names.dir}/hosts`);
          await startDaemons(names, h);
          await waitForDaemons(names, h);
          progress(`${h.name}: ${h.address} dockerd and sshd up (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
          await dockerImport(hostPaths(names, h.name).dockerSocket, await imageTar, TEST_IMAGE);
          progress(`${h.name}: image ${TEST_IMAGE} imported`);
        }),
      );
      await rm(await imageTar, { force: true });
      state.forwardRule = await acceptBridgedTraffic(names);
      await writeFile(`${names.dir}/known_hosts`, await knownHosts(names, state));
      await writeState(names, state);
    } catch (err) {
      progress(`failed: ${err instanceof Error ? err.message : String(err)}; removing what was made`);
      await Lab.down(name).catch(() => undefined);
      throw err;
    }
    return new Lab(names, state);
  }

  /**
   * Removes everything of the lab: processes, mounts, namespaces, links, firewall rules, cgroups
   * and files. It finds them by name, so it also cleans a lab whose `up` or whose machine crashed.
   */
  static async down(name: string = DEFAULT_LAB, onProgress?: (line: string) => void): Promise<Leftovers> {
    requireRoot();
    const names = new LabNames(name);
    const progress = onProgress ?? (() => undefined);
    const hosts = await Lab.hostNamesOf(names);
    await Promise.all(
      hosts.map(async (host) => {
        const n = await killHost(await identity(names, host));
        if (n > 0) progress(`${host}: stopped ${n} processes`);
      }),
    );
    for (const host of hosts) {
      const p = hostPaths(names, host);
      for (const f of [p.mnt, p.uts]) await run('umount', [f]);
      if ((await listNetns()).includes(names.netns(host))) await must('ip', ['netns', 'del', names.netns(host)]);
      await removeHostCgroups(names.cgroup(host));
    }
    for (const link of await listLinks()) {
      if (link.ifname === names.bridge || link.ifname.startsWith(`${names.bridge}-`)) {
        await run('ip', ['link', 'del', link.ifname]);
      }
    }
    await removeNftTable(names);
    for (const rule of await rootForwardRules(names.ruleComment)) {
      await must('iptables', ['-w', ...splitRule(rule.replace(/^-A /, '-D '))]);
    }
    await rm(names.nsDir, { recursive: true, force: true });
    await rm(names.dir, { recursive: true, force: true });
    if ((await Lab.list()).length === 0) {
      await run('umount', [NS_ROOT]);
      await rmdir(NS_ROOT).catch(() => undefined);
      await undoMachineChanges();
      await rmdir(LAB_ROOT).catch(() => undefined);
    }
    progress(`lab ${name} removed`);
    return Lab.leftovers(name);
  }

  /** Everything of the lab still on the machine, found by name: what `down` must leave empty. */
  static async leftovers(name: string = DEFAULT_LAB): Promise<Leftovers> {
    const names = new LabNames(name);
    const hosts = await Lab.hostNamesOf(names);
    const processes: number[] = [];
    const cgroups: string[] = [];
    for (const host of hosts) {
      processes.push(...(await hostProcesses(await identity(names, host))));
      cgroups.push(...(await hostCgroupDirs(names.cgroup(host))));
    }
    const mounts = (await run('findmnt', ['-rn', '-o', 'TARGET'])).stdout
      .split('\n')
      .filter((m) => m.startsWith(`${names.nsDir}/`) || m.startsWith(`${names.dir}/`) || m.startsWith(`/run/netns/shoal-${name}-`));
    const files: string[] = [];
    for (const f of [names.dir, names.nsDir]) if ((await nsInode(f)) !== undefined) files.push(f);
    const nft = await run('nft', ['list', 'tables', 'bridge']);
    return {
      netns: (await listNetns()).filter((n) => n.startsWith(`shoal-${name}-`)),
      links: (await listLinks()).map((l) => l.ifname).filter((l) => l === names.bridge || l.startsWith(`${names.bridge}-`)),
      processes,
      mounts,
      rules: [...(await rootForwardRules(names.ruleComment)), ...(nft.stdout.includes(names.nftTable) ? [`nft table bridge ${names.nftTable}`] : [])],
      files,
      cgroups,
    };
  }

  /** The hosts of a lab from its state, or, for a lab whose state is gone, from what is left of it. */
  private static async hostNamesOf(names: LabNames): Promise<string[]> {
    const found = new Set<string>();
    const st = await readState(names);
    for (const h of st?.hosts ?? []) found.add(h.name);
    const prefix = `shoal-${names.lab}-`;
    for (const ns of await listNetns()) if (ns.startsWith(prefix)) found.add(ns.slice(prefix.length));
    for (const dir of [names.nsDir, names.dir]) {
      try {
        for (const e of await readdir(dir)) {
          const m = /^(h\d+)(\.mnt|\.uts)?$/.exec(e);
          if (m?.[1]) found.add(m[1]);
        }
      } catch {
        // not there
      }
    }
    return [...found].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  }

  host(name: string): LabHost {
    const h = this.current.hosts.find((x) => x.name === name);
    if (!h) {
      throw new ShoalError(
        'unknown_host',
        `lab ${this.name} has no host "${name}"`,
        `its hosts are ${this.current.hosts.map((x) => x.name).join(', ')}`,
      );
    }
    return h;
  }

  dockerSocket(host: string): string {
    return hostPaths(this.names, this.host(host).name).dockerSocket;
  }

  /** The argv that runs a command inside a host (for callers that want the terminal, like the CLI). */
  commandIn(host: string, argv: readonly string[]): string[] {
    return inHost(hostPaths(this.names, this.host(host).name), argv);
  }

  async exec(host: string, argv: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    const [cmd, ...args] = this.commandIn(host, argv);
    return run(cmd ?? 'nsenter', args, options);
  }

  async status(): Promise<HostStatus[]> {
    const links = new Map((await listLinks()).map((l) => [l.ifname, l]));
    return Promise.all(
      this.current.hosts.map(async (h) => {
        const p = hostPaths(this.names, h.name);
        const link = links.get(this.names.veth(h.index));
        let sshd = false;
        try {
          const pid = Number((await readFile(`${p.run}/sshd.pid`, 'utf8')).trim());
          process.kill(pid, 0);
          sshd = true;
        } catch {
          sshd = false;
        }
        const group = this.current.partition.findIndex((g) => g.includes(h.name));
        return {
          name: h.name,
          address: h.address,
          link: link?.flags?.includes('UP') ? 'up' : 'cut',
          partitionGroup: group < 0 ? null : group + 1,
          dockerd: await dockerPing(p.dockerSocket),
          sshd,
          processes: (await hostProcesses(await identity(this.names, h.name))).length,
        } satisfies HostStatus;
      }),
    );
  }

  /** Takes the host's underlay link down, as if its cable were pulled. */
  async cut(host: string): Promise<void> {
    const h = this.host(host);
    await must('ip', ['link', 'set', this.names.veth(h.index), 'down']);
    if (!this.current.cut.includes(h.name)) this.current.cut.push(h.name);
    await writeState(this.names, this.current);
  }

  /** Heals the named hosts' links; with none named, every cut link and the partition. */
  async heal(hosts: readonly string[] = []): Promise<void> {
    const targets = hosts.length > 0 ? hosts.map((x) => this.host(x)) : this.current.hosts;
    for (const h of targets) await must('ip', ['link', 'set', this.names.veth(h.index), 'up']);
    this.current.cut = this.current.cut.filter((c) => !targets.some((t) => t.name === c));
    if (hosts.length === 0) {
      await removeNftTable(this.names);
      this.current.partition = [];
    }
    await writeState(this.names, this.current);
  }

  /**
   * Splits the lab into groups that cannot reach each other: frames between their underlay ports
   * are dropped on the bridge. Hosts in no group keep talking to everyone, as does the machine.
   */
  async partition(groups: readonly (readonly string[])[]): Promise<void> {
    if (groups.length < 2) {
      throw new ShoalError('bad_partition', 'a partition needs at least two groups', 'e.g. shoal lab partition h1,h2 h3');
    }
    const seen = new Set<string>();
    for (const g of groups) {
      if (g.length === 0) throw new ShoalError('bad_partition', 'a partition group is empty', 'name hosts separated by commas, e.g. h1,h2');
      for (const x of g) {
        this.host(x);
        if (seen.has(x)) throw new ShoalError('bad_partition', `host ${x} is in two groups`, 'put each host in one group only');
        seen.add(x);
      }
    }
    const port = (x: string): string => this.names.veth(this.host(x).index);
    const rules = partitionPairs(groups).map(([a, b]) => `    iifname "${port(a)}" oifname "${port(b)}" drop`);
    const t = this.names.nftTable;
    // declare, delete, re-create: replaces an earlier partition in one transaction
    const script = [`table bridge ${t}`, `delete table bridge ${t}`, `table bridge ${t} {`, '  chain forward {', '    type filter hook forward priority 0; policy accept;', ...rules, '  }', '}', ''].join('\n');
    await must('nft', ['-f', '-'], { input: script });
    this.current.partition = groups.map((g) => [...g]);
    await writeState(this.names, this.current);
  }

  /** Crashes the host: every process of it (dockerd, containerd, containers, sshd) gets SIGKILL. */
  async kill(host: string): Promise<number> {
    return killHost(await identity(this.names, this.host(host).name));
  }

  /** Boots a killed host again: its dockerd and sshd, waiting until both answer. */
  async revive(host: string): Promise<void> {
    const h = this.host(host);
    await startDaemons(this.names, h);
    await waitForDaemons(this.names, h);
  }

  /**
   * dockerd dies (SIGKILL, as in a crash or an OOM kill) and is started again after `downMs`;
   * everything else on the host keeps running: its agent, its containers' processes (their
   * shims outlive dockerd). The containerd this dockerd started dies with it: left alone it
   * stops answering, and the next dockerd would wait on it forever. (On a host where containerd
   * is a service of its own it would live on; the containers end the same way.) Started again
   * without live-restore, dockerd kills the containers it finds running, as it would on a real
   * host. Resolves once it answers again.
   */
  async restartDocker(host: string, downMs = 0): Promise<void> {
    const h = this.host(host);
    const p = hostPaths(this.names, h.name);
    const pid = Number((await readFile(`${p.run}/docker.pid`, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      const children = await childrenOf(pid);
      for (const victim of [pid, ...children]) {
        try {
          process.kill(victim, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const victim of [pid, ...children]) for (let i = 0; i < 200 && (await alive(victim)); i++) await new Promise((r) => setTimeout(r, 50));
    }
    // a killed containerd may linger as a zombie nobody reaps yet; dockerd would take its pid
    // file for a live containerd and wait for it
    await rm(`${p.run}/docker/containerd/containerd.pid`, { force: true });
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await startDockerd(this.names, h);
    await waitForDockerd(this.names, h);
  }

  /** An ssh_config snippet so `ssh -F FILE h2` (or, included in ~/.ssh/config, `ssh h2`) works. */
  sshConfig(): string {
    return this.current.hosts
      .map((h) =>
        [
          `Host ${h.name} ${this.name}-${h.name}`,
          `  HostName ${h.address}`,
          '  User root',
          `  IdentityFile ${this.names.dir}/id_ed25519`,
          '  IdentitiesOnly yes',
          `  UserKnownHostsFile ${this.names.dir}/known_hosts`,
          '  StrictHostKeyChecking yes',
          '',
        ].join('\n'),
      )
      .join('\n');
  }
}

async function knownHosts(names: LabNames, state: LabState): Promise<string> {
  const lines: string[] = [];
  for (const h of state.hosts) {
    const key = (await readFile(`${names.hostDir(h.name)}/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    lines.push(`${h.address},${h.name},${state.name}-${h.name} ${key}`);
  }
  return lines.join('\n') + '\n';
}

async function identity(names: LabNames, host: string): Promise<{ netnsInode: number | undefined; mntnsInode: number | undefined; cgroup: string }> {
  return {
    netnsInode: await nsInode(names.netnsPath(host)),
    mntnsInode: await nsInode(names.mntPath(host)),
    cgroup: names.cgroup(host),
  };
}

async function removeNftTable(names: LabNames): Promise<void> {
  if ((await which('nft')) === undefined) return;
  const r = await run('nft', ['list', 'tables', 'bridge']);
  if (r.stdout.includes(`table bridge ${names.nftTable}`)) await must('nft', ['delete', 'table', 'bridge', names.nftTable]);
}

/** Splits an `iptables -S` line into argv; its only quoting is around the comment. */
export function splitRule(rule: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(rule); m; m = re.exec(rule)) out.push(m[1] ?? m[2] ?? '');
  return out;
}
