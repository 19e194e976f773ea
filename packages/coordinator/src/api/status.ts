import { createHash } from 'node:crypto';
import type { Store } from '../store/store.js';

/**
 * One coordinator's own view, answered by that coordinator alone (not the queue group): its Raft
 * state and a digest of its store, so that tests and people can compare the copies.
 */
export function coordinatorStatusSubject(cluster: string, id: number): string {
  return `shoal.${cluster}.coordinator.${id}.status`;
}

/** The API served by that coordinator alone: `<prefix>.<verb>`. */
export function coordinatorApiPrefix(cluster: string, id: number): string {
  return `shoal.${cluster}.coordinator.${id}.api`;
}

/** A digest of everything the store holds; equal on two coordinators iff their stores are. */
export function storeDigest(store: Store): string {
  return createHash('sha256').update(JSON.stringify(store.snapshotView())).digest('hex');
}

export interface CoordinatorStatus {
  /** The protocol version, as on every message: cluster status reads this with core's MemberReport schema. */
  v: number;
  id: number;
  name: string;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  voters: number[];
  standbys: number[];
  /** Whether it serves the API (a joiner not yet added, or one leaving, does not). */
  serving: boolean;
  storeIndex: number;
  /** The index of the Raft snapshot on disk (0: none yet) and the first entry the log still holds. */
  snapshotIndex: number;
  logFirstIndex: number;
  digest: string;
  counts: { nodes: number; networks: number; services: number; tasks: number };
}
