import type { Network, NetworkAllocation, Port, Service, Task, TaskAttachment } from '@shoal/core';
import { PortAllocator, ShoalError, isShoalError, isTerminalTaskState, macForAddress, resolveIpam } from '@shoal/core';
import { NetworkAddresses } from './addresses.js';

import type { SubnetPoolConfig } from './subnets.js';
import { DEFAULT_SUBNET_POOL_CONFIG, SubnetPool } from './subnets.js';
import { VniPool } from './vni.js';

export type AllocatorConfig = SubnetPoolConfig;

/** What a rebuild reads: everything that holds a subnet, a VNI or an address. */
export interface AllocatorContents {
  networks: readonly Network[];
  services: readonly Service[];
  tasks: readonly Task[];
}

/** Who holds an address: a task's own, or a service's virtual IP. */
export const taskOwner = (taskId: string): string => `task:${taskId}`;
export const vipOwner = (serviceId: string): string => `vip:${serviceId}`;

/** Overlays get everything from the cluster; Docker's local drivers manage their own addresses. */
export function isClusterIpam(network: Network): boolean {
  return network.spec.driver === 'overlay';
}

/**
 * Cluster-wide IPAM, run by the leader only and rebuilt from the store on every election: the
 * store's records are the truth, this is the index that makes the next choice fast and safe.
 * Every method is all or nothing: a refusal leaves nothing half-taken.
 */
export class Allocator {
  readonly #subnets: SubnetPool;
  readonly #vnis = new VniPool();
  readonly #allocations = new Map<string, NetworkAllocation>();
  readonly #addresses = new Map<string, NetworkAddresses>();
  readonly #ports = new PortAllocator();
  /** Inconsistencies found while rebuilding, for the leader to log; nothing is double-booked. */
  readonly rebuildProblems: string[] = [];

  constructor(config: AllocatorConfig = DEFAULT_SUBNET_POOL_CONFIG) {
    this.#subnets = new SubnetPool(config);
  }

  /**
   * An allocator holding exactly what the store records. Live tasks and VIPs keep their
   * addresses; tasks that ended hold none (their records stay as history).
   */
  static rebuild(contents: AllocatorContents, config?: AllocatorConfig): Allocator {
    const a = new Allocator(config);
    const note = (what: string, err: unknown): void => void a.rebuildProblems.push(`${what}: ${isShoalError(err) ? err.what : String(err)}`);
    for (const n of contents.networks) {
      if (n.allocation) {
        try {
          a.adoptNetwork(n);
        } catch (err) {
          note(`network ${n.spec.name}`, err);
        }
      }
    }
    for (const s of contents.services) {
      try {
        a.#ports.assign(s.id, s.ports);
      } catch (err) {
        note(`published ports of service ${s.spec.name}`, err);
      }
      for (const vip of s.vips) {
        try {
          a.#addresses.get(vip.networkId)?.claim(vipOwner(s.id), vip.address);
        } catch (err) {
          note(`VIP of service ${s.spec.name}`, err);
        }
      }
    }
    for (const t of contents.tasks) {
      if (isTerminalTaskState(t.status.state)) continue;
      for (const att of t.attachments) {
        try {
          a.#addresses.get(att.networkId)?.claim(taskOwner(t.id), att.address.split('/')[0] ?? '');
        } catch (err) {
          note(`task ${t.id}`, err);
        }
      }
    }
    return a;
  }

  get pools(): readonly string[] {
    return this.#subnets.pools;
  }

  extendPool(pool: string): void {
    this.#subnets.extend(pool);
  }

  // ---- networks ----

  /** Decide a network's subnet, gateway and VNI; the same answer again if already decided. */
  allocateNetwork(network: Network): NetworkAllocation | undefined {
    const known = this.#allocations.get(network.id);
    if (known) return known;
    if (network.allocation) return this.adoptNetwork(network);
    const pool = network.spec.ipam[0];
    if (!isClusterIpam(network) && !pool) return undefined;
    const { id, spec } = network;
    const subnet = pool ? this.#subnets.reserve(id, spec.name, resolveIpam(pool).subnet) : this.#subnets.carve(id, spec.name);
    try {
      const ipam = resolveIpam({ subnet, ipRange: pool?.ipRange, gateway: pool?.gateway });
      const vni = isClusterIpam(network) ? this.#vnis.allocate() : undefined;
      const allocation: NetworkAllocation = { subnet: ipam.subnet, gateway: ipam.gateway, ...(ipam.ipRange === undefined ? {} : { ipRange: ipam.ipRange }), ...(vni === undefined ? {} : { vni }) };
      this.#track(network, allocation);
      return allocation;
    } catch (err) {
      this.#subnets.release(id);
      throw err;
    }
  }

  /** Take over a decision already in the store (a rebuild, or a network created with one). */
  adoptNetwork(network: Network): NetworkAllocation {
    const allocation = network.allocation;
    if (!allocation) throw new ShoalError('not_allocated', `network ${network.spec.name} has no allocation to adopt`);
    const known = this.#allocations.get(network.id);
    if (known) return known;
    this.#subnets.reserve(network.id, network.spec.name, allocation.subnet);
    try {
      if (allocation.vni !== undefined) this.#vnis.reserve(allocation.vni);
    } catch (err) {
      this.#subnets.release(network.id);
      throw err;
    }
    this.#track(network, allocation);
    return allocation;
  }

