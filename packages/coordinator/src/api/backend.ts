import type { NodeLiveness } from '../dispatcher/dispatcher.js';
import type { RaftView } from './cluster-status.js';
import type { EventRing } from '../events/ring.js';
import type { Command } from '../store/commands.js';
import type { Store } from '../store/store.js';
import type { MembershipBackend } from './membership.js';

/** What the API needs of a coordinator: the store to read, and Raft to write through. */
export interface ApiBackend extends MembershipBackend {
  store: Store;
  propose(command: Command): Promise<void>;
  /** Which coordinator answers, and whether it leads: cluster.info says so. */
  readonly member?: number;
  readonly leading?: boolean;
  /** The leader's memory of its agents' sessions (empty on a follower). */
  liveness?(): ReadonlyMap<string, NodeLiveness>;
  /** The host this coordinator runs on, so `cluster.status` can mark the leader's node. */
  hostname?: string;
  /** The leader's Raft members; with `reports`, each member asked for its own term and applied index. */
  raftView?(reports: boolean): Promise<RaftView | undefined>;
  /** Recent events, for `events.since`. */
  events?: EventRing;
}
