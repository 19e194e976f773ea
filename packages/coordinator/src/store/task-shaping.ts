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
 * and service labels change no container, so changing them must not roll every task.
 */
function taskShaping(spec: ServiceSpec): Partial<ServiceSpec> {
  const { mode: _mode, update: _update, rollback: _rollback, labels: _labels, ...rest } = spec;
  return rest;
}

/** Whether going from `a` to `b` means new tasks (a rolling update), not just new numbers. */
export function shapesTasksDifferently(a: ServiceSpec, b: ServiceSpec): boolean {
  return canonical(taskShaping(a)) !== canonical(taskShaping(b));
}
