/**
 * The project's one backoff: the wait before the n-th try in a row (n ≥ 1) doubles from
 * `firstMs` up to `maxMs`. No jitter: the callers are a handful of CLIs and daemons, not a
 * crowd that would retry in step.
 */
export function backoffMs(n: number, firstMs: number, maxMs: number): number {
  return Math.min(maxMs, firstMs * 2 ** Math.max(0, n - 1));
}
