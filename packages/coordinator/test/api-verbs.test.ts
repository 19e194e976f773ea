import { describe, expect, it } from 'vitest';
import { ShoalError, apiRequest, type ApiRequestBody, type ApiVerb } from '@shoal/core';
import { EventRing, eventsFromChanges, handleApiRequest, memberRows, unconditional, type ApiBackend, type StoreChange } from '@shoal/coordinator';
import { Cluster } from './harness.js';
import { network, node, service } from './fixtures.js';

/** The API over a store driven by the leader's loop, each proposal committed at once. */
function setup(): { c: Cluster; call: <V extends ApiVerb>(verb: V, body: ApiRequestBody<V>) => Promise<unknown>; backend: ApiBackend } {
  const c = new Cluster();
  const backend: ApiBackend = {
    store: c.store,
    propose: (cmd, request) => {
      c.log.propose(cmd);
      return Promise.resolve(request?.answer);
    },
    liveness: () => new Map([['n1', { heartbeatAgeMs: 420, load: { cpuPercent: 12.5, memoryUsedBytes: 1, memoryTotalBytes: 4, containers: 2 } }]]),
    hostname: 'host-n1',
    events: new EventRing(5),
  };
  c.log.propose({ op: 'create', kind: 'node', object: node('n1') }, { op: 'create', kind: 'node', object: node('n2') });
  c.log.propose({ op: 'create', kind: 'network', object: network('front', 'front') }, { op: 'create', kind: 'network', object: network('back', 'back') });
  c.log.propose({ op: 'create', kind: 'service', object: service('web', 'web', { mode: { kind: 'replicated', replicas: 2 }, networks: [{ target: 'front', aliases: [] }] }) });
  c.settle();
  let n = 0;
  const call = <V extends ApiVerb>(verb: V, body: ApiRequestBody<V>): Promise<unknown> => handleApiRequest(backend, apiRequest(`r${++n}`, verb, body));
  return { c, call, backend };
}

const codeOf = async (p: Promise<unknown>): Promise<string | undefined> => p.then(() => undefined, (err: { code?: string }) => err.code);

