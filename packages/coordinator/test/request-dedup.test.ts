import { describe, expect, it } from 'vitest';
import { crc32, type Entry, type Snapshot } from 'raft-ts';
import { PROTOCOL_VERSION, apiRequest, decodeApiResponse, type ApiRequest, type ApiResponse } from '@shoal/core';
import {
  AppliedRequests,
  ApiServer,
  MemberDirectory,
  Store,
  StoreMachine,
  handleApiRequest,
  requestKey,
  storeDigest,
  type ApiBackend,
  type Bus,
  type BusMessage,
  type Command,
  type RequestTag,
} from '@shoal/coordinator';
import { service, serviceSpec } from './fixtures.js';

// A client whose write's answer was lost with its leader sends the write again under the same
// request id. The store remembers the requests it applied, with their answers, as replicated
// state: a repeat is answered as the first time and applies nothing, on every coordinator
// alike, across snapshots, and the memory of it is bounded.

const enc = new TextEncoder();
const minute = 60_000;
const atMinute = (m: number): string => new Date(Date.UTC(2026, 11, 7) + m * minute).toISOString();

function entryOf(index: number, command: Command, request?: RequestTag, at = atMinute(0)): Entry {
  return { kind: 'normal', term: 1, index, data: enc.encode(JSON.stringify({ at, command, ...(request ? { request } : {}) })) };
}

function machine(requests = new AppliedRequests()): StoreMachine {
  return new StoreMachine(new Store(), new MemberDirectory(new Map([[1, { host: '127.0.0.1', port: 7101 }]])), undefined, requests);
}

const create = (id: string, name: string): Command => ({ op: 'create', kind: 'service', object: service(id, name) });
const snapshotOf = (index: number, data: Uint8Array): Snapshot => ({ meta: { index, term: 1, conf: { voters: [1], learners: [] }, size: data.byteLength, checksum: crc32(data) }, data });

describe('requests in the state machine', () => {
  it('applies a request once: the repeat changes nothing and is answered with the first answer', () => {
    const m = machine();
    // the first leader created s1 and died before answering; the retry, run again, made s2
    m.apply(entryOf(1, create('s1', 'web'), { key: 'r1/x', answer: { id: 's1' } }));
    expect(m.outcome(1, { key: 'r1/x', answer: { id: 's1' } })).toEqual({ id: 's1' });
    m.apply(entryOf(2, create('s2', 'web2'), { key: 'r1/x', answer: { id: 's2' } }));
    expect(m.outcome(2, { key: 'r1/x', answer: { id: 's2' } })).toEqual({ id: 's1' });
    expect(m.store.list('service').map((s) => s.id)).toEqual(['s1']);
    expect(m.requests.get('r1/x')).toMatchObject({ index: 1, answer: { id: 's1' } });
    // another request is applied as ever
    m.apply(entryOf(3, create('s3', 'db'), { key: 'r2/y', answer: { id: 's3' } }));
    expect(m.store.count('service')).toBe(2);
  });

  it('does not remember a refused request: nothing changed, so sent again it may apply', () => {
    const m = machine();
    m.apply(entryOf(1, create('s1', 'web')));
    m.apply(entryOf(2, { op: 'update', kind: 'service', object: { ...service('s1', 'web', { mode: { kind: 'replicated', replicas: 3 } }), meta: { version: 99, createdAt: '', updatedAt: '' } } }, { key: 'r1/x', answer: {} }));
    expect(() => m.outcome(2, { key: 'r1/x', answer: {} })).toThrowError(expect.objectContaining({ code: 'version_conflict' }) as Error);
    expect(m.requests.get('r1/x')).toBeUndefined();
    const current = m.store.get('service', 's1');
    if (!current) throw new Error('no s1');
    m.apply(entryOf(3, { op: 'update', kind: 'service', object: { ...current, spec: serviceSpec('web', { mode: { kind: 'replicated', replicas: 3 } }) } }, { key: 'r1/x', answer: { replicas: 3 } }));
    expect(m.outcome(3, { key: 'r1/x', answer: { replicas: 3 } })).toEqual({ replicas: 3 });
    expect(m.store.get('service', 's1')?.spec.mode).toEqual({ kind: 'replicated', replicas: 3 });
  });

  it('keeps the requests across a snapshot: a repeat after a restore applies nothing', () => {
    const original = machine();
    original.apply(entryOf(1, create('s1', 'web'), { key: 'r1/x', answer: { id: 's1' } }));
    original.apply(entryOf(2, create('s2', 'db'), { key: 'r2/y', answer: { id: 's2' } }));
    const copy = machine();
    copy.restore(snapshotOf(2, original.serialize()));
    expect(copy.serialize()).toEqual(original.serialize());
    expect(copy.requests.list().map((r) => r.key)).toEqual(['r1/x', 'r2/y']);

    const repeat = entryOf(3, create('s9', 'web9'), { key: 'r1/x', answer: { id: 's9' } });
    for (const m of [original, copy]) {
      m.apply(repeat);
      expect(m.outcome(3, { key: 'r1/x', answer: { id: 's9' } })).toEqual({ id: 's1' });
      expect(m.store.get('service', 's9')).toBeUndefined();
    }
    expect(storeDigest(copy.store)).toBe(storeDigest(original.store));
  });

  it('restores a snapshot written before requests were kept (format 1)', () => {
    const m = machine();
    m.apply(entryOf(1, create('s1', 'web'), { key: 'r1/x', answer: { id: 's1' } }));
    const { requests: _dropped, ...old } = JSON.parse(new TextDecoder().decode(m.serialize())) as Record<string, unknown>;
    const copy = machine();
    copy.restore(snapshotOf(1, enc.encode(JSON.stringify({ ...old, format: 1 }))));
    expect(copy.store.count('service')).toBe(1);
    expect(copy.requests.size).toBe(0);
    for (const bad of [{ ...old, format: 2 }, { ...old, format: 2, requests: [{ key: 'k', answer: 1, index: 0, at: '' }] }]) {
      expect(() => copy.restore(snapshotOf(1, enc.encode(JSON.stringify(bad))))).toThrowError(expect.objectContaining({ code: 'bad_snapshot' }) as Error);
    }
  });

  it('forgets requests beyond the count kept, and those older than the time kept by the entries\' own clock, alike on every coordinator', () => {
    const feed = (m: StoreMachine): void => {
      for (let i = 1; i <= 5; i++) m.apply(entryOf(i, create(`s${i}`, `web${i}`), { key: `r${i}/x`, answer: { id: `s${i}` } }, atMinute(i)));
    };
    const a = machine(new AppliedRequests(3, 10 * minute));
    const b = machine(new AppliedRequests(3, 10 * minute));
    feed(a);
    feed(b);
    expect(a.requests.list().map((r) => r.key)).toEqual(['r3/x', 'r4/x', 'r5/x']);
    // an entry of minute 15: those applied before minute 5 are forgotten (the count alone keeps r4)
    const late = entryOf(6, create('s6', 'web6'), { key: 'r6/x', answer: { id: 's6' } }, atMinute(15));
    a.apply(late);
    b.apply(late);
    expect(a.requests.list().map((r) => r.key)).toEqual(['r5/x', 'r6/x']);
    const later = entryOf(7, create('s7', 'web7'), { key: 'r7/x', answer: { id: 's7' } }, atMinute(26));
    a.apply(later);
    b.apply(later);
    expect(a.requests.list().map((r) => r.key)).toEqual(['r7/x']);
    expect(a.serialize()).toEqual(b.serialize());
    // forgotten, a request is applied again: the bound is what a client's retries need, not forever
    a.apply(entryOf(8, create('s8', 'web8'), { key: 'r1/x', answer: { id: 's8' } }, atMinute(26)));
    expect(a.store.get('service', 's8')).toBeDefined();
  });

  it('refuses an entry whose request is malformed, changing nothing', () => {
    const m = machine();
    m.apply({ kind: 'normal', term: 1, index: 1, data: enc.encode(JSON.stringify({ at: atMinute(0), command: create('s1', 'web'), request: { key: 42 } })) });
    expect(m.store.count('service')).toBe(0);
    expect(m.applied).toBe(1);
  });
});

