import { createHash } from 'node:crypto';
import { ShoalError, cidrsOverlap, macForAddress, parseCidr } from '@shoal/core';
import { succeeds, type Kernel } from '../kernel.js';
import { overlayMtu } from './mac.js';

/** One overlay network as a host needs to know it. */
export interface OverlaySpec {
  /** VXLAN network identifier, from the allocator; also names the network's sandbox. */
  vni: number;
  /** e.g. 10.0.1.0/24 */
  subnet: string;
  /** Held by the sandbox's own endpoint; never a task's address. */
  gateway: string;
}

/** A task's endpoint on another host: what static FDB and neighbour entries are made of. */
export interface RemoteEndpoint {
  address: string;
  /** The underlay address of the host the task runs on. */
  host: string;
}

/** A task's endpoint on this host: a macvlan of the network's VXLAN device, inside the container. */
export interface LocalEndpoint {
  /** Stable id (the task's); names the interface until it is inside the container. */
  id: string;
  address: string;
  /** The container's init pid: its network namespace is /proc/PID/ns/net. */
  pid: number;
  /** The interface's name inside the container, e.g. eth0. */
  ifname: string;
  /**
   * The network the interface is on, written on it (its alias) so that a later pass knows which
   * interface to take out when the task leaves that network.
   */
  networkId?: string;
}

/** What a container's network namespace holds: every interface name, and Shoal's overlay ones. */
export interface ContainerLinks {
  ifnames: string[];
  overlays: { ifname: string; networkId: string | undefined; addresses: string[] }[];
}

const ALIAS_PREFIX = 'shoal:net=';

export interface OverlayHost {
  /** This host's underlay address: the VXLAN source. */
  localAddress: string;
  /** The underlay interface, e.g. eth0. */
  underlayDevice: string;
  /** Defaults to the IANA port, 4789. */
  vxlanPort?: number;
}

/** What the kernel holds for one overlay on this host, read back from it. */
export interface OverlayKernelState {
  /** MAC → underlay address, from the VXLAN device's forwarding database. */
  fdb: Map<string, string>;
  /** overlay address → MAC, from the VXLAN device's neighbour table. */
  neighbours: Map<string, string>;
}

const VXLAN = 'vxlan0';
/** The sandbox's own endpoint, holding the gateway address. */
const GATEWAY = 'gw0';

export function sandboxName(vni: number): string {
  return `shoal-ov-${vni}`;
}

/**
 * The name an endpoint's interface has while it is made in the sandbox, before it moves into the
 * container and takes its ifname. Interface names are limited to 15 bytes: a short digest of the
 * endpoint id keeps them unique.
 */
export function endpointTempName(endpointId: string): string {
  return `sh${createHash('sha256').update(endpointId).digest('hex').slice(0, 12)}`;
}

function prefixOf(subnet: string): number {
  const p = Number(subnet.split('/')[1]);
  if (!Number.isInteger(p) || p < 0 || p > 32) throw new ShoalError('bad_subnet', `overlay subnet ${subnet} has no valid prefix length`);
  return p;
}

/**
 * The VXLAN overlay on one host. Per network, a sandbox network namespace holds a VXLAN device,
 * created in the host's namespace and moved in, so its UDP socket speaks over the underlay while
 * the overlay's addresses stay apart from the host's. Each container's interface is a macvlan
 * (bridge mode) of that device: a frame leaves the container straight into the VXLAN device,
 * with no veth pair and no bridge to cross (libnetwork's bridge-and-veth layout costs about a
 * tenth of the throughput here), and local containers still reach each other through the
 * macvlan's own switching. Learning is off and nothing is flooded: remote endpoints are static
 * FDB entries (MAC → host) and neighbour entries the VXLAN device answers ARP from (proxy), all
 * from cluster state.
 */
export class OverlayDriver {
  readonly #port: number;
  /** Each sandbox's MTU, read once: it is fixed when the VXLAN device is made. */
  readonly #mtus = new Map<number, number>();
  /** Per sandbox, the remote endpoints its kernel entries were last made exactly. */
  readonly #remotes = new Map<number, string>();

  constructor(
    private readonly kernel: Kernel,
    private readonly host: OverlayHost,
  ) {
    this.#port = host.vxlanPort ?? 4789;
  }

  private ip(vni: number, ...args: string[]): Promise<string> {
    return this.kernel.run(['ip', '-n', sandboxName(vni), ...args]);
  }

  /** The overlay MTU: the underlay's minus VXLAN's 50 bytes, read from the kernel. */
  async mtu(): Promise<number> {
    const out = await this.kernel.run(['ip', '-j', 'link', 'show', 'dev', this.host.underlayDevice]);
    const [link] = JSON.parse(out) as { mtu: number }[];
    if (!link) throw new ShoalError('no_underlay', `underlay device ${this.host.underlayDevice} not found`);
    return overlayMtu(link.mtu);
  }

