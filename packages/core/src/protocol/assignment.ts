import { z } from 'zod';
import { IdSchema, NameSchema, ResourcesSchema } from '../model/common.js';
import { ContainerSpecSchema, NetworkModeSchema, PortSchema } from '../model/service.js';
import { DesiredTaskStateSchema } from '../model/task.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';
import { NetworkAssignmentSchema, NetworkPatchSchema, applyNetworkPatch, type NetworkAssignment } from './network.js';

export type { DnsRecord, NetworkAssignment } from './network.js';

/** One task as its node needs it: everything to create, wire and name the container. */
export const TaskAssignmentSchema = z.object({
  taskId: IdSchema,
  serviceId: IdSchema,
  serviceName: NameSchema,
  stack: NameSchema.optional(),
  slot: z.number().int().positive().optional(),
  desiredState: DesiredTaskStateSchema,
  specVersion: z.number().int().nonnegative(),
  container: ContainerSpecSchema,
  limits: ResourcesSchema,
  networkMode: NetworkModeSchema.optional(),
  attachments: z.array(
    z.object({
      networkId: IdSchema,
      /** With prefix length, e.g. `10.0.1.5/24`. */
      address: z.string(),
      mac: z.string(),
      aliases: z.array(z.string()),
    }),
  ),
  /** Only host-mode ports: ingress ports are published by the routing mesh, not per task. */
  hostPorts: z.array(PortSchema),
});
export type TaskAssignment = z.infer<typeof TaskAssignmentSchema>;

const v = z.literal(PROTOCOL_VERSION);
const head = { v, nodeId: IdSchema, sessionId: IdSchema, seq: z.number().int().nonnegative() };

export const AssignmentMessageSchema = z.discriminatedUnion('kind', [
  z.object({ ...head, kind: z.literal('assign.full'), tasks: z.array(TaskAssignmentSchema), networks: z.array(NetworkAssignmentSchema) }),
  z.object({
    ...head,
    kind: z.literal('assign.delta'),
    upsertTasks: z.array(TaskAssignmentSchema),
    removeTasks: z.array(IdSchema),
    upsertNetworks: z.array(NetworkAssignmentSchema),
    removeNetworks: z.array(IdSchema),
    /** Networks the node holds that changed, as patches applied in order after the upserts. */
    patchNetworks: z.array(NetworkPatchSchema).optional(),
  }),
]);
export type AssignmentMessage = z.infer<typeof AssignmentMessageSchema>;
export type FullAssignment = Extract<AssignmentMessage, { kind: 'assign.full' }>;
export type AssignmentDelta = Extract<AssignmentMessage, { kind: 'assign.delta' }>;

export function decodeAssignment(input: unknown): AssignmentMessage {
  return decodeWith(AssignmentMessageSchema, 'assignment', input);
}

/** What an agent holds: plain records so it can be written to disk and read back. */
export interface AssignmentSet {
  sessionId: string;
  seq: number;
  tasks: Record<string, TaskAssignment>;
  networks: Record<string, NetworkAssignment>;
}

export type AssignmentOutcome =
  | { kind: 'applied'; set: AssignmentSet }
  /** The message was older than what is held (a duplicate or a reordering): ignore it. */
  | { kind: 'stale'; set: AssignmentSet }
  /**
   * A delta was lost, came for another session, or patched a network not held: ask for the full
   * set (the heartbeat's applied sequence, behind the leader's, does).
   */
  | { kind: 'gap'; expectedSeq: number; set: AssignmentSet | undefined };

/**
 * Apply one assignment message to what the agent holds. A full set replaces everything; a delta
 * applies only on top of exactly the previous sequence of the same session, because applying
 * it on anything else would silently drop or resurrect tasks.
 */
export function applyAssignment(held: AssignmentSet | undefined, msg: AssignmentMessage): AssignmentOutcome {
  if (msg.kind === 'assign.full') {
    if (held && held.sessionId === msg.sessionId && msg.seq <= held.seq) return { kind: 'stale', set: held };
    return {
      kind: 'applied',
      set: {
        sessionId: msg.sessionId,
        seq: msg.seq,
        tasks: Object.fromEntries(msg.tasks.map((t) => [t.taskId, t])),
        networks: Object.fromEntries(msg.networks.map((n) => [n.networkId, n])),
      },
    };
  }
  if (!held || held.sessionId !== msg.sessionId) return { kind: 'gap', expectedSeq: 0, set: held };
  if (msg.seq <= held.seq) return { kind: 'stale', set: held };
  if (msg.seq !== held.seq + 1) return { kind: 'gap', expectedSeq: held.seq + 1, set: held };
  const tasks = { ...held.tasks };
  const networks = { ...held.networks };
  for (const id of msg.removeTasks) delete tasks[id];
  for (const id of msg.removeNetworks) delete networks[id];
  for (const t of msg.upsertTasks) tasks[t.taskId] = t;
  for (const n of msg.upsertNetworks) networks[n.networkId] = n;
  for (const p of msg.patchNetworks ?? []) {
    const net: NetworkAssignment | undefined = networks[p.networkId];
    // a patch for a network not held: what is held is not what the leader thinks, resync
    if (!net) return { kind: 'gap', expectedSeq: msg.seq, set: held };
    networks[p.networkId] = applyNetworkPatch(net, p);
  }
  return { kind: 'applied', set: { sessionId: held.sessionId, seq: msg.seq, tasks, networks } };
}
