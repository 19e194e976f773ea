import { z } from 'zod';
import { IdSchema, Ipv4Schema, LabelsSchema, MetaSchema } from './common.js';

export const NODE_ROLES = ['manager', 'worker'] as const;
export const NODE_AVAILABILITIES = ['active', 'pause', 'drain'] as const;
export const NODE_STATES = ['unknown', 'ready', 'down'] as const;

export const NodeRoleSchema = z.enum(NODE_ROLES);
export const NodeAvailabilitySchema = z.enum(NODE_AVAILABILITIES);
export const NodeStateSchema = z.enum(NODE_STATES);
export type NodeRole = z.infer<typeof NodeRoleSchema>;
export type NodeAvailability = z.infer<typeof NodeAvailabilitySchema>;
export type NodeState = z.infer<typeof NodeStateSchema>;

export const PlatformSchema = z.object({ os: z.string(), arch: z.string() });
export type Platform = z.infer<typeof PlatformSchema>;

/** What the host has; reservations of tasks are subtracted from it by the scheduler. */
export const NodeResourcesSchema = z.object({
  nanoCpus: z.number().int().nonnegative(),
  memoryBytes: z.number().int().nonnegative(),
});
export type NodeResources = z.infer<typeof NodeResourcesSchema>;

/** The part of a node a person sets (`shoal node update`); the rest is reported by the agent. */
export const NodeSpecSchema = z.object({
  role: NodeRoleSchema,
  availability: NodeAvailabilitySchema,
  labels: LabelsSchema,
});
export type NodeSpec = z.infer<typeof NodeSpecSchema>;

export const NodeSchema = z.object({
  id: IdSchema,
  meta: MetaSchema,
  spec: NodeSpecSchema,
  hostname: z.string().min(1),
  /** Underlay address: the VXLAN endpoint other hosts send to. */
  address: Ipv4Schema,
  platform: PlatformSchema,
  resources: NodeResourcesSchema,
  /** Labels of the Docker engine, as `engine.labels.*` constraints see them. */
  engineLabels: LabelsSchema,
  status: z.object({ state: NodeStateSchema, message: z.string().optional() }),
});
export type Node = z.infer<typeof NodeSchema>;