  /**
   * A route of this host that an overlay's subnet would shadow: inside a container the overlay's
   * interface would win, so that part of the host's network would be out of its reach. The
   * default route overlaps everything and shadows nothing.
   */
  async routeOverlapping(subnet: string): Promise<{ dst: string; dev: string } | undefined> {
    const mine = parseCidr(subnet);
    const routes = JSON.parse(await this.kernel.run(['ip', '-j', '-4', 'route', 'show', 'table', 'main'])) as { dst: string; dev?: string }[];
    for (const r of routes) {
      if (r.dst === 'default') continue;
      const dst = r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      if (cidrsOverlap(mine, parseCidr(dst))) return { dst, dev: r.dev ?? '?' };
    }
    return undefined;
  }

  async exists(vni: number): Promise<boolean> {
    return succeeds(this.kernel, ['ip', '-n', sandboxName(vni), 'link', 'show', 'dev', VXLAN]);
  }

  /** Creates the network's sandbox, VXLAN device and gateway endpoint if they are not there yet. */
  async ensureNetwork(spec: OverlaySpec): Promise<void> {
    if (await this.exists(spec.vni)) return;
    const ns = sandboxName(spec.vni);
    const mtu = String(await this.mtu());
    this.#mtus.delete(spec.vni);
    this.#remotes.delete(spec.vni);
    const tmp = `vx${spec.vni}`;
    // two processes: the host's side (the sandbox, the VXLAN device made here and moved in),
    // then the sandbox's (names, the gateway endpoint, links up)
    const host = [
      `netns add ${ns}`,
      `link add ${tmp} mtu ${mtu} type vxlan id ${spec.vni} dstport ${this.#port} local ${this.host.localAddress} dev ${this.host.underlayDevice} nolearning proxy`,
      `link set ${tmp} netns ${ns}`,
    ];
    const sandbox = [
      'link set lo up',
      `link set ${tmp} name ${VXLAN}`,
      `link set ${VXLAN} up`,
      `link add link ${VXLAN} name ${GATEWAY} address ${macForAddress(spec.gateway)} mtu ${mtu} type macvlan mode bridge`,
      `addr add ${spec.gateway}/${prefixOf(spec.subnet)} dev ${GATEWAY}`,
      `link set ${GATEWAY} up`,
    ];
    try {
      await this.kernel.run(['ip', '-batch', '-'], `${host.join('\n')}\n`);
    } catch {
      // a sandbox or device left half-made by a crash: rebuilt from nothing
      if (await succeeds(this.kernel, ['ip', 'netns', 'pids', ns])) await this.kernel.run(['ip', 'netns', 'del', ns]);
      await this.kernel.run(['ip', 'link', 'del', tmp]).catch(() => undefined);
      await this.kernel.run(['ip', '-batch', '-'], `${host.join('\n')}\n`);
    }
    await this.kernel.run(['ip', '-n', ns, '-batch', '-'], `${sandbox.join('\n')}\n`);
    this.#mtus.set(spec.vni, Number(mtu));
  }

  /** The MTU of a network's endpoints on this host: its VXLAN device's. */
  private async networkMtu(vni: number): Promise<number> {
    let mtu = this.#mtus.get(vni);
    if (mtu === undefined) {
      const [link] = JSON.parse(await this.ip(vni, '-j', 'link', 'show', 'dev', VXLAN)) as { mtu: number }[];
      mtu = link?.mtu ?? (await this.mtu());
      this.#mtus.set(vni, mtu);
    }
    return mtu;
  }

  /** Removes the network's sandbox; its bridge, VXLAN device and veths go with it. */
  async removeNetwork(vni: number): Promise<void> {
    this.#mtus.delete(vni);
    this.#remotes.delete(vni);
    if (await succeeds(this.kernel, ['ip', 'netns', 'pids', sandboxName(vni)])) {
      await this.kernel.run(['ip', 'netns', 'del', sandboxName(vni)]);
    }
  }

