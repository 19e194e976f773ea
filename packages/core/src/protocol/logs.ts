import { z } from 'zod';
import { IdSchema } from '../model/common.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

/**
 * CLI → a task's agent, on that node's `logs` subject, with a reply subject the agent streams
 * chunks to (see nodeLogsSubjects: both under the node's own subjects). A follow ends when the CLI says stop on `control`, or stops pinging it: a CLI that
 * was killed must not leave an agent streaming into nothing.
 */
export const LogsRequestSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal('logs.request'),
  taskId: IdSchema,
  follow: z.boolean(),
  /** Lines from the end; absent: all. */
  tail: z.number().int().nonnegative().optional(),
  /** Unix seconds; only lines written since. */
  since: z.number().int().nonnegative().optional(),
  /** Where the CLI pings while it follows, and says stop. */
  control: z.string().min(1).max(256).optional(),
});
export type LogsRequest = z.infer<typeof LogsRequestSchema>;

export const LogsMessageSchema = z.discriminatedUnion('kind', [
  /** The agent found the task's container and starts streaming: the CLI knows the node answers. */
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('logs.open'), taskId: IdSchema }),
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('logs.chunk'), taskId: IdSchema, stream: z.enum(['stdout', 'stderr']), data: z.string() }),
  z.object({ v: z.literal(PROTOCOL_VERSION), kind: z.literal('logs.end'), taskId: IdSchema, error: z.string().optional() }),
]);
export type LogsMessage = z.infer<typeof LogsMessageSchema>;

export function decodeLogsRequest(input: unknown): LogsRequest {
  return decodeWith(LogsRequestSchema, 'logs request', input);
}

export function decodeLogsMessage(input: unknown): LogsMessage {
  return decodeWith(LogsMessageSchema, 'logs message', input);
}
