import { ShoalError } from '../errors.js';
import type { Cidr } from './cidr.js';
import { cidrFirst, cidrLast, cidrsOverlap, formatCidr, parseCidr } from './cidr.js';

/** Swarm's default address pool and subnet size. */
export const DEFAULT_POOL = '10.0.0.0/8';
export const DEFAULT_SUBNET_PREFIX = 24;

interface Span {
  start: number;
  end: number;
}

/** Taken blocks may nest or overlap; merged, they can be walked with one pointer. */
function mergeSpans(taken: readonly Cidr[]): Span[] {
  const spans = taken.map((c) => ({ start: cidrFirst(c), end: cidrLast(c) })).sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end + 1) last.end = Math.max(last.end, s.end);
    else merged.push({ ...s });
  }
  return merged;
}

/**
 * The first block of `/prefix` in the pools, in order, that overlaps nothing taken. The pools
 * are a list so the cluster's pool can be extended later (Swarm's cannot). Taken blocks are
 * everything already allocated or chosen by users, from any pool or none.
 */
export function carveSubnet(pools: readonly string[], prefix: number, taken: readonly string[]): string {
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 30) {
    throw new ShoalError('bad_subnet', `subnet size /${prefix} is not usable`, 'choose a prefix length between 1 and 30');
  }
  const spans = mergeSpans(taken.map(parseCidr));
  const step = 2 ** (32 - prefix);
  for (const poolText of pools) {
    const pool = parseCidr(poolText);
    if (pool.prefix > prefix) continue;
    let candidate = cidrFirst(pool);
    let i = 0;
    while (candidate + step - 1 <= cidrLast(pool)) {
      while (i < spans.length && (spans[i]?.end ?? 0) < candidate) i++;
      const next = spans[i];
      if (!next || next.start > candidate + step - 1) return formatCidr({ network: candidate, prefix });
      // Jump past the taken span, to the next aligned block.
      candidate = Math.ceil((next.end + 1) / step) * step;
    }
  }
  throw new ShoalError(
    'pool_exhausted',
    `no free /${prefix} is left in the address pool ${pools.join(', ')}`,
    'remove unused networks, or extend the cluster address pool',
  );
}

/** The first of `others` whose subnet overlaps `subnet`, to name it in a refusal. */
export function findOverlap<T extends { subnet: string }>(subnet: string, others: readonly T[]): T | undefined {
  const mine = parseCidr(subnet);
  return others.find((o) => cidrsOverlap(mine, parseCidr(o.subnet)));
}
