import { describe, expect, it } from 'vitest';
import {
  API_VERBS,
  PROTOCOL_VERSION,
  ShoalError,
  apiRequest,
  applyAssignment,
  decodeApiRequest,
  decodeApiResponse,
  decodeAssignment,
  decodeHeartbeat,
  decodeEvent,
  decodeNodeRegister,
  decodeNodeRegisterReply,
  decodeTaskStatus,
  errorResponse,
  isWriteVerb,
  loadStack,
  MAX_REPLICAS,
  okResponse,
  unwrapResponse,
} from '@shoal/core';
import type { AssignmentMessage, TaskAssignment } from '@shoal/core';

function task(id: string): TaskAssignment {
  return {
    taskId: id,
    serviceId: 'svc1',
    serviceName: 'web',
    slot: 1,
    desiredState: 'running',
    specVersion: 1,
    container: { image: 'nginx:1.27', env: {}, labels: {}, expose: [] },
    limits: {},
    attachments: [],
    hostPorts: [],
  };
}

const full = (seq: number, ids: string[], sessionId = 's1'): AssignmentMessage => ({
  v: 1, kind: 'assign.full', nodeId: 'n1', sessionId, seq, tasks: ids.map(task), networks: [],
});
const delta = (seq: number, up: string[], rm: string[] = []): AssignmentMessage => ({
  v: 1, kind: 'assign.delta', nodeId: 'n1', sessionId: 's1', seq,
  upsertTasks: up.map(task), removeTasks: rm, upsertNetworks: [], removeNetworks: [],
});

describe('message decoding at the edge', () => {
  it('accepts a well-formed request as JSON text or bytes and types its body by verb', () => {
    const msg = apiRequest('r1', 'service.scale', { service: 'web', replicas: 3 });
    const decoded = decodeApiRequest(JSON.stringify(msg));
    expect(decoded).toEqual(msg);
    expect(decodeApiRequest(new TextEncoder().encode(JSON.stringify(msg)))).toEqual(msg);
    if (decoded.verb === 'service.scale') expect(decoded.body.replicas).toBe(3);
  });

  it('names every offending field in one bad_message error', () => {
    const bad = { v: 1, kind: 'api.request', id: 'r1', verb: 'service.scale', body: { service: '', replicas: 1_000_000 } };
    let err: unknown;
    try {
      decodeApiRequest(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ShoalError);
    expect((err as ShoalError).code).toBe('bad_message');
    expect((err as ShoalError).message).toMatch(/body\.service: .*body\.replicas: /);
  });

  it('refuses another protocol version with advice, not a field list', () => {
    expect(() => decodeHeartbeat({ v: 2, kind: 'node.hb', nodeId: 'n1', sessionId: 's', appliedSeq: 0 })).toThrow(
      /protocol version 2, this build speaks 1 — run the same Shoal version/,
    );
  });

  it('refuses a service spec asking for more replicas than a cluster can hold', () => {
    const stack = loadStack({ name: 's.yml', text: 'services:\n  web:\n    image: nginx\n' }, { stackName: 's' }).stack;
    const spec = stack.services[0];
    if (!spec) throw new Error('no service');
    expect(decodeApiRequest(apiRequest('r1', 'service.create', { spec })).verb).toBe('service.create');
    const huge = { ...spec, mode: { kind: 'replicated' as const, replicas: MAX_REPLICAS + 1 } };
    expect(() => decodeApiRequest(apiRequest('r2', 'service.create', { spec: huge }))).toThrow(/body\.spec\.mode\.replicas/);
  });

  it('refuses non-JSON, non-objects and unknown verbs without throwing anything but ShoalError', () => {
    for (const input of ['{not json', 42, null, [], { v: 1, kind: 'api.request', id: 'x', verb: 'rm.rf', body: {} }]) {
      expect(() => decodeApiRequest(input)).toThrow(expect.objectContaining({ code: 'bad_message' }));
    }
  });

  it('refuses unexpected fields in request bodies, so typos are not silently ignored', () => {
    expect(() => decodeApiRequest({ v: 1, kind: 'api.request', id: 'x', verb: 'node.rm', body: { node: 'a', forse: true } })).toThrow(
      /body: Unrecognized key\(s\) in object: 'forse'/,
    );
  });

  it('decodes registration, heartbeat and status messages', () => {
    expect(
      decodeNodeRegister({
        v: 1, kind: 'node.register', nodeId: 'n1', hostname: 'h1', address: '192.168.50.11',
        platform: { os: 'linux', arch: 'amd64' }, resources: { nanoCpus: 2e9, memoryBytes: 2 ** 31 },
        engineLabels: {}, agentVersion: '0.1.0', runningTasks: [],
      }).hostname,
    ).toBe('h1');
    expect(() => decodeNodeRegister({ v: 1, kind: 'node.register', nodeId: 'n.1' })).toThrow(/nodeId/);
    const status = decodeTaskStatus({
      v: 1, kind: 'task.status', nodeId: 'n1', sessionId: 's1',
      reports: [{ taskId: 't1', state: 'running', message: 'started', at: '2026-01-01T00:00:00Z' }],
    });
    expect(status.reports[0]?.state).toBe('running');
    expect(() => decodeTaskStatus({ v: 1, kind: 'task.status', nodeId: 'n1', sessionId: 's1', reports: [{ taskId: 't1', state: 'zombie', message: '', at: '' }] })).toThrow(
      /reports\.0\.state/,
    );
  });
});

describe('registration replies and events', () => {
  it('tells a registered session from a refusal', () => {
    const reply = decodeNodeRegisterReply({ v: 1, kind: 'node.registered', nodeId: 'n1', sessionId: 's2', heartbeatPeriodMs: 1000, missedHeartbeats: 3 });
    expect(reply.kind === 'node.registered' && reply.sessionId).toBe('s2');
    expect(decodeNodeRegisterReply({ v: 1, kind: 'node.refused', code: 'bad_token', message: 'the join token is wrong' }).kind).toBe('node.refused');
    expect(() => decodeNodeRegisterReply({ v: 1, kind: 'node.registered', nodeId: 'n1', sessionId: 's2', heartbeatPeriodMs: 0, missedHeartbeats: 3 })).toThrow(
      /heartbeatPeriodMs/,
    );
  });

  it('decodes store change events and refuses unknown object kinds', () => {
    const ev = { v: 1, kind: 'event', seq: 42, at: '2026-01-01T00:00:00Z', object: 'service', action: 'update', id: 's1', name: 'shop_web' };
    expect(decodeEvent(ev).seq).toBe(42);
    expect(() => decodeEvent({ ...ev, object: 'volume' })).toThrow(/object/);
  });
});

describe('API responses', () => {
  it('carries a ShoalError across the wire and rethrows it on the client', () => {
    const resp = decodeApiResponse(errorResponse('r1', new ShoalError('network_in_use', 'network front is used by web', 'remove web first')));
    expect(resp).toMatchObject({ ok: false, error: { code: 'network_in_use', message: 'network front is used by web', todo: 'remove web first' } });
    expect(() => unwrapResponse(resp)).toThrow('network front is used by web — remove web first');
  });

  it('hides the text of unexpected errors behind the code "internal"', () => {
    const resp = errorResponse('r1', new TypeError('cannot read x of undefined at /srv/secret.ts'));
    expect(resp).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(resp)).not.toContain('secret');
  });

  it('returns the body of a successful response', () => {
    expect(unwrapResponse(okResponse('r1', { services: 2 }))).toEqual({ services: 2 });
    expect(okResponse('r1', null).v).toBe(PROTOCOL_VERSION);
  });

  it('tells reads from writes so followers forward only writes', () => {
    expect(API_VERBS).toContain('stack.deploy');
    expect(isWriteVerb('service.ls')).toBe(false);
    expect(isWriteVerb('node.inspect')).toBe(false);
    expect(isWriteVerb('service.scale')).toBe(true);
    expect(isWriteVerb('stack.deploy')).toBe(true);
  });
});

