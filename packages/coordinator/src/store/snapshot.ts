import { ShoalError } from '@shoal/core';
import type { ObjectKind, ObjectOf } from './objects.js';
import { OBJECT_KINDS, SCHEMAS } from './objects.js';

export const SNAPSHOT_FORMAT = 1;

/**
 * The whole store at one Raft index, as plain JSON with every list sorted by key, so two
 * coordinators at the same index produce byte-identical snapshots.
 */
export type StoreSnapshot = {
  format: typeof SNAPSHOT_FORMAT;
  index: number;
  /** Service id → the version at which its spec last changed (see Store.specVersion). */
  specVersions: [string, number][];
} & { [K in ObjectKind]: ObjectOf[K][] };

function bad(what: string): ShoalError {
  return new ShoalError('bad_snapshot', `the store snapshot is unreadable: ${what}`, 'restore from another coordinator\'s snapshot');
}

/** Check a snapshot read from disk or received from the leader before anything is replaced. */
export function decodeSnapshot(input: unknown): StoreSnapshot {
  if (typeof input !== 'object' || input === null) throw bad('not an object');
  const raw = input as Record<string, unknown>;
  if (raw.format !== SNAPSHOT_FORMAT) throw bad(`format ${JSON.stringify(raw.format)}, expected ${SNAPSHOT_FORMAT}`);
  const { index, specVersions } = raw;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) throw bad('index is not a whole number ≥ 0');
  if (!Array.isArray(specVersions) || !specVersions.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'number')) {
    throw bad('specVersions is not a list of [service id, version]');
  }
  const out: Record<string, unknown> = { format: SNAPSHOT_FORMAT, index, specVersions };
  for (const kind of OBJECT_KINDS) {
    const list = raw[kind];
    if (!Array.isArray(list)) throw bad(`${kind} is not a list`);
    out[kind] = list.map((o, i) => {
      const parsed = SCHEMAS[kind].safeParse(o);
      if (!parsed.success) throw bad(`${kind}[${i}]: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return parsed.data;
    });
  }
  return out as StoreSnapshot;
}
