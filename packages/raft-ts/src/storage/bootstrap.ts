import type { ConfEntry, NodeId } from '../core/types.js';
import type { StorageWriter } from './storage.js';

/**
 * Writes a new cluster's initial membership into an empty log: one committed configuration
 * entry per member, identical on every initial member. Keeping the membership in the log (not
 * only in a snapshot) lets a member added later learn it by ordinary replication.
 */
export function bootstrap(storage: StorageWriter, voters: readonly NodeId[], learners: readonly NodeId[] = []): void {
  const changes = [
    ...voters.map((node) => ({ type: 'addVoter' as const, node })),
    ...learners.map((node) => ({ type: 'addLearner' as const, node })),
  ];
  const entries = changes.map((change, i): ConfEntry => ({ kind: 'conf', term: 1, index: i + 1, change, data: new Uint8Array(0) }));
  storage.append(entries);
  storage.setHardState({ term: 1, vote: 0, commit: entries.length });
}
