import type { Constraint, Node, Resources, Service, Task } from '@shoal/core';
import { parseConstraint } from '@shoal/core';
import { explainOnNode, explainUnplaced } from './explain.js';
import type { Failure } from './filters.js';
import { dynamicFailure, staticFailure } from './filters.js';
import type { NodeInfo } from './node-info.js';
import { nodeInfos } from './node-info.js';
import { Spread } from './spread.js';

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

interface Judged {
  constraints: Constraint[];
  /** Nodes that pass the fixed filters, and why the others do not. */
  ok: NodeInfo[];
  failures: Failure[];
  unreadable?: string;
  /** Built on the service's first replicated task of the pass. */
  spread?: Spread;
  /** Dynamic failures met so far, for explanations. */
  rejected: Failure[];
  /** Once one task fits nowhere, no later task of the service will in this pass. */
  unplaced?: string;
}

function judge(service: Service, all: readonly NodeInfo[]): Judged {
  const judged: Judged = { constraints: [], ok: [], failures: [], rejected: [] };
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
 * Choose a node for each pending task, or say why none fits: the nodes that pass every filter,
 * then the spread over the service's preference labels (the least loaded value at each level,
 * counting the service's tasks on every node it may use), then the node with the fewest tasks
 * of the service, the fewest tasks overall, and the smaller id. Pure and deterministic: the same
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
        decision.unplaced.push({ taskId: task.id, reason: own && failure ? explainOnNode(failure, own.node.hostname, service.spec.name) : `node ${task.nodeId} is not in the cluster` });
        continue;
      }
      own.add(service.id, service.spec.resources.reservations);
      judged.spread?.placed(own);
      decision.placed.push({ taskId: task.id, nodeId: own.id });
      continue;
    }
    if (judged.unplaced === undefined) {
      const spreads = service.spec.placement.preferences.map((p) => p.spread);
      const spread = (judged.spread ??= new Spread(service.id, judged.ok, (info) => spreads.map((sp) => labelValue(info.node, sp))));
      const rejected = judged.rejected;
      const chosen = spread.pick((info) => dynamicFailure(info, service), (f) => void rejected.push(f));
      if (chosen) {
        chosen.add(service.id, service.spec.resources.reservations);
        spread.placed(chosen);
        decision.placed.push({ taskId: task.id, nodeId: chosen.id });
        continue;
      }
      judged.unplaced = explainUnplaced([...judged.failures, ...judged.rejected], service.spec.name);
    }
    decision.unplaced.push({ taskId: task.id, reason: judged.unplaced });
  }
  return decision;
}
