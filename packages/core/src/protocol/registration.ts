import { z } from 'zod';
import { IdSchema, Ipv4Schema, LabelsSchema } from '../model/common.js';
import { NodeResourcesSchema, PlatformSchema } from '../model/node.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

const v = z.literal(PROTOCOL_VERSION);

/** Agent → leader when a session starts (and again after every reconnect). */
export const NodeRegisterSchema = z.object({
  v,
  kind: z.literal('node.register'),
  nodeId: IdSchema,
  hostname: z.string().min(1).max(253),
  address: Ipv4Schema,
  platform: PlatformSchema,
  resources: NodeResourcesSchema,
  engineLabels: LabelsSchema,
  agentVersion: z.string(),
  /** Task ids of containers the agent already runs, so the leader can tell adoption from loss. */
  runningTasks: z.array(IdSchema),
});
export type NodeRegister = z.infer<typeof NodeRegisterSchema>;

/** Leader → agent: the reply to a registration. */
export const NodeRegisterReplySchema = z.discriminatedUnion('kind', [
  z.object({
    v,
    kind: z.literal('node.registered'),
    nodeId: IdSchema,
    /** A new session id per registration: messages of an older session are ignored. */
    sessionId: IdSchema,
    heartbeatPeriodMs: z.number().int().positive(),
    /** The node is declared down after this many periods without a heartbeat. */
    missedHeartbeats: z.number().int().positive(),
  }),
  z.object({ v, kind: z.literal('node.refused'), code: z.string(), message: z.string() }),
]);
export type NodeRegisterReply = z.infer<typeof NodeRegisterReplySchema>;

export function decodeNodeRegister(input: unknown): NodeRegister {
  return decodeWith(NodeRegisterSchema, 'node registration', input);
}

export function decodeNodeRegisterReply(input: unknown): NodeRegisterReply {
  return decodeWith(NodeRegisterReplySchema, 'node registration reply', input);
}
