import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, decodeApiResponse, type ApiResponse, type StackSpec } from '@shoal/core';
import { ApiServer, Store, storeDigest, type Bus, type BusMessage, type Command, type RequestTag } from '@shoal/coordinator';
import { entry, networkSpec, serviceSpec } from './fixtures.js';

// Hostile and malformed API requests, through the API server as NATS hands them over: each is
// answered with a clear error (a stable code and a sentence), the store is left exactly as it
// was, and the server answers the next good request as before.

/** NATS request/reply in memory: what the server is sent and what it answers. */
class MemoryBus implements Bus {
  readonly subs = new Map<string, (m: BusMessage) => void>();
  subscribe(subject: string, handler: (m: BusMessage) => void): () => void {
    this.subs.set(subject, handler);
    return () => this.subs.delete(subject);
  }
  publish(): void {}
  request(): Promise<Uint8Array> {
    return Promise.reject(new Error('no responders'));
  }
  send(subject: string, data: Uint8Array): Promise<ApiResponse> {
    const handler = this.subs.get('shoal.t.api.>');
    if (!handler) throw new Error('not served');
    return new Promise((resolve) => handler({ subject, data, respond: (d) => resolve(decodeApiResponse(JSON.parse(new TextDecoder().decode(d)))) }));
  }
}

function setup(): { bus: MemoryBus; store: Store; call: (verb: string, body: unknown, raw?: string) => Promise<ApiResponse> } {
  const store = new Store();
  const backend = {
    store,
    propose(command: Command, request?: RequestTag): Promise<unknown> {
      const r = store.apply(command, entry(store.index + 1));
      return r.ok ? Promise.resolve(request?.answer) : Promise.reject(r.error);
    },
  };
  const bus = new MemoryBus();
  new ApiServer({ cluster: 't', bus, backend, leading: () => true }).start();
  let n = 0;
  const call = (verb: string, body: unknown, raw?: string): Promise<ApiResponse> =>
    bus.send(`shoal.t.api.${verb}`, new TextEncoder().encode(raw ?? JSON.stringify({ v: PROTOCOL_VERSION, kind: 'api.request', id: `r${++n}`, verb, body })));
  return { bus, store, call };
}

async function refusedUnchanged(s: ReturnType<typeof setup>, verb: string, body: unknown, code: string, raw?: string): Promise<string> {
  const before = storeDigest(s.store);
  const r = await s.call(verb, body, raw);
  expect(r.ok).toBe(false);
  if (r.ok) return '';
  expect(r.error.code).toBe(code);
  expect(r.error.message.length).toBeGreaterThan(10);
  expect(storeDigest(s.store)).toBe(before);
  // and it keeps serving
  expect((await s.call('service.ls', {})).ok).toBe(true);
  return r.error.message;
}

const stack = (name: string, extra: Partial<StackSpec> = {}): StackSpec => ({ name, services: [serviceSpec(`${name}_web`, { networks: [{ target: `${name}_front`, aliases: [] }] })], networks: [{ key: 'front', external: false, spec: networkSpec(`${name}_front`) }], ...extra });

