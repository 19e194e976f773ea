import { z } from 'zod';
import { MetaSchema, NameSchema } from './common.js';
import { NetworkSpecSchema } from './network.js';
import { ServiceSpecSchema } from './service.js';

/** A network a stack uses: made by the stack, or `external` (must already exist, never removed). */
export const StackNetworkSchema = z.object({
  /** The key in the compose file, e.g. `front`. */
  key: z.string(),
  external: z.boolean(),
  /** Resolved, e.g. `shop_front`, or the external network's name. */
  spec: NetworkSpecSchema,
});
export type StackNetwork = z.infer<typeof StackNetworkSchema>;

/** What `stack deploy` sends: the whole desired state of one stack, names already resolved. */
export const StackSpecSchema = z.object({
  name: NameSchema,
  services: z.array(ServiceSpecSchema),
  networks: z.array(StackNetworkSchema),
});
export type StackSpec = z.infer<typeof StackSpecSchema>;

export const StackSchema = z.object({
  name: NameSchema,
  meta: MetaSchema,
  spec: StackSpecSchema,
});
export type Stack = z.infer<typeof StackSchema>;
