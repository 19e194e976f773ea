import { z } from 'zod';

/**
 * Object ids and names become NATS subject tokens, DNS labels and Docker names, so they share
 * one conservative alphabet: no dots, wildcards or whitespace.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const IdSchema = z.string().regex(ID_PATTERN, 'expected letters, digits, "-" or "_" (at most 64)');

/** Service and network names may also hold dots (Docker allows them; compose keys often do). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const NameSchema = z.string().regex(NAME_PATTERN, 'expected letters, digits, ".", "-" or "_" (at most 63)');

export const LabelsSchema = z.record(z.string(), z.string());
export type Labels = z.infer<typeof LabelsSchema>;

/** Every stored object carries a version; an update against a stale version is refused. */
export const MetaSchema = z.object({
  version: z.number().int().nonnegative(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Meta = z.infer<typeof MetaSchema>;

export const Ipv4Schema = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'expected an IPv4 address');
export const CidrSchema = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/\d{1,2}$/, 'expected an IPv4 CIDR such as 10.0.1.0/24');

/** CPUs in billionths, as Docker counts them, so 0.5 CPU is exact. */
export const ResourcesSchema = z.object({
  nanoCpus: z.number().int().nonnegative().optional(),
  memoryBytes: z.number().int().nonnegative().optional(),
  pids: z.number().int().nonnegative().optional(),
});
export type Resources = z.infer<typeof ResourcesSchema>;
