import type { IpamConfig } from '@shoal/core';
import { AddressAllocator, ShoalError } from '@shoal/core';

/**
 * One network's addresses and who holds each. Knowing the owner makes allocation idempotent: the
 * leader decides before the decision is committed, and if the proposal is lost the next pass asks
 * again for the same owner and gets the same address instead of leaking the first.
 */
export class NetworkAddresses {
  readonly networkName: string;
  readonly #ipam: AddressAllocator;
  readonly #byOwner = new Map<string, string>();
  readonly #byAddress = new Map<string, string>();
  /** Set when a search found no free address, until one is freed: a 30,000-task deploy onto a full network must not scan the range once per task. */
  #full: ShoalError | undefined;

  constructor(networkName: string, config: IpamConfig) {
    this.networkName = networkName;
    this.#ipam = AddressAllocator.create(config);
  }

  get config(): IpamConfig {
    return this.#ipam.config;
  }

  withPrefix(address: string): string {
    return this.#ipam.withPrefix(address);
  }

  addressOf(owner: string): string | undefined {
    return this.#byOwner.get(owner);
  }

  ownerOf(address: string): string | undefined {
    return this.#byAddress.get(address);
  }

  /** Any free address for `owner`, or the one it already holds. */
  allocate(owner: string): string {
    const held = this.#byOwner.get(owner);
    if (held !== undefined) return held;
    if (this.#full) throw this.#full;
    let address: string;
    try {
      address = this.#ipam.allocate();
    } catch (err) {
      const where = this.config.ipRange === undefined ? `subnet ${this.config.subnet}` : `ip-range ${this.config.ipRange}`;
      this.#full = new ShoalError('address_exhausted', `no free address is left in the ${where} of network ${this.networkName}`, 'scale a service down, or give the network a larger subnet', { cause: err });
      throw this.#full;
    }
    this.#record(owner, address);
    return address;
  }

  /** A given address for `owner` (a fixed `ipv4_address`, or rebuilding from the store). */
  claim(owner: string, address: string): string {
    const holder = this.#byAddress.get(address);
    if (holder === owner) return address;
    if (holder !== undefined) {
      throw new ShoalError('address_taken', `${address} on network ${this.networkName} is held by ${holder}`, 'choose another address, or let Shoal pick one');
    }
    const held = this.#byOwner.get(owner);
    if (held !== undefined) this.release(owner);
    this.#record(owner, this.#ipam.claim(address));
    return address;
  }

  /** Free what `owner` holds; false if it held nothing, so a stale release cannot free another's address. */
  release(owner: string): boolean {
    const address = this.#byOwner.get(owner);
    if (address === undefined) return false;
    this.#byOwner.delete(owner);
    this.#byAddress.delete(address);
    this.#ipam.release(address);
    this.#full = undefined;
    return true;
  }

  /** Why no address can be had now, without searching for one; undefined when one may be free. */
  get exhausted(): string | undefined {
    return this.#full?.what;
  }

  owners(): string[] {
    return [...this.#byOwner.keys()];
  }

  get size(): number {
    return this.#byOwner.size;
  }

  #record(owner: string, address: string): void {
    this.#byOwner.set(owner, address);
    this.#byAddress.set(address, owner);
  }
}
