import type { Constraint, Service } from '@shoal/core';
import { constraintTarget, matchesConstraint } from '@shoal/core';
import type { NodeInfo } from './node-info.js';

/**
 * Why one node cannot take a task. `key` groups the same failure across nodes; `detail` is
 * what this node has instead, so a reason can say "3 nodes have zone=us".
 */
export type Failure =
  | { key: 'state'; detail: string }
  | { key: 'availability'; detail: string }
  | { key: 'constraint'; constraint: Constraint; detail: string }
  | { key: 'memory'; free: number; wanted: number }
  | { key: 'cpu'; free: number; wanted: number }
  | { key: 'max-replicas'; max: number };

/** What a node's fact is for a constraint, in the words of the constraint ("zone=us", "no label zone"). */
function factWords(c: Constraint, info: NodeInfo): string {
  const t = constraintTarget(info.node);
  switch (c.field.kind) {
    case 'nodeLabel':
    case 'engineLabel': {
      const labels = c.field.kind === 'nodeLabel' ? t.labels : t.engineLabels;
      const v = labels[c.field.label];
      const kind = c.field.kind === 'nodeLabel' ? 'label' : 'engine label';
      return v === undefined ? `no ${kind} ${c.field.label}` : `${c.field.label}=${v}`;
    }
    case 'id':
      return `id ${t.id}`;
    case 'hostname':
      return `hostname ${t.hostname}`;
    case 'role':
      return `role ${t.role}`;
    case 'os':
      return `os ${t.platform.os}`;
    case 'arch':
      return `arch ${t.platform.arch}`;
  }
}

/** The parts of eligibility that do not change while a pass places tasks. */
export function staticFailure(info: NodeInfo, constraints: readonly Constraint[]): Failure | undefined {
  const { node } = info;
  if (node.status.state !== 'ready') return { key: 'state', detail: node.status.state };
  if (node.spec.availability !== 'active') return { key: 'availability', detail: node.spec.availability };
  const failed = constraints.find((c) => !matchesConstraint(c, constraintTarget(node)));
  if (failed) return { key: 'constraint', constraint: failed, detail: factWords(failed, info) };
  return undefined;
}

/** The parts that change with every task placed: free resources and the service's count. */
export function dynamicFailure(info: NodeInfo, service: Service): Failure | undefined {
  const { nanoCpus = 0, memoryBytes = 0 } = service.spec.resources.reservations;
  if (memoryBytes > info.freeMemory) return { key: 'memory', free: Math.max(0, info.freeMemory), wanted: memoryBytes };
  if (nanoCpus > info.freeCpus) return { key: 'cpu', free: Math.max(0, info.freeCpus), wanted: nanoCpus };
  const max = service.spec.placement.maxReplicasPerNode;
  if (max !== undefined && info.tasksOf(service.id) >= max) return { key: 'max-replicas', max };
  return undefined;
}
