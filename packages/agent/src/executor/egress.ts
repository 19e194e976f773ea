import { ShoalError, cidrLast, formatIpv4, parseCidr, parseIpv4, type Cidr } from '@shoal/core';
import { succeeds, type Kernel } from '../kernel.js';

/** The gateway bridge as the egress driver plugs containers into it. */
export interface EgressBridge {
  /** The Linux bridge device: Docker's gateway bridge, whose NAT and isolation rules cover it whole. */
  device: string;
  gateway: string;
  /** The bridge network's subnet, e.g. 172.18.0.0/16. */
  subnet: string;
  /** The part of the subnet Docker never hands out, which this driver does. */
  range: string;
}

/**
 * The gateway bridge's subnet cut in two: Docker hands out the lower half, Shoal the upper one.
 * Undefined for a subnet too small to share.
 */
export function splitGatewaySubnet(subnet: string): { docker: string; shoal: string } | undefined {
  const c = parseCidr(subnet);
  if (c.prefix > 28) return undefined;
  const half = c.prefix + 1;
  return { docker: `${formatIpv4(c.network)}/${half}`, shoal: `${formatIpv4(c.network + 2 ** (32 - half))}/${half}` };
}

/** The host end of a container's egress veth: unique per container, within 15 bytes. */
export function egressHostVeth(containerId: string): string {
  return `sg${containerId.slice(0, 12)}`;
}

/**
 * A task's egress interface without Docker's network machinery. A container made with Docker's
 * networking disabled starts about three times faster here (no libnetwork sandbox, no
 * setkey hook re-running dockerd, no IPAM and endpoint store); this driver then gives it what the
 * gateway bridge would have: a veth on that same bridge as `eth0`, an address from the part of
 * the subnet Docker leaves alone, and the default route. Docker's rules for the bridge (NAT out,
 * no traffic between tasks) cover it as they cover its own endpoints. Tasks that publish ports
 * keep Docker's endpoint, which carries the port mappings.
 */
export class EgressDriver {
  readonly #range: Cidr;
  readonly #prefix: number;
  /** Addresses of the containers seen at the last look, and those handed out since. */
  #inUse = new Set<string>();
  readonly #reserved = new Set<string>();
  /** Where the next search for a free address starts: a freed address is not reused at once. */
  #cursor = 0;
  readonly #attached = new Set<number>();

  constructor(
    private readonly kernel: Kernel,
    readonly bridge: EgressBridge,
  ) {
    this.#range = parseCidr(bridge.range);
    this.#prefix = parseCidr(bridge.subnet).prefix;
  }

  /** An address for a new container, held until the container is seen or released. */
  reserve(): string {
    const size = cidrLast(this.#range) - this.#range.network - 1; // neither the first nor the broadcast
    for (let i = 0; i < size; i++) {
      const candidate = formatIpv4(this.#range.network + 1 + ((this.#cursor + i) % size));
      if (this.#inUse.has(candidate) || this.#reserved.has(candidate)) continue;
      this.#cursor = (this.#cursor + i + 1) % size;
      this.#reserved.add(candidate);
      return candidate;
    }
    throw new ShoalError('egress_exhausted', `no free address left in ${this.bridge.range} for the gateway bridge`, 'remove stopped tasks\' containers on this host');
  }

  release(address: string): void {
    this.#reserved.delete(address);
  }

  /** The addresses the host's containers hold now (from their labels). */
  seen(addresses: Iterable<string>): void {
    this.#inUse = new Set(addresses);
    for (const a of this.#inUse) this.#reserved.delete(a);
  }

  /**
   * Plugs the container in: a veth made with its far end inside the container as eth0 and its
   * near end on the bridge (one `ip` run), then the address, link and default route inside
   * (one nsenter).
   */
  async attach(pid: number, containerId: string, address: string): Promise<void> {
    parseIpv4(address);
    const near = egressHostVeth(containerId);
    await this.kernel.run(['ip', '-batch', '-'], `link add ${near} type veth peer name eth0 netns ${pid}\nlink set ${near} master ${this.bridge.device} up\n`);
    await this.kernel.run(['nsenter', '-t', String(pid), '-n', 'ip', '-batch', '-'], `addr add ${address}/${this.#prefix} dev eth0\nlink set eth0 up\nroute add default via ${this.bridge.gateway} dev eth0\n`);
    this.#attached.add(pid);
  }

  /** Whether the container has its egress interface (a container this driver plugged in is known). */
  async isAttached(pid: number): Promise<boolean> {
    if (this.#attached.has(pid)) return true;
    const there = await succeeds(this.kernel, ['nsenter', '-t', String(pid), '-n', 'ip', 'link', 'show', 'dev', 'eth0']);
    if (there) this.#attached.add(pid);
    return there;
  }

  /** Forgets containers that are gone (a later one may get their pid). */
  retain(pids: ReadonlySet<number>): void {
    for (const pid of this.#attached) if (!pids.has(pid)) this.#attached.delete(pid);
  }
}

/** /etc/hosts for a container Docker gave no network: what Docker would have written. */
export function hostsFile(address: string, hostname: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `${address}\t${hostname}`,
    '',
  ].join('\n');
}
