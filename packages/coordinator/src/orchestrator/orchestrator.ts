import type { Node, Task } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import type { ObjectCommand } from '../store/commands.js';
import type { Store } from '../store/store.js';
import type { OrchestratorContext } from './context.js';
import { DEFAULT_HISTORY_LIMIT } from './context.js';
import { readConstraints, takesNewTasks } from './eligibility.js';
import { reconcileGlobal } from './global.js';
import { pruneHistory } from './history.js';
import { releaseLostNodes } from './node-loss.js';
import { reconcileReplicated } from './replicated.js';
import { retireUnstarted } from './unstarted.js';
import { rollingUpdateStep } from './update.js';
import { WorkingSet } from './working-set.js';

/** Stands in for a node the store no longer has: it takes nothing. */
const missingNode = { status: { state: 'down' } } as Node;

export type OrchestratorView = Pick<Store, 'list' | 'get' | 'tasksOfService' | 'specVersion'>;

export interface OrchestrationPass {
  /** Per service, so each can be proposed as its own batch and one conflict does not hold up the rest. */
  batches: ObjectCommand[][];
  /** The earliest moment a waiting restart or update step is due; the leader sets its timer from it. */
  wakeAt?: number;
}

/**
 * Turn desired state into tasks for every service: let go of lost nodes' tasks, fill and trim
 * slots (or nodes, for global services), restart ended tasks by policy, take one rolling-update
 * step, and prune history. Tasks of removed services are shut down, and deleted once ended.
 */
export function orchestrate(view: OrchestratorView, ctx: OrchestratorContext): OrchestrationPass {
  const nodes = view.list('node');
  const nodeMap = new Map(nodes.map((n) => [n.id, n]));
  const limit = ctx.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const out: OrchestrationPass = { batches: [] };
  const wake = (at: number | undefined): void => {
    if (at !== undefined) out.wakeAt = Math.min(out.wakeAt ?? Infinity, at);
  };
  const services = view.list('service');
  for (const service of services) {
    const specVersion = view.specVersion(service.id) ?? service.meta.version;
    const ws = new WorkingSet(view.tasksOfService(service.id));
    releaseLostNodes(ws, service.id, nodeMap, ctx.now);
    wake(reconcileReplicated(ws, service, specVersion, ctx));
    wake(reconcileGlobal(ws, service, specVersion, nodes, ctx));
    const constraints = readConstraints(service.spec.placement.constraints);
    // A global task's successor must land on the same node, so only where new tasks may start.
    const replaceable = (t: Task): boolean => t.nodeId === undefined || t.slot !== undefined || takesNewTasks(nodeMap.get(t.nodeId) ?? missingNode, constraints);
    wake(rollingUpdateStep(ws, service, specVersion, ctx, replaceable));
    retireUnstarted(ws, ctx.now);
    pruneHistory(ws, service.id, limit);
    const commands = ws.commands();
    if (commands.length > 0) out.batches.push(commands);
  }
  // Tasks whose service was removed: stop them, then forget them once they have ended.
  const live = new Set(services.map((s) => s.id));
  const orphans = new WorkingSet(view.list('task').filter((t) => !live.has(t.serviceId)));
  for (const t of orphans.tasks) {
    if (isTerminalTaskState(t.status.state)) orphans.delete(t.id);
    else if (t.desiredState !== 'shutdown') orphans.update({ ...t, desiredState: 'shutdown' });
  }
  retireUnstarted(orphans, ctx.now);
  const commands = orphans.commands();
  if (commands.length > 0) out.batches.push(commands);
  return out;
}
