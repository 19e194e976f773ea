import { ShoalError } from '@shoal/core';

export interface Cidr {
  /** Network address as an unsigned 32-bit number. */
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function parseCidr(text: string): Cidr {
  const [addr, len, ...rest] = text.split('/');
  const base = addr === undefined ? undefined : parseIpv4(addr);
  const prefix = len === undefined ? 32 : Number(len);
  if (base === undefined || rest.length > 0 || !/^\d{1,2}$/.test(len ?? '32') || prefix > 32) {
    throw new ShoalError('bad_subnet', `"${text}" is not an IPv4 subnet`, 'write it as ADDRESS/PREFIX, e.g. 192.168.213.0/24');
  }
  if (base % 2 ** (32 - prefix) !== 0) {
    throw new ShoalError('bad_subnet', `"${text}" has host bits set`, `did you mean ${formatCidr({ base: base - (base % 2 ** (32 - prefix)), prefix })}?`);
  }
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}
