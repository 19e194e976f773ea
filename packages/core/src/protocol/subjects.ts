import { ShoalError } from '../errors.js';
import { ID_PATTERN } from '../model/common.js';

/** Verbs may be dotted (`service.create`) but each part is a plain token. */
const VERB_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$/;

/** `logs`: requests for a task's container logs, answered by that node's agent. */
export const NODE_CHANNELS = ['register', 'assign', 'status', 'hb', 'logs'] as const;
export type NodeChannel = (typeof NODE_CHANNELS)[number];

/**
 * A NATS token must not hold `.`, `*`, `>` or whitespace: one of those in a node id would let a
 * subject permission for "its own" assignments match other nodes' subjects.
 */
function token(kind: string, value: string): string {
  if (!ID_PATTERN.test(value)) {
    throw new ShoalError(
      'bad_subject_token',
      `${kind} ${JSON.stringify(value)} cannot be part of a subject`,
      'use letters, digits, "-" or "_" (at most 64)',
    );
  }
  return value;
}

export function apiSubject(cluster: string, verb: string): string {
  if (!VERB_PATTERN.test(verb)) {
    throw new ShoalError('bad_subject_token', `API verb ${JSON.stringify(verb)} cannot be part of a subject`, 'use lowercase words joined by "."');
  }
  return `shoal.${token('cluster id', cluster)}.api.${verb}`;
}

/** Every API verb, for a coordinator's subscription. */
export function apiWildcard(cluster: string): string {
  return `shoal.${token('cluster id', cluster)}.api.>`;
}

export function nodeSubject(cluster: string, nodeId: string, channel: NodeChannel): string {
  return `shoal.${token('cluster id', cluster)}.node.${token('node id', nodeId)}.${channel}`;
}

/** What the leader subscribes to, for one channel of every node. */
export function nodeWildcard(cluster: string, channel: NodeChannel): string {
  return `shoal.${token('cluster id', cluster)}.node.*.${channel}`;
}

/** Everything one node's NATS user may touch; the subject permission of that user. */
export function nodePermission(cluster: string, nodeId: string): string {
  return `shoal.${token('cluster id', cluster)}.node.${token('node id', nodeId)}.>`;
}

/**
 * Where one `service logs` stream of a node flows: the agent answers on `reply` and listens on
 * `control` for a follower's pings and stop. Both sit under the node's own subjects, which its
 * NATS user may publish and subscribe to, so the agent needs no right on anyone's `_INBOX`.
 * (nats-server's `allow_responses` would let it answer an inbox, but its permission counts from
 * the request and is not renewed by traffic: a follow outliving `expires` would be cut off.)
 */
export function nodeLogsSubjects(cluster: string, nodeId: string, stream: string): { reply: string; control: string } {
  const base = `shoal.${token('cluster id', cluster)}.node.${token('node id', nodeId)}.logs`;
  const id = token('logs stream id', stream);
  return { reply: `${base}.reply.${id}`, control: `${base}.control.${id}` };
}

export function eventsSubject(cluster: string): string {
  return `shoal.${token('cluster id', cluster)}.events`;
}

export function raftSubject(cluster: string, member: string): string {
  return `shoal.${token('cluster id', cluster)}.raft.${token('raft member', member)}`;
}

export type ParsedSubject =
  | { kind: 'api'; cluster: string; verb: string }
  | { kind: 'node'; cluster: string; nodeId: string; channel: NodeChannel }
  | { kind: 'events'; cluster: string }
  | { kind: 'raft'; cluster: string; member: string };

/** The inverse of the builders; undefined for any subject Shoal does not use. */
export function parseSubject(subject: string): ParsedSubject | undefined {
  const parts = subject.split('.');
  const [root, cluster, area, a, b] = parts;
  if (root !== 'shoal' || cluster === undefined || !ID_PATTERN.test(cluster)) return undefined;
  if (area === 'api' && parts.length >= 4) {
    const verb = parts.slice(3).join('.');
    return VERB_PATTERN.test(verb) ? { kind: 'api', cluster, verb } : undefined;
  }
  if (area === 'node' && parts.length === 5 && a !== undefined && ID_PATTERN.test(a)) {
    const channel = NODE_CHANNELS.find((c) => c === b);
    return channel ? { kind: 'node', cluster, nodeId: a, channel } : undefined;
  }
  if (area === 'events' && parts.length === 3) return { kind: 'events', cluster };
  if (area === 'raft' && parts.length === 4 && a !== undefined && ID_PATTERN.test(a)) return { kind: 'raft', cluster, member: a };
  return undefined;
}
