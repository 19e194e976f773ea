import { z } from 'zod';
import { ShoalError, isShoalError } from '../errors.js';
import { LabelsSchema, NameSchema } from '../model/common.js';
import { NetworkSpecSchema } from '../model/network.js';
import { NodeAvailabilitySchema } from '../model/node.js';
import { MAX_REPLICAS, ServiceSpecSchema } from '../model/service.js';
import { StackSpecSchema } from '../model/stack.js';
import { PROTOCOL_VERSION, decodeWith } from './decode.js';

const v = z.literal(PROTOCOL_VERSION);
/** A node, network, service or stack named by id or by name, as the CLI lets people do. */
const Ref = z.string().min(1).max(128);
const Version = z.number().int().nonnegative();

/**
 * `id` names the request, and should be unique (the CLI draws 96 random bits): a write sent again
 * with the same id and the same body is the same write, answered as the first time and never
 * applied twice (see isRetriableWrite).
 */
const req = <V extends string, B extends z.ZodTypeAny>(verb: V, body: B) =>
  z.object({ v, kind: z.literal('api.request'), id: z.string().min(1).max(64), verb: z.literal(verb), body });
const none = z.object({}).strict();

export const ApiRequestSchema = z.discriminatedUnion('verb', [
  req('cluster.info', none),
  req('cluster.tokens', z.object({ rotate: z.enum(['worker', 'manager']).optional() }).strict()),
  /** `members`: ask every coordinator for its own term and applied index too (each up to a second). */
  req('cluster.status', z.object({ members: z.boolean().optional() }).strict()),
  req(
    'events.since',
    z
      .object({
        /** Events after this store index. */
        index: z.number().int().nonnegative().optional(),
        /** Events at or after this moment (ISO 8601). */
        since: z.string().datetime({ offset: true }).optional(),
        limit: z.number().int().positive().max(10_000).optional(),
      })
      .strict(),
  ),
  req('node.ls', none),
  req('node.inspect', z.object({ node: Ref }).strict()),
  req(
    'node.update',
    z
      .object({
        node: Ref,
        version: Version,
        availability: NodeAvailabilitySchema.optional(),
        labelsAdd: LabelsSchema.optional(),
        labelsRemove: z.array(z.string()).optional(),
      })
      .strict(),
  ),
  req('node.promote', z.object({ node: Ref }).strict()),
  req('node.demote', z.object({ node: Ref }).strict()),
  req('node.rm', z.object({ node: Ref, force: z.boolean().optional() }).strict()),
  req('network.create', z.object({ spec: NetworkSpecSchema }).strict()),
  req('network.ls', none),
  req('network.inspect', z.object({ network: Ref }).strict()),
  req('network.rm', z.object({ network: Ref }).strict()),
  req('network.connect', z.object({ network: Ref, service: Ref, aliases: z.array(z.string()).optional() }).strict()),
  req('network.disconnect', z.object({ network: Ref, service: Ref }).strict()),
  req('service.create', z.object({ spec: ServiceSpecSchema }).strict()),
  req('service.update', z.object({ service: Ref, version: Version, spec: ServiceSpecSchema, rollback: z.boolean().optional() }).strict()),
  req('service.scale', z.object({ service: Ref, replicas: z.number().int().min(0).max(MAX_REPLICAS) }).strict()),
  req('service.rm', z.object({ service: Ref }).strict()),
  req('service.ls', z.object({ stack: NameSchema.optional() }).strict()),
  req('service.ps', z.object({ service: Ref }).strict()),
  req('service.inspect', z.object({ service: Ref }).strict()),
  req('stack.deploy', z.object({ spec: StackSpecSchema, prune: z.boolean().optional() }).strict()),
  req('stack.ls', none),
  req('stack.ps', z.object({ stack: NameSchema }).strict()),
  req('stack.rm', z.object({ stack: NameSchema }).strict()),
]);
export type ApiRequest = z.infer<typeof ApiRequestSchema>;
export type ApiVerb = ApiRequest['verb'];
export type ApiRequestBody<V extends ApiVerb> = Extract<ApiRequest, { verb: V }>['body'];

export const API_VERBS: readonly ApiVerb[] = ApiRequestSchema.options.map((o) => o.shape.verb.value);

const LEADER_READS: ReadonlySet<ApiVerb> = new Set(['cluster.status', 'events.since']);

/** Verbs that change the store. */
export function isWriteVerb(verb: ApiVerb): boolean {
  return !LEADER_READS.has(verb) && !/\.(info|ls|inspect|ps)$/.test(verb);
}

/** Membership changes are Raft configuration changes, outside the store that remembers requests. */
const MEMBERSHIP_WRITES: ReadonlySet<ApiVerb> = new Set(['node.promote', 'node.demote']);

/**
 * Writes a client may send again with the same id when it does not know whether the first one
 * was applied (its leader died, its answer timed out): the store remembers the requests it
 * applied, with their answers, for some minutes, and answers a repeat with the first answer.
 */
export function isRetriableWrite(verb: ApiVerb): boolean {
  return isWriteVerb(verb) && !MEMBERSHIP_WRITES.has(verb);
}

/**
 * Verbs a follower forwards to the leader: writes, and the reads only the leader can answer
 * (heartbeats live in its memory; the events it published are its own).
 */
export function isLeaderVerb(verb: ApiVerb): boolean {
  return isWriteVerb(verb) || LEADER_READS.has(verb);
}

export const ApiErrorSchema = z.object({
  code: z.string().min(1),
  message: z.string(),
  todo: z.string().optional(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

export const ApiResponseSchema = z.discriminatedUnion('ok', [
  z.object({ v, kind: z.literal('api.response'), id: z.string(), ok: z.literal(true), body: z.unknown() }),
  z.object({ v, kind: z.literal('api.response'), id: z.string(), ok: z.literal(false), error: ApiErrorSchema }),
]);
export type ApiResponse = z.infer<typeof ApiResponseSchema>;

export function decodeApiRequest(input: unknown): ApiRequest {
  return decodeWith(ApiRequestSchema, 'API request', input);
}

export function decodeApiResponse(input: unknown): ApiResponse {
  return decodeWith(ApiResponseSchema, 'API response', input);
}

export function apiRequest<V extends ApiVerb>(id: string, verb: V, body: ApiRequestBody<V>): ApiRequest {
  return { v: PROTOCOL_VERSION, kind: 'api.request', id, verb, body } as ApiRequest;
}

export function okResponse(id: string, body: unknown): ApiResponse {
  return { v: PROTOCOL_VERSION, kind: 'api.response', id, ok: true, body };
}

/**
 * Only ShoalErrors carry a message meant for people; anything else is a bug whose text may
 * leak internals, so the client gets a stable code and a pointer to the logs instead.
 */
export function errorResponse(id: string, err: unknown): ApiResponse {
  const error: ApiError = isShoalError(err)
    ? { code: err.code, message: err.what, ...(err.todo === undefined ? {} : { todo: err.todo }) }
    : { code: 'internal', message: 'the coordinator failed to handle the request', todo: 'see the coordinator log' };
  return { v: PROTOCOL_VERSION, kind: 'api.response', id, ok: false, error };
}

/** The client side: the body of a successful response, or the coordinator's error rethrown. */
export function unwrapResponse(response: ApiResponse): unknown {
  if (response.ok) return response.body;
  throw new ShoalError(response.error.code, response.error.message, response.error.todo);
}
