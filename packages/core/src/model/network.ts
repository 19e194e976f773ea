import { z } from 'zod';
import { CidrSchema, IdSchema, Ipv4Schema, LabelsSchema, MetaSchema, NameSchema } from './common.js';

export const NETWORK_DRIVERS = ['overlay', 'bridge', 'host', 'none', 'macvlan', 'ipvlan'] as const;
export const NetworkDriverSchema = z.enum(NETWORK_DRIVERS);
export type NetworkDriver = z.infer<typeof NetworkDriverSchema>;

/** Overlay networks span the cluster; the others are Docker's own, made on the host of a task. */
export function networkScope(driver: NetworkDriver): 'cluster' | 'local' {
  return driver === 'overlay' ? 'cluster' : 'local';
}

export const IpamPoolSchema = z.object({
  subnet: CidrSchema,
  ipRange: CidrSchema.optional(),
  gateway: Ipv4Schema.optional(),
});
export type IpamPool = z.infer<typeof IpamPoolSchema>;

export const NetworkSpecSchema = z.object({
  name: NameSchema,
  driver: NetworkDriverSchema,
  driverOpts: z.record(z.string(), z.string()),
  /** Empty: the allocator carves a subnet from the cluster pool. */
  ipam: z.array(IpamPoolSchema).max(1, 'Shoal supports one IPv4 pool per network'),
  attachable: z.boolean(),
  internal: z.boolean(),
  labels: LabelsSchema,
});
export type NetworkSpec = z.infer<typeof NetworkSpecSchema>;

/** What the allocator decided, kept so every coordinator rebuilds the same IPAM state. */
export const NetworkAllocationSchema = z.object({
  vni: z.number().int().min(1).max(16_777_215).optional(),
  subnet: CidrSchema,
  gateway: Ipv4Schema,
  ipRange: CidrSchema.optional(),
});
export type NetworkAllocation = z.infer<typeof NetworkAllocationSchema>;

export const NetworkSchema = z.object({
  id: IdSchema,
  meta: MetaSchema,
  spec: NetworkSpecSchema,
  stack: NameSchema.optional(),
  allocation: NetworkAllocationSchema.optional(),
});
export type Network = z.infer<typeof NetworkSchema>;
