import { ShoalError } from '../errors.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';

/** An IPv4 prefix; `network` has no host bits set. */
export interface Cidr {
  readonly network: number;
  readonly prefix: number;
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** The network address, first of the block. */
export function cidrFirst(c: Cidr): number {
  return c.network;
}

/** The broadcast address, last of the block. */
export function cidrLast(c: Cidr): number {
  return c.network + cidrSize(c) - 1;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffff_ffff << (32 - prefix)) >>> 0;
}

/**
 * Parse `a.b.c.d/n`. Host bits set (`10.0.1.5/24`) are an error rather than silently masked:
 * the person meant either the address or the subnet, and guessing wrong hands out a different
 * block than the one they will later look for.
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const prefixText = slash < 0 ? '' : text.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9]\d?)$/.test(prefixText) || Number(prefixText) > 32) {
    throw new ShoalError('bad_subnet', `${JSON.stringify(text)} is not an IPv4 subnet`, 'write an address and a prefix length 0–32, e.g. 10.0.1.0/24');
  }
  const prefix = Number(prefixText);
  let address: number;
  try {
    address = parseIpv4(text.slice(0, slash));
  } catch (err) {
    throw new ShoalError('bad_subnet', `${JSON.stringify(text)} is not an IPv4 subnet`, 'write an address and a prefix length 0–32, e.g. 10.0.1.0/24', { cause: err });
  }
  const network = (address & maskOf(prefix)) >>> 0;
  if (network !== address) {
    const meant = `${formatIpv4(network)}/${prefix}`;
    throw new ShoalError('bad_subnet', `${text} has host bits set`, `did you mean ${meant}?`);
  }
  return { network, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.network)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, address: number): boolean {
  return address >= cidrFirst(c) && address <= cidrLast(c);
}

export function cidrInside(inner: Cidr, outer: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContains(outer, inner.network);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrFirst(a) <= cidrLast(b) && cidrFirst(b) <= cidrLast(a);
}

/** The first address a host may use: the one after the network address. */
export function firstUsable(c: Cidr): number {
  return c.prefix >= 31 ? c.network : c.network + 1;
}
