import type { Constraint, Node, Resources, Service, Task } from '@shoal/core';
import { parseConstraint } from '@shoal/core';
import { explainUnplaced } from './explain.js';
import type { Failure } from './filters.js';
import { dynamicFailure, staticFailure } from './filters.js';
import type { NodeInfo } from './node-info.js';
import { nodeInfos } from './node-info.js';

export interface SchedulerInput {
  nodes: readonly Node[];
  /** Every task in the store: those on nodes count against capacity and spread. */
  tasks: readonly Task[];
  /** The tasks to place, allocated and pending. A task with a node already (global) is checked against that node only. */
  pending: readonly Task[];
  service: (id: string) => Service | undefined;
}

export interface Decision {
  placed: { taskId: string; nodeId: string }[];
  unplaced: { taskId: string; reason: string }[];
}

function labelValue(node: Node, spread: string): string {
  const m = /^(node|engine)\.labels\.(.+)$/i.exec(spread);
  if (!m) return '';
  const labels = m[1]?.toLowerCase() === 'engine' ? node.engineLabels : node.spec.labels;
  return labels[m[2] ?? ''] ?? '';
}

/** Fewest tasks of the service, then fewest tasks overall, then the smaller id: Swarm's spread, made deterministic. */
function better(a: NodeInfo, b: NodeInfo, serviceId: string): boolean {
  const sa = a.tasksOf(serviceId);
  const sb = b.tasksOf(serviceId);
  if (sa !== sb) return sa < sb;
  if (a.total !== b.total) return a.total < b.total;
  return a.id < b.id;
}

/**
 * Narrow candidates by each placement preference in turn: keep the nodes of the label value
 * whose nodes run the fewest tasks of the service (nodes without the label form a group of
 * their own, as in Swarm), so replicas spread over zones before they spread over nodes.
 */
function preferred(candidates: readonly NodeInfo[], service: Service, all: readonly NodeInfo[]): readonly NodeInfo[] {
  let pool = candidates;
  for (const { spread } of service.spec.placement.preferences) {
    const load = new Map<string, number>();
    for (const info of all) {
      const v = labelValue(info.node, spread);
      load.set(v, (load.get(v) ?? 0) + info.tasksOf(service.id));
    }
    const values = [...new Set(pool.map((i) => labelValue(i.node, spread)))].sort();
    let best: string | undefined;
    for (const v of values) if (best === undefined || (load.get(v) ?? 0) < (load.get(best) ?? 0)) best = v;
    pool = pool.filter((i) => labelValue(i.node, spread) === best);
  }
  return pool;
}

interface Judged {
  constraints: Constraint[];
  /** Nodes that pass the fixed filters, and why the others do not. */
  ok: NodeInfo[];
  failures: Failure[];
  unreadable?: string;
}

function judge(service: Service, all: readonly NodeInfo[]): Judged {
  const judged: Judged = { constraints: [], ok: [], failures: [] };
  for (const c of service.spec.placement.constraints) {
    try {
      judged.constraints.push(parseConstraint(c));
    } catch {
      judged.unreadable ??= c;
    }
  }
  for (const info of all) {
    const f = staticFailure(info, judged.constraints);
    if (f) judged.failures.push(f);
    else judged.ok.push(info);
  }
  return judged;
}

/**
 * Choose a node for each pending task, or say why none fits. Pure and deterministic: the same
 * input gives the same decision on any coordinator, whatever order the input lists things in.
 */
export function schedule(input: SchedulerInput): Decision {
  const reservationOf = (t: Task): Resources => input.service(t.serviceId)?.spec.resources.reservations ?? {};
  const infos = nodeInfos(input.nodes, input.tasks, reservationOf);
  const all = [...infos.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const decision: Decision = { placed: [], unplaced: [] };
  const pending = [...input.pending].sort(
    (a, b) => (a.serviceId < b.serviceId ? -1 : a.serviceId > b.serviceId ? 1 : (a.slot ?? 0) - (b.slot ?? 0) || (a.id < b.id ? -1 : 1)),
  );
  // Constraints and node state do not change during a pass: judge them once per service.
  const judgedBy = new Map<string, Judged>();
  for (const task of pending) {
    const service = input.service(task.serviceId);
    if (!service) {
      decision.unplaced.push({ taskId: task.id, reason: `service ${task.serviceId} no longer exists` });
      continue;
    }
    let judged = judgedBy.get(service.id);
    if (!judged) judgedBy.set(service.id, (judged = judge(service, all)));
    if (judged.unreadable !== undefined) {
      // A stored constraint that does not parse is a bug upstream; placing anyway would ignore it.
      decision.unplaced.push({ taskId: task.id, reason: `constraint ${JSON.stringify(judged.unreadable)} cannot be read; fix the service's constraints` });
      continue;
    }
    if (task.nodeId !== undefined) {
      // A global task belongs to its node: only that node's verdict matters.
      const own = infos.get(task.nodeId);
      const failure = own && (staticFailure(own, judged.constraints) ?? dynamicFailure(own, service));
      if (!own || failure) {
        decision.unplaced.push({ taskId: task.id, reason: own && failure ? explainUnplaced([failure], service.spec.name) : `node ${task.nodeId} is not in the cluster` });
        continue;
      }
      own.add(service.id, service.spec.resources.reservations);
      decision.placed.push({ taskId: task.id, nodeId: own.id });
      continue;
    }
    const failures = [...judged.failures];
    const candidates: NodeInfo[] = [];
    for (const info of judged.ok) {
      const f = dynamicFailure(info, service);
      if (f) failures.push(f);
      else candidates.push(info);
    }
    const pool = preferred(candidates, service, all);
    let chosen: NodeInfo | undefined;
    for (const info of pool) if (!chosen || better(info, chosen, service.id)) chosen = info;
    if (!chosen) {
      decision.unplaced.push({ taskId: task.id, reason: explainUnplaced(failures, service.spec.name) });
      continue;
    }
    chosen.add(service.id, service.spec.resources.reservations);
    decision.placed.push({ taskId: task.id, nodeId: chosen.id });
  }
  return decision;
}