describe('API verbs', () => {
  it('node.update adds and removes labels and sets availability, against the version read', async () => {
    const { c, call } = setup();
    const n1 = c.store.get('node', 'n1');
    if (!n1) throw new Error('no n1');
    await call('node.update', { node: 'host-n1', version: n1.meta.version, labelsAdd: { zone: 'eu', tier: 'web' } });
    const v2 = c.store.get('node', 'n1')?.meta.version ?? 0;
    expect(await codeOf(call('node.update', { node: 'n1', version: n1.meta.version, availability: 'pause' }))).toBe('version_conflict');
    await call('node.update', { node: 'n1', version: v2, labelsRemove: ['tier'], availability: 'pause' });
    expect(c.store.get('node', 'n1')?.spec).toMatchObject({ availability: 'pause', labels: { zone: 'eu' } });
    expect(await codeOf(call('node.update', { node: 'n1', version: c.store.get('node', 'n1')?.meta.version ?? 0 }))).toBe('nothing_to_update');
    expect(await codeOf(call('node.update', { node: 'nowhere', version: 0, availability: 'drain' }))).toBe('no_such_node');
  });

  it('drain moves a node\'s tasks to the other node', async () => {
    const { c, call } = setup();
    const on = (id: string): number => c.store.tasksOnNode(id).filter((t) => t.desiredState === 'running').length;
    expect(on('n1') + on('n2')).toBe(2);
    await call('node.update', { node: 'n1', version: c.store.get('node', 'n1')?.meta.version ?? 0, availability: 'drain' });
    c.settle();
    expect(on('n1')).toBe(0);
    expect(on('n2')).toBe(2);
  });

  it('node.rm is refused while the node is ready, unless forced; its tasks are replaced elsewhere', async () => {
    const { c, call } = setup();
    expect(await codeOf(call('node.rm', { node: 'n1' }))).toBe('node_ready');
    expect(c.store.get('node', 'n1')).toBeDefined();
    await call('node.rm', { node: 'n1', force: true });
    expect(c.store.get('node', 'n1')).toBeUndefined();
    c.settle();
    const running = c.store.list('task').filter((t) => t.desiredState === 'running' && t.status.state === 'running');
    expect(running.map((t) => t.nodeId)).toEqual(['n2', 'n2']);
  });

  it('service.update rolls the tasks for a new image, and refuses a stale version or a rename', async () => {
    const { c, call } = setup();
    const web = c.store.serviceByName('web');
    if (!web) throw new Error('no web');
    const spec = { ...web.spec, container: { ...web.spec.container, image: 'shoal/busybox:2', env: { A: '1' } } };
    expect(await codeOf(call('service.update', { service: 'web', version: web.meta.version, spec: { ...spec, name: 'www' } }))).toBe('rename_not_supported');
    expect(await codeOf(call('service.update', { service: 'web', version: web.meta.version - 1, spec }))).toBe('version_conflict');
    const r = await call('service.update', { service: 'web', version: web.meta.version, spec });
    expect(r).toMatchObject({ rolling: true });
    expect(c.store.serviceByName('web')?.updateStatus?.state).toBe('updating');
    for (let i = 0; i < 6; i++) c.settle();
    const wanted = c.wanted('web');
    expect(wanted).toHaveLength(2);
    expect(wanted.every((t) => t.specVersion === c.store.specVersion('web'))).toBe(true);
    expect(wanted.every((t) => t.id !== 't1' && t.id !== 't2')).toBe(true);
  });

  it('network.connect gives running tasks an address on the network without replacing them; disconnect takes it back', async () => {
    const { c, call } = setup();
    const before = c.wanted('web').map((t) => t.id);
    const specVersion = c.store.specVersion('web');
    await call('network.connect', { network: 'back', service: 'web', aliases: ['api'] });
    expect(c.store.serviceByName('web')?.spec.networks).toEqual([{ target: 'front', aliases: [] }, { target: 'back', aliases: ['api'] }]);
    c.settle();
    expect(c.store.specVersion('web')).toBe(specVersion);
    expect(c.wanted('web').map((t) => t.id)).toEqual(before);
    for (const t of c.wanted('web')) expect(t.attachments.map((a) => a.networkId)).toEqual(['front', 'back']);
    expect(await codeOf(call('network.connect', { network: 'back', service: 'web' }))).toBe('already_connected');

    await call('network.disconnect', { network: 'back', service: 'web' });
    c.settle();
    expect(c.wanted('web').map((t) => t.id)).toEqual(before);
    for (const t of c.wanted('web')) expect(t.attachments.map((a) => a.networkId)).toEqual(['front']);
    expect(await codeOf(call('network.disconnect', { network: 'back', service: 'web' }))).toBe('not_connected');
    // no address left behind: the network can go
    await call('network.rm', { network: 'back' });
    expect(c.store.networkByName('back')).toBeUndefined();
  });

  it('network.connect refuses a local network, naming what to do instead', async () => {
    const { c, call } = setup();
    c.log.propose({ op: 'create', kind: 'network', object: network('br', 'br', { driver: 'bridge' }) });
    expect(await codeOf(call('network.connect', { network: 'br', service: 'web' }))).toBe('not_supported');
  });

  it('cluster.status joins the store with the leader\'s memory of heartbeats and load', async () => {
    const { c, call } = setup();
    const t = c.wanted('web')[0];
    if (!t) throw new Error('no task');
    c.report(t.id, 'failed', { err: 'exit 3: no config' });
    const status = (await call('cluster.status', {})) as { nodes: { hostname: string; leader: boolean; heartbeatAgeMs?: number; load?: unknown; tasks: unknown }[]; services: { name: string; lastError?: string; running: number; desired: number }[] };
    const n1 = status.nodes.find((n) => n.hostname === 'host-n1');
    expect(n1).toMatchObject({ leader: true, heartbeatAgeMs: 420, load: { cpuPercent: 12.5 } });
    expect(status.nodes.find((n) => n.hostname === 'host-n2')).toMatchObject({ leader: false });
    expect(status.services[0]).toMatchObject({ name: 'web', desired: 2, running: 1, lastError: 'exit 3: no config' });
  });

  it('removals, scales and deploys asked for without a version retry a conflict with a concurrent write instead of surfacing it', async () => {
    const { c, call, backend } = setup();
    const propose = backend.propose.bind(backend);
    let interfere = 0;
    // the orchestrator writes the service between the handler's read and its proposal, twice
    backend.propose = async (cmd) => {
      if (interfere > 0) {
        interfere--;
        const web = c.store.get('service', 'web');
        if (web) c.log.propose({ op: 'update', kind: 'service', object: { ...web, updateStatus: { state: 'updating', startedAt: '2026-01-01T00:00:00Z', message: 'update in progress' } } });
        c.settle();
      }
      return propose(cmd);
    };
    interfere = 2;
    await call('service.scale', { service: 'web', replicas: 3 });
    expect(c.store.get('service', 'web')?.spec.mode).toEqual({ kind: 'replicated', replicas: 3 });
    interfere = 2;
    await call('service.rm', { service: 'web' });
    expect(c.store.get('service', 'web')).toBeUndefined();
    // a change that carries the person's version still says it conflicted
    const n1 = c.store.get('node', 'n1');
    await call('node.update', { node: 'n1', version: n1?.meta.version ?? 0, labelsAdd: { a: 'b' } });
    expect(await codeOf(call('node.update', { node: 'n1', version: n1?.meta.version ?? 0, labelsAdd: { a: 'c' } }))).toBe('version_conflict');
  });

  it('gives up on a conflict that keeps coming back, and never retries other errors', async () => {
    let calls = 0;
    const conflict = (): Promise<never> => {
      calls++;
      return Promise.reject(new ShoalError('version_conflict', 'moved'));
    };
    await expect(unconditional(conflict)).rejects.toMatchObject({ code: 'version_conflict' });
    expect(calls).toBe(8);
    calls = 0;
    await expect(unconditional(() => (calls++, Promise.reject(new ShoalError('no_leader', 'gone'))))).rejects.toMatchObject({ code: 'no_leader' });
    expect(calls).toBe(1);
  });

  it('cluster.status gives the leader\'s Raft view of the members, and asks them for their own figures only when told to', async () => {
    const { call, backend } = setup();
    const asked: boolean[] = [];
    backend.raftView = (reports) => {
      asked.push(reports);
      return Promise.resolve({ term: 4, members: [{ id: 1, name: 'host-n1', role: 'voter', reachability: 'leader', match: 9, ...(reports ? { applied: 9 } : {}) }] });
    };
    expect(await call('cluster.status', {})).toMatchObject({ term: 4, members: [{ name: 'host-n1', reachability: 'leader' }] });
    expect(await call('cluster.status', { members: true })).toMatchObject({ members: [{ applied: 9 }] });
    expect(asked).toEqual([false, true]);
  });

  it('names each member leader, reachable or unreachable from the leader\'s progress, voters and standbys alike', () => {
    const rows = memberRows(
      {
        leader: 2,
        conf: { voters: [3, 1, 2], learners: [4] },
        progress: [
          { id: 1, match: 10, active: true },
          { id: 2, match: 12, active: true },
          { id: 3, match: 4, active: false },
        ],
      },
      (id) => `c${id}`,
    );
    expect(rows).toEqual([
      { id: 1, name: 'c1', role: 'voter', reachability: 'reachable', match: 10 },
      { id: 2, name: 'c2', role: 'voter', reachability: 'leader', match: 12 },
      { id: 3, name: 'c3', role: 'voter', reachability: 'unreachable', match: 4 },
      // a member the leader has no progress for yet has not answered it
      { id: 4, name: 'c4', role: 'standby', reachability: 'unreachable', match: 0 },
    ]);
  });
});

