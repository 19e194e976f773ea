import { z } from 'zod';
import { IdSchema } from '../model/common.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

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
});
export type Heartbeat = z.infer<typeof HeartbeatSchema>;

export function decodeHeartbeat(input: unknown): Heartbeat {
  return decodeWith(HeartbeatSchema, 'heartbeat', input);
}
