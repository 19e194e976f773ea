import type { Service, Task } from '@shoal/core';

/** What the orchestrator gets from outside: the leader's clock and a source of fresh ids. */
export interface OrchestratorContext {
  /** Milliseconds since the epoch, read once per pass by the leader. */
  now: number;
  newId: () => string;
  /** Ended tasks kept per slot as history (`service ps`), as Swarm's task history limit. */
  historyLimit?: number;
}

export const DEFAULT_HISTORY_LIMIT = 5;

export const iso = (ms: number): string => new Date(ms).toISOString();

/** A fresh task for a slot (replicated) or a node (global), at the service's current spec. */
export function newTask(ctx: OrchestratorContext, service: Service, specVersion: number, where: { slot: number } | { nodeId: string }): Task {
  return {
    id: ctx.newId(),
    meta: { version: 0, createdAt: '', updatedAt: '' },
    serviceId: service.id,
    ...where,
    desiredState: 'running',
    status: { state: 'new', message: 'created', at: iso(ctx.now) },
    attachments: [],
    specVersion,
  };
}

/** Which slot a task fills: its number for a replicated service, its node for a global one. */
export function slotKey(task: Task): string {
  return task.slot !== undefined ? String(task.slot) : `node:${task.nodeId ?? ''}`;
}

/** The newest first: by spec version, then by when the store last wrote it. */
export function newestFirst(a: Task, b: Task): number {
  return b.specVersion - a.specVersion || b.meta.version - a.meta.version || (a.id < b.id ? -1 : 1);
}
