import type { ServiceSpec } from '@shoal/core';

/** JSON with sorted keys, so a spec rebuilt in another key order is still the same spec. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * The part of a service spec its tasks are made from. Scaling, the update and rollback settings
 * and service labels change no container, so changing them must not roll every task. Nor do
 * the networks joined or left, nor aliases: the allocator gives running tasks their addresses
 * and the agents plug running containers in and out (`network connect`). Only an address pinned
 * with ipv4Address still means new tasks, since a running task keeps the address it has.
 */
function taskShaping(spec: ServiceSpec): Record<string, unknown> {
  const { mode: _mode, update: _update, rollback: _rollback, labels: _labels, networks, ...rest } = spec;
  const pinned = networks.filter((n) => n.ipv4Address !== undefined).map((n) => `${n.target}=${n.ipv4Address ?? ''}`);
  return { ...rest, pinned };
}

/** Whether going from `a` to `b` means new tasks (a rolling update), not just new numbers. */
export function shapesTasksDifferently(a: ServiceSpec, b: ServiceSpec): boolean {
  return canonical(taskShaping(a)) !== canonical(taskShaping(b));
}
