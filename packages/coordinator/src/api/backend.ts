import type { NodeLiveness } from '../dispatcher/dispatcher.js';
import type { RaftView } from './cluster-status.js';
import type { EventRing } from '../events/ring.js';
import type { Command } from '../store/commands.js';
import type { AppliedRequest, RequestTag } from '../store/requests.js';
import type { Store } from '../store/store.js';
import type { MembershipBackend } from './membership.js';

/** What the API needs of a coordinator: the store to read, and Raft to write through. */
export interface ApiBackend extends MembershipBackend {
  store: Store;
  /**
   * Applies a command through Raft. A write's last command carries its request (`request`), so
   * the store answers a retry of it: it resolves to the request's answer, the first one if the
   * request was applied before.
   */
  propose(command: Command, request?: RequestTag): Promise<unknown>;
  /** The request applied under this key lately, if any. */
  applied?(key: string): AppliedRequest | undefined;
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
