import type { Node, Service, Task } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import type { OrchestratorContext } from './context.js';
import { newTask, newestFirst } from './context.js';
import { keepsTasks, readConstraints, takesNewTasks } from './eligibility.js';
import { restartDecision } from './restart.js';
import type { WorkingSet } from './working-set.js';

/**
 * One task of a global service on every node that qualifies, none on the others; ended tasks
 * are replaced on the same node as the restart policy says.
 */
export function reconcileGlobal(ws: WorkingSet, service: Service, specVersion: number, nodes: readonly Node[], ctx: OrchestratorContext): number | undefined {
  if (service.spec.mode.kind !== 'global') return undefined;
  const constraints = readConstraints(service.spec.placement.constraints);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const current = new Map<string, Task[]>();
  const history = new Map<string, Task[]>();
  for (const t of ws.tasks) {
    if (t.serviceId !== service.id) continue;
    if (t.nodeId === undefined || t.slot !== undefined) {
      // Left over from when the service was replicated.
      if (t.desiredState === 'running') ws.update({ ...t, desiredState: 'shutdown' });
      continue;
    }
    const into = t.desiredState === 'running' ? current : history;
    into.set(t.nodeId, [...(into.get(t.nodeId) ?? []), t]);
  }
  let wakeAt: number | undefined;
  for (const [nodeId, tasks] of [...current].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!keepsTasks(byId.get(nodeId), constraints)) {
      for (const t of tasks) ws.update({ ...t, desiredState: 'shutdown' });
      continue;
    }
    const [newest, ...others] = [...tasks].sort(newestFirst);
    if (!newest) continue;
    for (const o of others) if (isTerminalTaskState(o.status.state)) ws.update({ ...o, desiredState: 'shutdown' });
    if (!isTerminalTaskState(newest.status.state)) continue;
    const decision = restartDecision(service.spec.restartPolicy, newest, history.get(nodeId) ?? [], ctx.now);
    if (decision.kind === 'later') wakeAt = Math.min(wakeAt ?? Infinity, decision.at);
    if (decision.kind !== 'now') continue;
    ws.update({ ...newest, desiredState: 'shutdown' });
    ws.create(newTask(ctx, service, specVersion, { nodeId }));
  }
  for (const node of [...nodes].sort((a, b) => (a.id < b.id ? -1 : 1))) {
    if (current.has(node.id) && keepsTasks(node, constraints)) continue;
    if (takesNewTasks(node, constraints)) ws.create(newTask(ctx, service, specVersion, { nodeId: node.id }));
  }
  return wakeAt;
}
