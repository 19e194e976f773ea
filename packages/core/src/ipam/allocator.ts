import { ShoalError } from '../errors.js';
import type { Cidr } from './cidr.js';
import { cidrContains, cidrFirst, cidrLast, formatCidr, parseCidr } from './cidr.js';
import type { IpamConfig, IpamInput } from './config.js';
import { resolveIpam } from './config.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';

/** Everything the allocator knows; plain data so it can be stored or rebuilt from the store. */
export interface AddressAllocatorState {
  config: IpamConfig;
  /** Sorted, so equal states serialise equally. */
  allocated: string[];
  /** Where the next search starts; optional, a rebuilt allocator starts at the bottom. */
  cursor?: string;
}

/**
 * One network's addresses. Never hands out the network, broadcast or gateway address, or one
 * already held; dynamic addresses come from the ip-range when there is one. Allocation is
 * next-fit from a cursor, so an address just freed is not handed out again at once, while
 * DNS caches and neighbour tables elsewhere may still point at the old task.
 */
export class AddressAllocator {
  readonly config: IpamConfig;
  private readonly subnet: Cidr;
  private readonly range: Cidr;
  private readonly gateway: number;
  private readonly taken = new Set<number>();
  private cursor: number;

  private constructor(config: IpamConfig) {
    this.config = config;
    this.subnet = parseCidr(config.subnet);
    this.range = config.ipRange === undefined ? this.subnet : parseCidr(config.ipRange);
    this.gateway = parseIpv4(config.gateway);
    this.cursor = cidrFirst(this.range);
  }

  static create(input: IpamInput): AddressAllocator {
    return new AddressAllocator(resolveIpam(input));
  }

  /** Rebuild from stored state; an address listed twice or not allowed is a corrupt store. */
  static fromState(state: AddressAllocatorState): AddressAllocator {
    const a = new AddressAllocator(resolveIpam(state.config));
    for (const address of state.allocated) a.claim(address);
    if (state.cursor !== undefined) a.cursor = parseIpv4(state.cursor);
    return a;
  }

  toState(): AddressAllocatorState {
    return {
      config: { ...this.config },
      allocated: [...this.taken].sort((x, y) => x - y).map(formatIpv4),
      cursor: formatIpv4(this.cursor),
    };
  }

  /** The address with the subnet's prefix length, as an interface is configured. */
  withPrefix(address: string): string {
    return `${address}/${this.subnet.prefix}`;
  }

  private reservedReason(value: number): string | undefined {
    if (!cidrContains(this.subnet, value)) return `is not inside the subnet ${formatCidr(this.subnet)}`;
    if (value === this.gateway) return 'is the gateway';
    if (this.subnet.prefix < 31 && value === cidrFirst(this.subnet)) return 'is the network address';
    if (this.subnet.prefix < 31 && value === cidrLast(this.subnet)) return 'is the broadcast address';
    return undefined;
  }

  /** Take a given address (a user's `ipv4_address`, or rebuilding from the store). */
  claim(address: string): string {
    const value = parseIpv4(address);
    const reserved = this.reservedReason(value);
    if (reserved) {
      throw new ShoalError('address_reserved', `${address} ${reserved} of ${this.config.subnet}`, 'choose another address');
    }
    if (this.taken.has(value)) {
      throw new ShoalError('address_taken', `${address} is already in use on ${this.config.subnet}`, 'choose another address, or let Shoal pick one');
    }
    this.taken.add(value);
    return formatIpv4(value);
  }

  /** The next free address of the range. */
  allocate(): string {
    const first = cidrFirst(this.range);
    const last = cidrLast(this.range);
    const size = last - first + 1;
    let candidate = this.cursor < first || this.cursor > last ? first : this.cursor;
    for (let tried = 0; tried < size; tried++) {
      if (!this.taken.has(candidate) && this.reservedReason(candidate) === undefined) {
        this.taken.add(candidate);
        this.cursor = candidate === last ? first : candidate + 1;
        return formatIpv4(candidate);
      }
      candidate = candidate === last ? first : candidate + 1;
    }
    const where = this.config.ipRange === undefined ? `subnet ${this.config.subnet}` : `ip-range ${this.config.ipRange}`;
    throw new ShoalError('address_exhausted', `no free address is left in the ${where}`, 'scale the service down, or use a larger subnet');
  }

  /** Give an address back; false if it was not held, so double frees show up in tests. */
  release(address: string): boolean {
    return this.taken.delete(parseIpv4(address));
  }

  isAllocated(address: string): boolean {
    return this.taken.has(parseIpv4(address));
  }

  get allocatedCount(): number {
    return this.taken.size;
  }
}
