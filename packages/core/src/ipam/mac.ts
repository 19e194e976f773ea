import { parseIpv4 } from './ipv4.js';

/**
 * A task's MAC on an overlay: 02:42 (locally administered, as Docker uses) and the four bytes of
 * its address. Every host can then program static FDB and neighbour entries for remote tasks
 * from cluster state alone, without learning or asking; the allocator and the agent agree on it
 * by both calling this.
 */
export function macForAddress(address: string): string {
  const value = parseIpv4(address);
  const bytes = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
