import { z } from 'zod';
import { IdSchema } from '../model/common.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

/**
 * What a host is using: CPU over the last period, and memory, as read from /proc; and how many
 * of Shoal's containers it runs (as the agent last saw them).
 */
export const HostLoadSchema = z.object({
  cpuPercent: z.number().min(0).max(100),
  memoryUsedBytes: z.number().int().nonnegative(),
  memoryTotalBytes: z.number().int().nonnegative(),
  containers: z.number().int().nonnegative(),
});
export type HostLoad = z.infer<typeof HostLoadSchema>;

/**
 * Agent → leader every period. It carries the last assignment sequence the agent applied, so a
 * lost delta shows up within one period and the leader re-sends the full set.
 */
export const HeartbeatSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal('node.hb'),
  nodeId: IdSchema,
  sessionId: IdSchema,
  appliedSeq: z.number().int().nonnegative(),
  /** The host's load, for `shoal watch`; optional so agents that do not send it still validate. */
  load: HostLoadSchema.optional(),
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export function decodeHeartbeat(input: unknown): Heartbeat {
  return decodeWith(HeartbeatSchema, 'heartbeat', input);
}