  #track(network: Network, allocation: NetworkAllocation): void {
    this.#allocations.set(network.id, allocation);
    if (isClusterIpam(network)) {
      const { subnet, gateway, ipRange } = allocation;
      this.#addresses.set(network.id, new NetworkAddresses(network.spec.name, { subnet, gateway, ...(ipRange === undefined ? {} : { ipRange }) }));
    }
  }

  releaseNetwork(networkId: string): boolean {
    const allocation = this.#allocations.get(networkId);
    if (!allocation) return false;
    if (allocation.vni !== undefined) this.#vnis.release(allocation.vni);
    this.#subnets.release(networkId);
    this.#allocations.delete(networkId);
    this.#addresses.delete(networkId);
    return true;
  }

  networkIds(): string[] {
    return [...this.#allocations.keys()].sort();
  }

  // ---- addresses ----

  /**
   * One address on each of the given overlay networks for a task, the one asked for where
   * `ipv4Address` is set. All or nothing: on exhaustion the task holds no address at all.
   */
  allocateTask(taskId: string, targets: readonly { network: Network; ipv4Address?: string | undefined }[]): TaskAttachment[] {
    const owner = taskOwner(taskId);
    const taken: NetworkAddresses[] = [];
    try {
      return targets.map(({ network, ipv4Address }) => {
        const pool = this.#addresses.get(network.id);
        if (!pool) throw new ShoalError('not_allocated', `network ${network.spec.name} has no subnet yet`, 'wait for the network to be allocated');
        const address = ipv4Address === undefined ? pool.allocate(owner) : pool.claim(owner, ipv4Address);
        taken.push(pool);
        return { networkId: network.id, address: pool.withPrefix(address), mac: macForAddress(address) };
      });
    } catch (err) {
      for (const pool of taken) pool.release(owner);
      throw err;
    }
  }

  /** A task's address on one network, when its service leaves that network. */
  releaseTaskOn(taskId: string, networkId: string): boolean {
    return this.#addresses.get(networkId)?.release(taskOwner(taskId)) ?? false;
  }

  releaseTask(taskId: string): number {
    return this.#releaseOwner(taskOwner(taskId));
  }

  /** A service's VIP on one network (vip endpoint mode). */
  allocateVip(serviceId: string, network: Network): string {
    const pool = this.#addresses.get(network.id);
    if (!pool) throw new ShoalError('not_allocated', `network ${network.spec.name} has no subnet yet`, 'wait for the network to be allocated');
    return pool.allocate(vipOwner(serviceId));
  }

  releaseVip(serviceId: string, networkId: string): boolean {
    return this.#addresses.get(networkId)?.release(vipOwner(serviceId)) ?? false;
  }

  releaseVips(serviceId: string): number {
    return this.#releaseOwner(vipOwner(serviceId));
  }

  #releaseOwner(owner: string): number {
    let n = 0;
    for (const pool of this.#addresses.values()) if (pool.release(owner)) n++;
    return n;
  }

  /** Why a network has no address to give, if a search already found it full. */
  exhausted(networkId: string): string | undefined {
    return this.#addresses.get(networkId)?.exhausted;
  }

  // ---- published ports ----

  /**
   * A service's ingress ports with every published number decided: those it asks for, and for
   * the others the number it was given before (`current`), or a fresh one from 30000–32767.
   * All or nothing; a port another service publishes is refused naming it.
   */
  assignPorts(serviceId: string, wanted: readonly Port[], current: readonly Port[]): Port[] {
    const pinned = wanted.map((p) => {
      if (p.mode !== 'ingress' || p.published !== undefined) return p;
      const before = current.find((c) => c.mode === 'ingress' && c.target === p.target && c.protocol === p.protocol && c.published !== undefined);
      return before ? { ...p, published: before.published } : p;
    });
    return this.#ports.assign(serviceId, pinned);
  }

  releasePorts(serviceId: string): number {
    return this.#ports.releaseAll(serviceId);
  }

  /** Services holding a published port, for reaping those the store dropped. */
  portOwners(): string[] {
    return [...new Set(this.#ports.toState().taken.map(([, owner]) => owner))].sort();
  }

  /** Who holds `address` on a network: `task:<id>`, `vip:<service id>`, or nobody. */
  holderOf(networkId: string, address: string): string | undefined {
    return this.#addresses.get(networkId)?.ownerOf(address.split('/')[0] ?? '');
  }

  /** Every owner holding an address, over all networks, for reaping those the store dropped. */
  owners(): string[] {
    const all = new Set<string>();
    for (const pool of this.#addresses.values()) for (const o of pool.owners()) all.add(o);
    return [...all].sort();
  }

  /** Counts, for tests and for `cluster info`. */
  usage(): { networks: number; addresses: number; ports: number } {
    let addresses = 0;
    for (const pool of this.#addresses.values()) addresses += pool.size;
    return { networks: this.#allocations.size, addresses, ports: this.#ports.toState().taken.length };
  }
}
