import { z } from 'zod';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

/** What `shoal watch` shows: one line per change committed to the store. */
export const EventSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal('event'),
  /** The Raft index of the change, so a watcher can tell a gap from a quiet cluster. */
  seq: z.number().int().nonnegative(),
  at: z.string(),
  object: z.enum(['cluster', 'node', 'network', 'service', 'task', 'stack']),
  /** `down` and `ready`: a node's status changed (heartbeats stopped, or came back). */
  action: z.enum(['create', 'update', 'remove', 'down', 'ready']),
  id: z.string(),
  name: z.string().optional(),
  summary: z.string().optional(),
});
export type ShoalEvent = z.infer<typeof EventSchema>;

export function decodeEvent(input: unknown): ShoalEvent {
  return decodeWith(EventSchema, 'event', input);
}
