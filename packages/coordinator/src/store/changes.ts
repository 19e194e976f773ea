import type { ObjectKind, ObjectOf } from './objects.js';

/**
 * One object changed by an applied command. `index` is the Raft index of the entry, so a
 * watcher can tell a gap from a quiet cluster; the leader's components react to these.
 */
export type StoreChange = {
  [K in ObjectKind]:
    | { index: number; kind: K; action: 'create'; object: ObjectOf[K] }
    | { index: number; kind: K; action: 'update'; object: ObjectOf[K]; previous: ObjectOf[K] }
    | { index: number; kind: K; action: 'remove'; previous: ObjectOf[K] };
}[ObjectKind];