/** The API over a state machine, each proposal applied as the next entry, as the leader's Manager does. */
function backendOn(m: StoreMachine): ApiBackend & { entries: number } {
  const b = {
    store: m.store,
    entries: 0,
    propose(command: Command, request?: RequestTag): Promise<unknown> {
      b.entries++;
      m.apply(entryOf(m.applied + 1, command, request));
      return Promise.resolve().then(() => m.outcome(m.applied, request));
    },
    applied: (key: string) => m.requests.get(key),
  };
  return b;
}

describe('a write sent again with the same request id', () => {
  it('service create: answered with the id created the first time, one service, no second entry', async () => {
    const m = machine();
    const b = backendOn(m);
    const req = apiRequest('c1a2b3', 'service.create', { spec: serviceSpec('web') });
    const first = (await handleApiRequest(b, req)) as { id: string };
    // the answer was lost; the same request again, as the CLI sends it
    const again = await handleApiRequest(b, JSON.parse(JSON.stringify(req)) as ApiRequest);
    expect(again).toEqual(first);
    expect(m.store.list('service').map((s) => s.id)).toEqual([first.id]);
    expect(b.entries).toBe(1);
  });

  it('is another request if what it asks differs: a reused id is not taken for the first', async () => {
    const m = machine();
    const b = backendOn(m);
    await handleApiRequest(b, apiRequest('r1', 'service.create', { spec: serviceSpec('web') }));
    const other = (await handleApiRequest(b, apiRequest('r1', 'service.create', { spec: serviceSpec('db') }))) as { id: string };
    expect(m.store.serviceByName('db')?.id).toBe(other.id);
    expect(requestKey(apiRequest('r1', 'service.scale', { service: 'web', replicas: 2 }))).not.toBe(requestKey(apiRequest('r1', 'service.scale', { service: 'web', replicas: 3 })));
  });

  it('arriving while the first is being answered, waits for the same answer instead of running again', async () => {
    const m = machine();
    const b = backendOn(m);
    const slow: ApiBackend = { ...b, propose: (command, request) => new Promise((r) => setTimeout(r, 100)).then(() => b.propose(command, request)) };
    const subs = new Map<string, (msg: BusMessage) => void>();
    const bus: Bus = {
      subscribe: (subject, handler) => {
        subs.set(subject, handler);
        return () => subs.delete(subject);
      },
      publish: () => undefined,
      request: () => Promise.reject(new Error('no responders')),
    };
    new ApiServer({ cluster: 't', bus, backend: slow, leading: () => true }).start();
    const data = enc.encode(JSON.stringify({ v: PROTOCOL_VERSION, kind: 'api.request', id: 'dup1', verb: 'service.create', body: { spec: serviceSpec('web') } }));
    const send = (): Promise<ApiResponse> =>
      new Promise((resolve) => subs.get('shoal.t.api.>')?.({ subject: 'shoal.t.api.service.create', data, respond: (d) => resolve(decodeApiResponse(JSON.parse(new TextDecoder().decode(d)))) }));
    const [one, two] = await Promise.all([send(), send()]);
    expect(one.ok).toBe(true);
    expect(two).toEqual(one);
    expect(b.entries).toBe(1);
    expect(m.store.count('service')).toBe(1);
  });
});
