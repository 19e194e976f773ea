import type { Node, Task } from '@shoal/core';
import { canTransitionTask, isTerminalTaskState } from '@shoal/core';
import { iso } from './context.js';
import type { WorkingSet } from './working-set.js';

/**
 * Let go of the tasks of nodes that are down, gone or drained. A lost node's tasks are marked
 * orphaned (nobody will hear from them again) and their slots fall empty, so the replicated
 * step refills them elsewhere at once: a node failure is not the task's failure, and the
 * restart policy does not apply to it.
 */
export function releaseLostNodes(ws: WorkingSet, serviceId: string, nodes: ReadonlyMap<string, Node>, now: number): void {
  for (const t of ws.tasks) {
    if (t.serviceId !== serviceId || t.desiredState !== 'running' || t.nodeId === undefined || isTerminalTaskState(t.status.state)) continue;
    const node = nodes.get(t.nodeId);
    const host = node?.hostname ?? t.nodeId;
    if (node && node.status.state !== 'down') {
      if (node.spec.availability === 'drain') ws.update({ ...t, desiredState: 'shutdown' });
      continue;
    }
    const message = node ? `node ${host} is down` : `node ${host} left the cluster`;
    const state: Task['status']['state'] = canTransitionTask(t.status.state, 'orphaned') ? 'orphaned' : 'shutdown';
    ws.update({ ...t, desiredState: 'shutdown', status: { ...t.status, state, message, at: iso(now) } });
  }
}
