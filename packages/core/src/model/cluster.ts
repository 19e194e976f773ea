import { z } from 'zod';
import { IdSchema, MetaSchema } from './common.js';

/** The one cluster object of the store holds what is cluster-wide: for now, the join tokens. */
export const CLUSTER_OBJECT_ID = 'cluster';

export const JOIN_TOKEN_ROLES = ['worker', 'manager'] as const;
export type JoinTokenRole = (typeof JOIN_TOKEN_ROLES)[number];

/**
 * `SHOALTKN-1-<w|m>-<40 hex digits>`: versioned, and saying which role it admits, so a token
 * pasted in the wrong place is refused with that reason rather than as merely wrong.
 */
export const JOIN_TOKEN_PATTERN = /^SHOALTKN-1-([wm])-([0-9a-f]{40})$/;
export const JoinTokenSchema = z.string().regex(JOIN_TOKEN_PATTERN, 'expected a join token such as SHOALTKN-1-w-… (see shoal cluster join-token)');

export const ClusterSchema = z.object({
  id: IdSchema,
  meta: MetaSchema,
  joinTokens: z.object({ worker: JoinTokenSchema, manager: JoinTokenSchema }),
});
export type Cluster = z.infer<typeof ClusterSchema>;

/** A token made of 20 random bytes (the caller's: core does no I/O). */
export function formatJoinToken(role: JoinTokenRole, secret: Uint8Array): string {
  if (secret.byteLength !== 20) throw new RangeError('a join token secret is 20 bytes');
  return `SHOALTKN-1-${role === 'worker' ? 'w' : 'm'}-${[...secret].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The role a well-formed token admits; undefined for anything that is not a token. */
export function joinTokenRole(token: string): JoinTokenRole | undefined {
  const m = JOIN_TOKEN_PATTERN.exec(token);
  if (!m) return undefined;
  return m[1] === 'w' ? 'worker' : 'manager';
}