describe('events', () => {
  it('a node going down or coming back is its own event, with the reason', () => {
    const up = node('n1');
    const down = { ...up, status: { state: 'down' as const, message: 'no heartbeat for 3 s' } };
    const changes: StoreChange[] = [{ index: 7, kind: 'node', action: 'update', object: down, previous: up }];
    const [e] = eventsFromChanges(changes, '2026-01-01T00:00:00.000Z', () => undefined);
    expect(e).toMatchObject({ kind: 'event', seq: 7, object: 'node', action: 'down', id: 'n1', name: 'host-n1', summary: 'no heartbeat for 3 s' });
    const [back] = eventsFromChanges([{ index: 8, kind: 'node', action: 'update', object: up, previous: down }], '2026-01-01T00:00:01.000Z', () => undefined);
    expect(back?.action).toBe('ready');
  });

  it('the ring keeps the newest events and replays from an index or a time', () => {
    const ring = new EventRing(3);
    const ev = (seq: number) => ({ v: 1 as const, kind: 'event' as const, seq, at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(), object: 'service' as const, action: 'update' as const, id: `s${seq}` });
    ring.push([ev(1), ev(2), ev(3), ev(4)]);
    expect(ring.length).toBe(3);
    expect(ring.query({}).oldest).toBe(2);
    expect(ring.query({ index: 2 }).events.map((e) => e.seq)).toEqual([3, 4]);
    expect(ring.query({ since: '2026-01-01T00:00:03Z' }).events.map((e) => e.seq)).toEqual([3, 4]);
    expect(ring.query({ limit: 1 }).events.map((e) => e.seq)).toEqual([4]);
  });
});
