import type { Task } from '@shoal/core';
import { isAllocated } from '../allocator/pass.js';
import type { ObjectCommand } from '../store/commands.js';
import type { Store } from '../store/store.js';
import type { Decision } from './scheduler.js';
import { schedule } from './scheduler.js';

export type SchedulerView = Pick<Store, 'list' | 'get' | 'networkByName'>;

/** The tasks the scheduler may place: wanted running, pending, and holding every address they need. */
export function schedulable(view: SchedulerView): Task[] {
  return view.list('task').filter((t) => {
    if (t.desiredState !== 'running' || t.status.state !== 'pending') return false;
    const service = view.get('service', t.serviceId);
    return service !== undefined && isAllocated(t, service, view);
  });
}

/**
 * One scheduling pass over the store: placed tasks move to `assigned` on their node; the others
 * stay pending with the reason, written only when it changed so a stuck task does not fill the log.
 * `limit`: at most this many pending tasks are looked at; the commit of their placement starts
 * the next pass. A pass over 30,000 tasks holds the leader's event loop (and every coordinator's,
 * applying it) for seconds: Raft heartbeats and reads wait, and agents see nothing until the end.
 */
export function schedulePass(view: SchedulerView, now: string, limit = Infinity): { commands: ObjectCommand[]; decision: Decision } {
  const all = schedulable(view);
  const pending = all.length > limit ? all.slice(0, limit) : all;
  const decision = schedule({
    nodes: view.list('node'),
    tasks: view.list('task'),
    pending,
    service: (id) => view.get('service', id),
  });
  const commands: ObjectCommand[] = [];
  for (const { taskId, nodeId } of decision.placed) {
    const t = view.get('task', taskId);
    if (!t) continue;
    const host = view.get('node', nodeId)?.hostname ?? nodeId;
    commands.push({ op: 'update', kind: 'task', object: { ...t, nodeId, status: { ...t.status, state: 'assigned', message: `assigned to ${host}`, at: now } } });
  }
  for (const { taskId, reason } of decision.unplaced) {
    const t = view.get('task', taskId);
    if (!t || t.status.message === reason) continue;
    commands.push({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, message: reason, at: now } } });
  }
  return { commands, decision };
}
