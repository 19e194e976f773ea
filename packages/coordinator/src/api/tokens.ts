import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CLUSTER_OBJECT_ID, ShoalError, formatJoinToken, joinTokenRole, type Cluster, type JoinTokenRole } from '@shoal/core';
import type { Command } from '../store/commands.js';
import type { Store } from '../store/store.js';
import type { ApiBackend } from './backend.js';

const META = { version: 0, createdAt: '', updatedAt: '' };

export function newJoinToken(role: JoinTokenRole): string {
  return formatJoinToken(role, randomBytes(20));
}

/**
 * The cluster object with fresh join tokens, made by the first leader (as `swarm init` makes
 * them). A create: if two leaders race, the second is refused and the first one's tokens stand.
 */
export function createClusterObject(): Command {
  return { op: 'create', kind: 'cluster', object: { id: CLUSTER_OBJECT_ID, meta: META, joinTokens: { worker: newJoinToken('worker'), manager: newJoinToken('manager') } } };
}

function clusterObject(store: Store): Cluster {
  const c = store.get('cluster', CLUSTER_OBJECT_ID);
  if (!c) throw new ShoalError('not_ready', 'the cluster has no join tokens yet', 'try again in a moment: the leader makes them when it first takes the lead');
  return c;
}

/**
 * `cluster.tokens`: both tokens; with `rotate`, that one replaced first (the old one stops
 * working). `key`: the request's, for the store to answer a rotation sent again.
 */
export async function clusterTokens(b: ApiBackend, rotate: JoinTokenRole | undefined, key: string): Promise<unknown> {
  const c = clusterObject(b.store);
  if (rotate === undefined) return { ...c.joinTokens };
  const joinTokens = { ...c.joinTokens, [rotate]: newJoinToken(rotate) };
  return b.propose({ op: 'update', kind: 'cluster', object: { ...c, joinTokens } }, { key, answer: { ...joinTokens, rotated: rotate } });
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Checks a token presented to join as `role`; throws a refusal a person can act on. The worker
 * token never admits a coordinator, nor the manager token a worker, as in Swarm.
 */
export function checkJoinToken(store: Store, role: JoinTokenRole, token: string | undefined): void {
  const c = clusterObject(store);
  const how = role === 'manager' ? 'shoal cluster join-token -q coordinator' : 'shoal cluster join-token -q worker';
  if (token === undefined || token === '') throw new ShoalError('join_token_missing', `no join token was given to join as a ${role === 'manager' ? 'coordinator' : 'worker'}`, `print it with \`${how}\` and pass it with --token`);
  const says = joinTokenRole(token);
  if (says === undefined) throw new ShoalError('bad_join_token', 'the join token is malformed (expected SHOALTKN-1-…)', `copy it again from \`${how}\``);
  if (says !== role) throw new ShoalError('bad_join_token', `that is the ${says} join token; joining as a ${role === 'manager' ? 'coordinator' : 'worker'} needs the ${role} token`, `print the right one with \`${how}\``);
  if (!same(token, c.joinTokens[role])) throw new ShoalError('bad_join_token', `the ${role} join token is not this cluster's (or it was rotated)`, `print the current one with \`${how}\``);
}
