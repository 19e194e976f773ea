import { z } from 'zod';
import { IdSchema } from '../model/common.js';
import { TaskStatusSchema } from '../model/task.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

/** A task's status as its node saw it: the status the store keeps, plus what only a node knows. */
export const TaskReportSchema = TaskStatusSchema.extend({
  taskId: IdSchema,
  /** Host ports the task's container got, a random one (published left out) included. */
  ports: z
    .array(z.object({ target: z.number().int().min(1).max(65_535), published: z.number().int().min(1).max(65_535), protocol: z.enum(['tcp', 'udp']), hostIp: z.string().optional() }))
    .optional(),
});
export type TaskReport = z.infer<typeof TaskReportSchema>;

/** Agent → leader: reports are batched so a burst of container events is one message. */
export const TaskStatusMessageSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal('task.status'),
  nodeId: IdSchema,
  sessionId: IdSchema,
  reports: z.array(TaskReportSchema).min(1).max(10_000),
});
export type TaskStatusMessage = z.infer<typeof TaskStatusMessageSchema>;

export function decodeTaskStatus(input: unknown): TaskStatusMessage {
  return decodeWith(TaskStatusMessageSchema, 'task status', input);
}
