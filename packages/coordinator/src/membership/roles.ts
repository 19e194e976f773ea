import type { Node } from '@shoal/core';
import type { ConfState } from 'raft-ts';
import type { ObjectCommand } from '../store/commands.js';
import type { MemberRecord } from './directory.js';

/**
 * A node is a manager while the coordinator on its host votes: the coordinator is known by its
 * name, which is its host's name unless started with --name. A standby, a coordinator on its
 * way out and a host without one are workers. Returns the updates that make the store say so,
 * each against the version read (a node changed meanwhile is simply reconciled again later).
 */
export function nodeRoleUpdates(nodes: readonly Node[], members: readonly MemberRecord[], conf: ConfState): ObjectCommand[] {
  const voting = new Set(members.filter((m) => conf.voters.includes(m.id) && !m.leaving).map((m) => m.name));
  return nodes.flatMap((n): ObjectCommand[] => {
    const role = voting.has(n.hostname) ? 'manager' : 'worker';
    return n.spec.role === role ? [] : [{ op: 'update', kind: 'node', object: { ...n, spec: { ...n.spec, role } } }];
  });
}
