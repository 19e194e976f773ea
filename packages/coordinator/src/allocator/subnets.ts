import { DEFAULT_POOL, DEFAULT_SUBNET_PREFIX, ShoalError, carveSubnet, cidrsOverlap, parseCidr } from '@shoal/core';

export interface SubnetPoolConfig {
  /** Where subnets are carved from, in order; more can be appended later. */
  pools: string[];
  /** The size of a carved subnet. */
  subnetPrefix: number;
}

export const DEFAULT_SUBNET_POOL_CONFIG: SubnetPoolConfig = { pools: [DEFAULT_POOL], subnetPrefix: DEFAULT_SUBNET_PREFIX };

interface Holder {
  networkId: string;
  networkName: string;
  subnet: string;
}

/**
 * The cluster's subnets: one per network, carved from the pools or chosen by a person. No two
 * networks' subnets overlap, whoever chose them, because a host attached to both could not tell
 * where to route an address of the overlap.
 */
export class SubnetPool {
  readonly #pools: string[];
  readonly #prefix: number;
  readonly #held = new Map<string, Holder>();

  constructor(config: SubnetPoolConfig = DEFAULT_SUBNET_POOL_CONFIG) {
    for (const p of config.pools) parseCidr(p);
    this.#pools = [...config.pools];
    this.#prefix = config.subnetPrefix;
  }

  get pools(): readonly string[] {
    return this.#pools;
  }

  /** Swarm's pool is fixed at init; here a cluster that runs out can be given more room. */
  extend(pool: string): void {
    const cidr = parseCidr(pool);
    const clash = this.#pools.find((p) => cidrsOverlap(parseCidr(p), cidr));
    if (clash !== undefined) {
      throw new ShoalError('pool_overlap', `address pool ${pool} overlaps the pool ${clash} the cluster already has`, 'add a pool that does not overlap');
    }
    this.#pools.push(pool);
  }

  /** The network holding a subnet that overlaps `subnet`, if any. */
  overlapping(subnet: string, exceptNetworkId?: string): Holder | undefined {
    const mine = parseCidr(subnet);
    for (const h of this.#held.values()) {
      if (h.networkId !== exceptNetworkId && cidrsOverlap(mine, parseCidr(h.subnet))) return h;
    }
    return undefined;
  }

  /** Take the subnet a person chose (or one read back from the store), refusing an overlap by name. */
  reserve(networkId: string, networkName: string, subnet: string): string {
    const other = this.overlapping(subnet, networkId);
    if (other) {
      throw new ShoalError(
        'subnet_overlap',
        `subnet ${subnet} of network ${networkName} overlaps ${other.subnet} of network ${other.networkName}`,
        'choose a subnet that no other network uses, or leave it out and let Shoal pick one',
      );
    }
    this.#held.set(networkId, { networkId, networkName, subnet });
    return subnet;
  }

  /** A fresh subnet from the pools; the same one again if this network already holds one. */
  carve(networkId: string, networkName: string): string {
    const held = this.#held.get(networkId);
    if (held) return held.subnet;
    const subnet = carveSubnet(this.#pools, this.#prefix, [...this.#held.values()].map((h) => h.subnet));
    this.#held.set(networkId, { networkId, networkName, subnet });
    return subnet;
  }

  release(networkId: string): boolean {
    return this.#held.delete(networkId);
  }

  subnetOf(networkId: string): string | undefined {
    return this.#held.get(networkId)?.subnet;
  }

  get size(): number {
    return this.#held.size;
  }
}
