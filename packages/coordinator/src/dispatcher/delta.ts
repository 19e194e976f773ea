import type { NetworkAssignment, TaskAssignment } from '@shoal/core';
import type { NodeAssignment } from './assignment.js';

export interface AssignmentChanges {
  upsertTasks: TaskAssignment[];
  removeTasks: string[];
  upsertNetworks: NetworkAssignment[];
  removeNetworks: string[];
}

function byKey<T>(items: readonly T[], key: (t: T) => string): Map<string, string> {
  return new Map(items.map((t) => [key(t), JSON.stringify(t)]));
}

/**
 * What changed between two assignments of a node, or undefined when nothing did. Objects are
 * compared whole: a scale-up elsewhere changes a network's peers and names, and that network is
 * what the delta carries, not the node's unchanged tasks.
 */
export function diffAssignments(prev: NodeAssignment, next: NodeAssignment): AssignmentChanges | undefined {
  const pt = byKey(prev.tasks, (t) => t.taskId);
  const pn = byKey(prev.networks, (n) => n.networkId);
  const nt = new Set(next.tasks.map((t) => t.taskId));
  const nn = new Set(next.networks.map((n) => n.networkId));
  const changes: AssignmentChanges = {
    upsertTasks: next.tasks.filter((t) => pt.get(t.taskId) !== JSON.stringify(t)),
    removeTasks: [...pt.keys()].filter((id) => !nt.has(id)),
    upsertNetworks: next.networks.filter((n) => pn.get(n.networkId) !== JSON.stringify(n)),
    removeNetworks: [...pn.keys()].filter((id) => !nn.has(id)),
  };
  const empty = changes.upsertTasks.length + changes.removeTasks.length + changes.upsertNetworks.length + changes.removeNetworks.length === 0;
  return empty ? undefined : changes;
}
