import { z } from 'zod';
import { IdSchema, Ipv4Schema, LabelsSchema, MetaSchema, NameSchema, ResourcesSchema } from './common.js';

/** A million replicas is a typo, not a plan; the ceiling keeps one request from flooding the store. */
export const MAX_REPLICAS = 100_000;

export const ServiceModeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('replicated'), replicas: z.number().int().nonnegative().max(MAX_REPLICAS) }),
  z.object({ kind: z.literal('global') }),
]);
export type ServiceMode = z.infer<typeof ServiceModeSchema>;

export const PlacementSchema = z.object({
  /** Swarm syntax, e.g. `node.labels.zone==eu`; see constraints.ts. */
  constraints: z.array(z.string()),
  /** Spread tasks evenly over the values of a node label, e.g. `node.labels.zone`. */
  preferences: z.array(z.object({ spread: z.string() })),
  maxReplicasPerNode: z.number().int().positive().optional(),
});
export type Placement = z.infer<typeof PlacementSchema>;

export const RESTART_CONDITIONS = ['none', 'on-failure', 'any'] as const;
export const RestartPolicySchema = z.object({
  condition: z.enum(RESTART_CONDITIONS),
  delayMs: z.number().int().nonnegative(),
  /** Absent: no limit. */
  maxAttempts: z.number().int().nonnegative().optional(),
  /** Absent: attempts are counted over the life of the slot. */
  windowMs: z.number().int().nonnegative().optional(),
});
export type RestartPolicy = z.infer<typeof RestartPolicySchema>;

export const UpdateConfigSchema = z.object({
  /** 0 updates all tasks at once, as in Swarm. */
  parallelism: z.number().int().nonnegative(),
  delayMs: z.number().int().nonnegative(),
  failureAction: z.enum(['pause', 'continue', 'rollback']),
  monitorMs: z.number().int().nonnegative(),
  maxFailureRatio: z.number().min(0).max(1),
  order: z.enum(['stop-first', 'start-first']),
});
export type UpdateConfig = z.infer<typeof UpdateConfigSchema>;

/** Swarm's defaults for `docker service create`. */
export const DEFAULT_UPDATE_CONFIG: UpdateConfig = {
  parallelism: 1,
  delayMs: 0,
  failureAction: 'pause',
  monitorMs: 5_000,
  maxFailureRatio: 0,
  order: 'stop-first',
};
export const DEFAULT_RESTART_POLICY: RestartPolicy = { condition: 'any', delayMs: 5_000 };

export const HealthcheckSchema = z.object({
  /** Docker's form: `["CMD", ...]`, `["CMD-SHELL", "cmd"]` or `["NONE"]`. */
  test: z.array(z.string()).min(1),
  intervalMs: z.number().int().nonnegative().optional(),
  timeoutMs: z.number().int().nonnegative().optional(),
  retries: z.number().int().nonnegative().optional(),
  startPeriodMs: z.number().int().nonnegative().optional(),
  startIntervalMs: z.number().int().nonnegative().optional(),
});
export type Healthcheck = z.infer<typeof HealthcheckSchema>;

export const NetworkModeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('host') }),
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('container'), container: z.string().min(1) }),
]);
export type NetworkMode = z.infer<typeof NetworkModeSchema>;

export const ServiceNetworkSchema = z.object({
  /** The network's name as the store knows it (stack-prefixed). */
  target: NameSchema,
  aliases: z.array(z.string()),
  ipv4Address: Ipv4Schema.optional(),
});
export type ServiceNetwork = z.infer<typeof ServiceNetworkSchema>;

export const PROTOCOLS = ['tcp', 'udp'] as const;
export const PortSchema = z.object({
  target: z.number().int().min(1).max(65_535),
  /** Absent in ingress mode: the allocator picks one from 30000–32767, as Swarm does. */
  published: z.number().int().min(1).max(65_535).optional(),
  protocol: z.enum(PROTOCOLS),
  mode: z.enum(['ingress', 'host']),
  hostIp: Ipv4Schema.optional(),
});
export type Port = z.infer<typeof PortSchema>;

export const EndpointSpecSchema = z.object({
  mode: z.enum(['vip', 'dnsrr']),
  ports: z.array(PortSchema),
});
export type EndpointSpec = z.infer<typeof EndpointSpecSchema>;

/** What a container of the service is made from; the agent needs only this part. */
export const ContainerSpecSchema = z.object({
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  entrypoint: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()),
  hostname: z.string().optional(),
  labels: LabelsSchema,
  healthcheck: HealthcheckSchema.optional(),
  /** Ports the image listens on without publishing them (`expose`). */
  expose: z.array(z.object({ port: z.number().int().min(1).max(65_535), protocol: z.enum(PROTOCOLS) })),
});
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

export const ServiceSpecSchema = z.object({
  name: NameSchema,
  /** Service labels (compose `deploy.labels`); container labels live in `container.labels`. */
  labels: LabelsSchema,
  container: ContainerSpecSchema,
  mode: ServiceModeSchema,
  placement: PlacementSchema,
  resources: z.object({ limits: ResourcesSchema, reservations: ResourcesSchema }),
  restartPolicy: RestartPolicySchema,
  update: UpdateConfigSchema,
  rollback: UpdateConfigSchema,
  /** Exclusive with `networkMode`. */
  networks: z.array(ServiceNetworkSchema),
  networkMode: NetworkModeSchema.optional(),
  endpoint: EndpointSpecSchema,
});
export type ServiceSpec = z.infer<typeof ServiceSpecSchema>;

export const UPDATE_STATES = ['updating', 'paused', 'completed', 'rollback_started', 'rollback_paused', 'rollback_completed'] as const;
export const UpdateStatusSchema = z.object({
  state: z.enum(UPDATE_STATES),
  startedAt: z.string(),
  completedAt: z.string().optional(),
  /** Why it paused or rolled back, in words a person can act on. */
  message: z.string(),
});
export type UpdateStatus = z.infer<typeof UpdateStatusSchema>;

/** Swarm's range for ingress ports published without a number. */
export const DYNAMIC_PORT_RANGE = { first: 30_000, last: 32_767 } as const;

export const ServiceSchema = z.object({
  id: IdSchema,
  meta: MetaSchema,
  stack: NameSchema.optional(),
  spec: ServiceSpecSchema,
  /** The spec before the last update, kept for rollback. */
  previousSpec: ServiceSpecSchema.optional(),
  /** One virtual IP per attached network in vip mode, from the allocator. */
  vips: z.array(z.object({ networkId: IdSchema, address: Ipv4Schema })),
  /** The spec's ports with every ingress port's published number chosen by the allocator. */
  ports: z.array(PortSchema),
  /** Where a rolling update or rollback stands, so a new leader carries on from there. */
  updateStatus: UpdateStatusSchema.optional(),
});
export type Service = z.infer<typeof ServiceSchema>;