describe('bad API input: a clear error, nothing changed, still serving', () => {
  it('not JSON, not an object, an unknown verb, a verb sent to another subject', async () => {
    const s = setup();
    await refusedUnchanged(s, 'service.ls', {}, 'bad_message', '{"v":1,');
    await refusedUnchanged(s, 'service.ls', {}, 'bad_message', '[1,2,3]');
    await refusedUnchanged(s, 'service.ls', {}, 'bad_message', 'null');
    await refusedUnchanged(s, 'cluster.selfdestruct', {}, 'bad_message');
    const create = { v: PROTOCOL_VERSION, kind: 'api.request', id: 'x', verb: 'service.rm', body: { service: 'a' } };
    expect(await refusedUnchanged(s, 'service.ls', {}, 'bad_message', JSON.stringify(create))).toContain('sent to shoal.t.api.service.ls');
  });

  it('a body far too large is refused before it is parsed', async () => {
    const s = setup();
    const huge = JSON.stringify({ v: PROTOCOL_VERSION, kind: 'api.request', id: 'x', verb: 'network.create', body: { spec: networkSpec('big', { labels: { a: 'x'.repeat(5 * 2 ** 20) } }) } });
    expect(await refusedUnchanged(s, 'network.create', {}, 'too_large', huge)).toMatch(/MiB/);
  });

  it('replicas of a million, negative or fractional replicas', async () => {
    const s = setup();
    await refusedUnchanged(s, 'service.create', { spec: serviceSpec('web', { mode: { kind: 'replicated', replicas: 1_000_000 } }) }, 'bad_message');
    await refusedUnchanged(s, 'service.create', { spec: serviceSpec('web', { mode: { kind: 'replicated', replicas: -1 } }) }, 'bad_message');
    expect((await s.call('service.create', { spec: serviceSpec('web') })).ok).toBe(true);
    await refusedUnchanged(s, 'service.scale', { service: 'web', replicas: 1_000_000 }, 'bad_message');
    await refusedUnchanged(s, 'service.scale', { service: 'web', replicas: 2.5 }, 'bad_message');
  });

  it('constraints that do not parse', async () => {
    const s = setup();
    for (const c of ['node.labels.zone=eu', 'node.role == ', '== worker', 'node.colour==blue', 'node.labels.==x']) {
      const msg = await refusedUnchanged(s, 'service.create', { spec: serviceSpec('web', { placement: { constraints: [c], preferences: [] } }) }, 'bad_service');
      expect(msg).toContain('constraint');
    }
  });

  it('fields of the wrong type, extra fields, ids with subject wildcards', async () => {
    const s = setup();
    await refusedUnchanged(s, 'service.create', { spec: { ...serviceSpec('web'), name: 42 } }, 'bad_message');
    await refusedUnchanged(s, 'service.create', { spec: serviceSpec('web'), sneaky: true }, 'bad_message');
    await refusedUnchanged(s, 'network.create', { spec: networkSpec('a.b.>') }, 'bad_message');
    // a "__proto__" key in the JSON pollutes nothing
    const raw = JSON.stringify({ v: PROTOCOL_VERSION, kind: 'api.request', id: 'p', verb: 'service.ls', body: {} }).replace('"body":{}', '"body":{"__proto__":{"admin":true}}');
    await s.call('service.ls', {}, raw);
    expect((({}) as Record<string, unknown>).admin).toBeUndefined();
  });

  it('stack files: unknown networks, duplicate names, cycles of network_mode container:', async () => {
    const s = setup();
    await refusedUnchanged(s, 'stack.deploy', { spec: stack('a', { networks: [] }) }, 'bad_stack');
    const dup = stack('b');
    await refusedUnchanged(s, 'stack.deploy', { spec: { ...dup, services: [...dup.services, ...dup.services] } }, 'bad_stack');
    await refusedUnchanged(s, 'stack.deploy', { spec: { ...dup, networks: [...dup.networks, ...dup.networks] } }, 'bad_stack');
    const cyc: StackSpec = { name: 'c', networks: [], services: [serviceSpec('c_a', { networkMode: { kind: 'container', container: 'b' } }), serviceSpec('c_b', { networkMode: { kind: 'container', container: 'c_a' } })] };
    expect(await refusedUnchanged(s, 'stack.deploy', { spec: cyc }, 'bad_stack')).toContain('c_a → c_b → c_a');
    // a good stack still deploys, in one go
    const ok = await s.call('stack.deploy', { spec: stack('good') });
    expect(ok.ok).toBe(true);
    expect(s.store.list('service').map((x) => x.spec.name)).toEqual(['good_web']);
  });

  it('names taken and objects that do not exist', async () => {
    const s = setup();
    expect((await s.call('network.create', { spec: networkSpec('front') })).ok).toBe(true);
    await refusedUnchanged(s, 'network.create', { spec: networkSpec('front') }, 'network_exists');
    await refusedUnchanged(s, 'network.create', { spec: networkSpec('other', { ipam: [{ subnet: '10.0.0.0/33' }] }) }, 'bad_network');
    await refusedUnchanged(s, 'service.rm', { service: 'ghost' }, 'no_such_service');
    await refusedUnchanged(s, 'service.create', { spec: serviceSpec('web', { networks: [{ target: 'nowhere', aliases: [] }] }) }, 'no_such_network');
  });
});