  /**
   * Plugs a container into the network: a macvlan of the VXLAN device, made straight inside the
   * container under its ifname, up, with its MAC and MTU (one `ip` run), then its address and
   * the network's id as its alias (one nsenter). Two processes per attach: on a busy host each spawn costs more than the kernel work.
   */
  async attach(spec: OverlaySpec, ep: LocalEndpoint): Promise<void> {
    const mtu = String(await this.networkMtu(spec.vni));
    const inContainer = (...args: string[]): Promise<string> => this.kernel.run(['nsenter', '-t', String(ep.pid), '-n', 'ip', ...args]);
    await this.ip(spec.vni, 'link', 'add', 'link', VXLAN, 'name', ep.ifname, 'netns', String(ep.pid), 'address', macForAddress(ep.address), 'mtu', mtu, 'up', 'type', 'macvlan', 'mode', 'bridge');
    // the address, and the network written on the interface, in one process
    const inside = [`addr add ${ep.address}/${prefixOf(spec.subnet)} dev ${ep.ifname}`, ...(ep.networkId !== undefined ? [`link set ${ep.ifname} alias ${ALIAS_PREFIX}${ep.networkId}`] : [])];
    try {
      await this.kernel.run(['nsenter', '-t', String(ep.pid), '-n', 'ip', '-batch', '-'], `${inside.join('\n')}\n`);
    } catch (err) {
      await inContainer('link', 'del', ep.ifname).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The container's interfaces, read from its namespace: the overlay ones are the macvlans (an
   * overlay endpoint is a macvlan of the network's VXLAN device), with the network written on
   * them by attach (none on an interface made before the agent wrote it).
   */
  async links(pid: number): Promise<ContainerLinks> {
    const out = await this.kernel.run(['nsenter', '-t', String(pid), '-n', 'ip', '-j', '-d', 'addr', 'show']);
    const links = JSON.parse(out.trim() || '[]') as { ifname: string; ifalias?: string; linkinfo?: { info_kind?: string }; addr_info?: { family: string; local: string }[] }[];
    return {
      ifnames: links.map((l) => l.ifname),
      overlays: links
        .filter((l) => l.linkinfo?.info_kind === 'macvlan')
        .map((l) => ({
          ifname: l.ifname,
          networkId: l.ifalias?.startsWith(ALIAS_PREFIX) ? l.ifalias.slice(ALIAS_PREFIX.length) : undefined,
          addresses: (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local),
        })),
    };
  }

  /** The VNIs whose sandboxes exist on this host, to find those no task needs any more. */
  async sandboxes(): Promise<number[]> {
    const out = await this.kernel.run(['ip', '-j', 'netns', 'list']);
    return (JSON.parse(out.trim() || '[]') as { name: string }[])
      .map((n) => /^shoal-ov-(\d+)$/.exec(n.name)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number);
  }

  /** Unplugs a container from a network: its interface on it goes, the container runs on. */
  async detach(pid: number, ifname: string): Promise<void> {
    await this.kernel.run(['nsenter', '-t', String(pid), '-n', 'ip', 'link', 'del', ifname]).catch(() => undefined);
  }

  async read(vni: number): Promise<OverlayKernelState> {
    const fdb = new Map<string, string>();
    const fdbOut = await this.kernel.run(['bridge', '-n', sandboxName(vni), '-j', 'fdb', 'show', 'dev', VXLAN]);
    for (const e of JSON.parse(fdbOut || '[]') as { mac: string; dst?: string; flags?: string[] }[]) {
      if (e.dst && e.mac !== '00:00:00:00:00:00') fdb.set(e.mac, e.dst);
    }
    const neighbours = new Map<string, string>();
    const neighOut = await this.ip(vni, '-j', 'neigh', 'show', 'dev', VXLAN);
    for (const n of JSON.parse(neighOut || '[]') as { dst: string; lladdr?: string }[]) {
      if (n.lladdr) neighbours.set(n.dst, n.lladdr);
    }
    return { fdb, neighbours };
  }

  /**
   * Makes the kernel's FDB and neighbour entries for the network exactly the given remote
   * endpoints: missing ones added, stale ones (a task that moved or ended) removed, so the
   * overlay never sends to a host that no longer has the address.
   */
  async setRemotes(vni: number, remotes: readonly RemoteEndpoint[]): Promise<{ added: number; removed: number }> {
    const want = new Map(remotes.filter((r) => r.host !== this.host.localAddress).map((r) => [r.address, { mac: macForAddress(r.address), host: r.host }]));
    const wantFdb = new Map([...want.values()].map((w) => [w.mac, w.host]));
    // what this driver last made exact is read back from the kernel only when it changes
    const digest = [...want].map(([a, w]) => `${a}>${w.host}`).sort().join(',');
    if (this.#remotes.get(vni) === digest) return { added: 0, removed: 0 };
    const have = await this.read(vni);
    // one `bridge -batch` and one `ip -batch` for the whole change: a deploy brings dozens of
    // endpoints at once, and a process each held the host's first tasks back
    const bridge: string[] = [];
    const ip: string[] = [];
    for (const [mac, dst] of have.fdb) {
      if (wantFdb.get(mac) !== dst) bridge.push(`fdb del ${mac} dev ${VXLAN} dst ${dst} self`);
    }
    for (const [address, mac] of have.neighbours) {
      if (want.get(address)?.mac !== mac) ip.push(`neigh del ${address} dev ${VXLAN}`);
    }
    const removed = bridge.length + ip.length;
    for (const [address, w] of want) {
      // `self`: the VXLAN device's own table, which steers the frame to the remote host
      if (have.fdb.get(w.mac) !== w.host) bridge.push(`fdb replace ${w.mac} dev ${VXLAN} dst ${w.host} self permanent`);
      if (have.neighbours.get(address) !== w.mac) ip.push(`neigh replace ${address} lladdr ${w.mac} dev ${VXLAN} nud permanent`);
    }
    const added = bridge.length + ip.length - removed;
    const ns = sandboxName(vni);
    if (bridge.length > 0) await this.kernel.run(['bridge', '-n', ns, '-batch', '-'], `${bridge.join('\n')}\n`);
    if (ip.length > 0) await this.kernel.run(['ip', '-n', ns, '-batch', '-'], `${ip.join('\n')}\n`);
    this.#remotes.set(vni, digest);
    return { added, removed };
  }
}
