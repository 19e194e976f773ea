import { ShoalError } from '@shoal/core';
import type { ConfState, NodeId } from 'raft-ts';

/** What demoting a coordinator takes, decided from the configuration and who is up. */
export type DemotePlan =
  /** A voter becomes a standby: it keeps a copy of the store, no longer votes. */
  | { kind: 'toStandby' }
  /** A standby leaves the cluster. */
  | { kind: 'remove' }
  /** The leader itself: it hands leadership to `to` first; the new leader then demotes it. */
  | { kind: 'transfer'; to: NodeId };

export const majority = (n: number): number => Math.floor(n / 2) + 1;

/**
 * Demote is refused when it would leave the cluster unable to decide: with no voter at all, or
 * with fewer voters up than a majority of the voters left. `healthy` holds the members known to
 * be up right now (the leader confirms them with a write each must acknowledge).
 */
export function planDemote(conf: ConfState, target: NodeId, self: NodeId, healthy: ReadonlySet<NodeId>): DemotePlan {
  if (conf.learners.includes(target)) return { kind: 'remove' };
  if (!conf.voters.includes(target)) throw new ShoalError('not_a_coordinator', `coordinator ${target} is not a member of the cluster`, 'see the members with shoal node ls');
  const left = conf.voters.filter((v) => v !== target);
  if (left.length === 0) {
    throw new ShoalError('last_coordinator', `coordinator ${target} is the cluster's only voter: demoting it would leave no one to keep the store`, 'promote another coordinator first');
  }
  const up = left.filter((v) => healthy.has(v));
  if (up.length < majority(left.length)) {
    throw new ShoalError(
      'quorum_at_risk',
      `demoting coordinator ${target} would leave ${left.length} voters of which only ${up.length} ${up.length === 1 ? 'is' : 'are'} up, fewer than the ${majority(left.length)} needed to take changes`,
      'bring the coordinators that are down back first, or remove them before this one',
    );
  }
  if (target === self) {
    const to = up[0];
    if (to === undefined) throw new ShoalError('quorum_at_risk', 'no other voter is up to take the lead', 'bring another coordinator up first');
    return { kind: 'transfer', to };
  }
  return { kind: 'toStandby' };
}

/** Promote: a standby becomes a voter; a voter stays one (nothing to do). */
export function planPromote(conf: ConfState, target: NodeId): 'promote' | 'already' {
  if (conf.voters.includes(target)) return 'already';
  if (conf.learners.includes(target)) return 'promote';
  throw new ShoalError('not_a_coordinator', `coordinator ${target} is not a member of the cluster`, 'start it with --join (and --standby to join as a standby) first');
}

/** Who may join: a new id, or the same member asking again (a restart mid-join). */
export function checkJoin(conf: ConfState, known: { host: string; port: number; leaving: boolean } | undefined, id: NodeId, host: string, port: number): 'add' | 'already' {
  const member = conf.voters.includes(id) || conf.learners.includes(id);
  if (known?.leaving) throw new ShoalError('member_removed', `coordinator id ${id} was removed from the cluster and is not reused`, 'start the new coordinator with an id never used in this cluster');
  if (known && (known.host !== host || known.port !== port)) {
    throw new ShoalError('member_exists', `coordinator id ${id} already belongs to the member at ${known.host}:${known.port}`, 'give the new coordinator an id of its own');
  }
  return member ? 'already' : 'add';
}
