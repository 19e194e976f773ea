import { ShoalError } from '@shoal/core';
import type { MemberRecord } from '../membership/directory.js';
import type { Membership } from '../membership/membership.js';

/**
 * In Shoal a "manager" node is one whose host runs a coordinator that votes. `node promote`
 * makes a standby coordinator (started with --join --standby) a voter; `node demote` makes a
 * voter a standby, and a standby leave the cluster. Both run on the leader (they are writes).
 */
export interface MembershipBackend {
  membership?: Pick<Membership, 'promote' | 'demote'>;
  memberOf?(ref: string): MemberRecord;
  /** Sets each node's role (manager or worker) from the membership, once it has changed. */
  syncRoles?(): Promise<void>;
  readonly leading?: boolean;
}

/** So that `node ls` right after a promote or demote shows the node's new role. */
async function syncRoles(b: MembershipBackend): Promise<void> {
  // a leader that handed over before the demote leaves it to the new leader, which did it
  if (b.leading === false) return;
  try {
    await b.syncRoles?.();
  } catch {
    // the membership change is made; a role write that lost a race (the lead moving, a node
    // written meanwhile) is redone by the leader's next pass, so the request still succeeds
  }
}

function parts(b: MembershipBackend): { membership: Pick<Membership, 'promote' | 'demote'>; memberOf: (ref: string) => MemberRecord } {
  if (!b.membership || !b.memberOf) throw new ShoalError('not_implemented', 'this coordinator cannot change the membership', 'run a shoal-coordinator process');
  return { membership: b.membership, memberOf: (ref) => b.memberOf?.(ref) as MemberRecord };
}

export async function promoteCoordinator(b: MembershipBackend, ref: string): Promise<unknown> {
  const { membership, memberOf } = parts(b);
  const r = await membership.promote(memberOf(ref));
  await syncRoles(b);
  return r;
}

export async function demoteCoordinator(b: MembershipBackend, ref: string): Promise<unknown> {
  const { membership, memberOf } = parts(b);
  const r = await membership.demote(memberOf(ref));
  await syncRoles(b);
  return r;
}
