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
}

function parts(b: MembershipBackend): { membership: Pick<Membership, 'promote' | 'demote'>; memberOf: (ref: string) => MemberRecord } {
  if (!b.membership || !b.memberOf) throw new ShoalError('not_implemented', 'this coordinator cannot change the membership', 'run a shoal-coordinator process');
  return { membership: b.membership, memberOf: (ref) => b.memberOf?.(ref) as MemberRecord };
}

export async function promoteCoordinator(b: MembershipBackend, ref: string): Promise<unknown> {
  const { membership, memberOf } = parts(b);
  return membership.promote(memberOf(ref));
}

export async function demoteCoordinator(b: MembershipBackend, ref: string): Promise<unknown> {
  const { membership, memberOf } = parts(b);
  return membership.demote(memberOf(ref));
}
