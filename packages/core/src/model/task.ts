import { z } from 'zod';
import { IdSchema, MetaSchema } from './common.js';

/** In lifecycle order: a task's observed state only moves forward through this list. */
export const TASK_STATES = [
  'new',
  'pending',
  'assigned',
  'preparing',
  'starting',
  'running',
  'complete',
  'failed',
  'shutdown',
  'rejected',
  'orphaned',
] as const;
export const TaskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskStateSchema>;

const TERMINAL: ReadonlySet<TaskState> = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned']);

/** The states a task's desired state may take: the orchestrator wants it running, or gone. */
export const DesiredTaskStateSchema = z.enum(['running', 'shutdown']);
export type DesiredTaskState = z.infer<typeof DesiredTaskStateSchema>;

export function isTerminalTaskState(state: TaskState): boolean {
  return TERMINAL.has(state);
}

const rank = (s: TaskState): number => TASK_STATES.indexOf(s);

/**
 * Why `from → to` is illegal, or undefined when it is legal. Reports arrive late and batched,
 * so a task may skip forward (assigned → running) but never move back, and a terminal state is
 * final: a late "running" after "failed" must not resurrect the task.
 */
export function explainTaskTransition(from: TaskState, to: TaskState): string | undefined {
  if (from === to) return `task is already ${from}`;
  if (isTerminalTaskState(from)) return `task is ${from}, which is final`;
  if (!isTerminalTaskState(to)) {
    return rank(to) > rank(from) ? undefined : `task cannot go back from ${from} to ${to}`;
  }
  switch (to) {
    case 'complete':
      // Only a container that was started can exit.
      return from === 'starting' || from === 'running' ? undefined : `task cannot complete before it starts (it is ${from})`;
    case 'failed':
    case 'orphaned':
      // Both need a node: before assignment there is nothing to fail or to lose.
      return rank(from) >= rank('assigned') ? undefined : `task cannot be ${to} before it is assigned (it is ${from})`;
    case 'rejected':
      // Only the node (agent) or the scheduler refuses a task, and only before it runs.
      return from === 'running' ? 'a running task cannot be rejected' : undefined;
    case 'shutdown':
      return undefined;
    default:
      return `unknown task state ${String(to)}`;
  }
}

export function canTransitionTask(from: TaskState, to: TaskState): boolean {
  return explainTaskTransition(from, to) === undefined;
}

export const TaskAttachmentSchema = z.object({
  networkId: IdSchema,
  /** With prefix length, e.g. `10.0.1.5/24`, because the agent configures the interface with it. */
  address: z.string(),
  mac: z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, 'expected a lowercase MAC address'),
});
export type TaskAttachment = z.infer<typeof TaskAttachmentSchema>;

export const TaskStatusSchema = z.object({
  state: TaskStateSchema,
  /** A sentence a person can act on, e.g. why the task is still pending. */
  message: z.string(),
  at: z.string(),
  containerId: z.string().optional(),
  exitCode: z.number().int().optional(),
  err: z.string().optional(),
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const TaskSchema = z.object({
  id: IdSchema,
  meta: MetaSchema,
  serviceId: IdSchema,
  /** Replicated services number their tasks 1..n; global services have one task per node instead. */
  slot: z.number().int().positive().optional(),
  nodeId: IdSchema.optional(),
  desiredState: DesiredTaskStateSchema,
  status: TaskStatusSchema,
  attachments: z.array(TaskAttachmentSchema),
  /** Which version of the service spec this task runs, so updates know what is stale. */
  specVersion: z.number().int().nonnegative(),
});
export type Task = z.infer<typeof TaskSchema>;


/**
 * The container and DNS name of a task, as Docker names them: `<service>.<slot>.<task id>` for
 * a replicated service and `<service>.<node id>.<task id>` for a global one.
 */
export function taskName(serviceName: string, task: Pick<Task, 'id' | 'slot' | 'nodeId'>): string {
  return `${serviceName}.${task.slot ?? task.nodeId ?? 'unassigned'}.${task.id}`;
}