describe('assignment sets', () => {
  it('replaces everything on a full set and applies deltas in sequence', () => {
    let out = applyAssignment(undefined, decodeAssignment(full(5, ['a', 'b'])));
    expect(out.kind).toBe('applied');
    out = applyAssignment(out.set, delta(6, ['c'], ['a']));
    expect(out.kind).toBe('applied');
    expect(Object.keys(out.set?.tasks ?? {}).sort()).toEqual(['b', 'c']);
    expect(out.set?.seq).toBe(6);
  });

  it('reports a gap when a delta is lost, so the agent asks for the full set', () => {
    const held = applyAssignment(undefined, full(5, ['a'])).set;
    const out = applyAssignment(held, delta(7, ['x']));
    expect(out).toMatchObject({ kind: 'gap', expectedSeq: 6 });
    expect(Object.keys(out.set?.tasks ?? {})).toEqual(['a']);
  });

  it('ignores a duplicate or reordered delta instead of applying it twice', () => {
    const held = applyAssignment(applyAssignment(undefined, full(5, ['a'])).set, delta(6, [], ['a'])).set;
    expect(applyAssignment(held, delta(6, ['a'])).kind).toBe('stale');
  });

  it('does not apply a delta before any full set or from an older session', () => {
    expect(applyAssignment(undefined, delta(1, ['a'])).kind).toBe('gap');
    const held = applyAssignment(undefined, full(3, ['a'], 's0')).set;
    expect(applyAssignment(held, delta(4, ['b'])).kind).toBe('gap');
  });

  it('accepts a full set of a new session even with a lower sequence', () => {
    const held = applyAssignment(undefined, full(9, ['a'], 's0')).set;
    const out = applyAssignment(held, full(1, ['z'], 's1'));
    expect(out.kind).toBe('applied');
    expect(Object.keys(out.set?.tasks ?? {})).toEqual(['z']);
  });
});
