import { parseIpv4 } from '@shoal/core';

/**
 * A task's MAC on an overlay: 02:42 and the four bytes of its address, as Docker derives them,
 * so every host can program static neighbour entries from cluster state alone. The agent derives
 * the same (agent/src/overlay/mac.ts); core has no shared helper yet.
 */
export function macForAddress(address: string): string {
  const value = parseIpv4(address);
  const bytes = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
