import { z } from 'zod';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

/**
 * What one coordinator says of itself on its own status subject (`shoal.<cluster>.coordinator.<id>.status`):
 * the part of its Raft state another coordinator reads for `cluster status`. It says more (a
 * store digest, counts); those are not read here.
 */
export const MemberReportSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  id: z.number().int().positive(),
  name: z.string(),
  role: z.string(),
  leader: z.number().int().nonnegative(),
  term: z.number().int().nonnegative(),
  commit: z.number().int().nonnegative(),
  applied: z.number().int().nonnegative(),
});
export type MemberReport = z.infer<typeof MemberReportSchema>;

export function decodeMemberReport(input: unknown): MemberReport {
  return decodeWith(MemberReportSchema, 'coordinator status', input);
}
