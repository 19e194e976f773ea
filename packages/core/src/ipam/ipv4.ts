import { ShoalError } from '../errors.js';

const OCTET = /^(0|[1-9]\d{0,2})$/;

/**
 * An IPv4 address as an unsigned 32-bit number. Octets with leading zeros are refused: some
 * tools read `010` as octal (8), others as decimal (10), and a subnet must mean one thing.
 */
export function parseIpv4(text: string): number {
  const parts = text.split('.');
  if (parts.length === 4 && parts.every((p) => OCTET.test(p) && Number(p) <= 255)) {
    return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
  }
  throw new ShoalError('bad_address', `${JSON.stringify(text)} is not an IPv4 address`, 'write four numbers 0–255 joined by dots, e.g. 10.0.1.5');
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

export function formatIpv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new ShoalError('bad_address', `${value} is outside the IPv4 address space`);
  }
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}
