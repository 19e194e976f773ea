import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest, decodeApiResponse, loadStack, type ApiRequestBody, type ApiResponse, type ApiVerb } from '@shoal/core';
import { Manager, memberApiSubject, natsBus } from '@shoal/coordinator';
import { LeaderHarness } from './support/leader.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';
import { overlayNetwork, testService } from './support/specs.js';

// Three coordinators replicating the store over raft-ts (real TCP, real fsync), the leader's
// components on whichever leads, and real agents on two lab hosts over a real nats-server.
const RAFT_PORTS = [17101, 17102, 17103];

describe('three coordinators on raft-ts with real agents', () => {
  const h = new LeaderHarness('cotest', 'co', 14226);
  const managers: Manager[] = [];
  const coordLog: string[] = [];
  let dir = '';

  const leader = (): Manager | undefined => managers.find((m) => m.leading);
  let reqs = 0;
  /** What the CLI does: one API request over NATS, answered by whichever coordinator gets it. */
  async function api<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>): Promise<ApiResponse> {
    const msg = await h.nc.request(`shoal.co.api.${verb}`, new TextEncoder().encode(JSON.stringify(apiRequest(`r${++reqs}`, verb, body))), { timeout: 20_000 });
    return decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data)));
  }
  const running = (m: Manager, name: string): string[] => {
    const svc = m.store.serviceByName(name);
    return svc ? m.store.tasksOfService(svc.id).filter((t) => t.desiredState === 'running' && t.status.state === 'running').map((t) => t.status.containerId ?? '').sort() : [];
  };

  beforeAll(async () => {
    await requireLabMachine();
    dir = await mkdtemp(join(tmpdir(), 'shoal-coordinators-'));
    await h.start(2, { answer: false });
    const peers = new Map(RAFT_PORTS.map((port, i) => [i + 1, { host: '127.0.0.1', port }]));
    for (const id of [1, 2, 3]) {
      const log = (msg: string, fields?: Record<string, unknown>): void => void coordLog.push(`${new Date().toISOString()} c${id} ${msg} ${JSON.stringify(fields ?? {})}`);
      const m = new Manager({ cluster: 'co', id, peers, dataDir: join(dir, `c${id}`), bus: natsBus(h.nc), heartbeatPeriodMs: 500, missedHeartbeats: 4, log });
      await m.start();
      managers.push(m);
    }
    await eventually('a leader', () => leader(), 30_000);
    await eventually('both nodes ready', () => (leader()?.store.list('node').filter((n) => n.status.state === 'ready').length === 2 ? true : undefined), 60_000);
  });

  afterAll(async () => {
    for (const m of managers) await m.stop().catch(() => undefined);
    await writeFile('.test-results/coordinators.log', coordLog.join('\n') + '\n').catch(() => undefined);
    await h.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs a service placed by the leader, and every coordinator holds the same store', async () => {
    const l = leader();
    if (!l) throw new Error('no leader');
    await l.propose({ op: 'create', kind: 'network', object: overlayNetwork('net-front', 'front') });
    await l.propose({ op: 'create', kind: 'service', object: testService('svc-web', 'web', 4, ['front']) });
    await eventually('4 replicas running', () => (running(l, 'web').length === 4 ? true : undefined), 120_000);
    await eventually('the followers to catch up', () => (managers.every((m) => m.store.index === l.store.index) ? true : undefined), 10_000);
    const snap = JSON.stringify(l.store.snapshot());
    for (const m of managers) expect(JSON.stringify(m.store.snapshot())).toBe(snap);
  });

  it('answers reads on each coordinator\'s own subject: the same store digest everywhere, one leader, no writes there', async () => {
    const l = leader();
    if (!l) throw new Error('no leader');
    await eventually('the followers to catch up', () => (managers.every((m) => m.store.index === l.store.index) ? true : undefined), 10_000);
    const infos: { member: number; leading: boolean; digest: string; index: number }[] = [];
    for (const id of [1, 2, 3]) {
      const msg = await h.nc.request(memberApiSubject('co', id), new TextEncoder().encode(JSON.stringify(apiRequest(`m${id}`, 'cluster.info', {}))), { timeout: 10_000 });
      const r = decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data)));
      if (!r.ok) throw new Error(r.error.message);
      infos.push(r.body as (typeof infos)[number]);
    }
    expect(infos.map((i) => i.member)).toEqual([1, 2, 3]);
    expect(infos.filter((i) => i.leading)).toHaveLength(1);
    expect(new Set(infos.map((i) => i.digest)).size).toBe(1);
    expect(new Set(infos.map((i) => i.index)).size).toBe(1);
    const write = await h.nc.request(memberApiSubject('co', 1), new TextEncoder().encode(JSON.stringify(apiRequest('w1', 'service.scale', { service: 'web', replicas: 9 }))), { timeout: 10_000 });
    expect(decodeApiResponse(JSON.parse(new TextDecoder().decode(write.data)))).toMatchObject({ ok: false, error: { code: 'read_only_subject' } });
    expect(l.store.serviceByName('web')?.spec.mode).toEqual({ kind: 'replicated', replicas: 4 });
  });

  it('refuses frames on its Raft port that are not Raft, logs why (once per reason per 10 s), and keeps serving', async () => {
    const l = leader();
    if (!l) throw new Error('no leader');
    const before = coordLog.length;
    const target = managers.indexOf(l);
    const sock = connect(RAFT_PORTS[target]!, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const junk = Buffer.from('GET / HTTP/1.0 and then some bytes that decode to nothing');
    const frame = Buffer.alloc(4 + junk.length);
    frame.writeUInt32BE(junk.length, 0);
    junk.copy(frame, 4);
    // three bad frames: one line in the log, not three
    sock.write(Buffer.concat([frame, frame, frame]));
    const refused = (): string[] => coordLog.slice(before).filter((line) => line.includes(` c${target + 1} raft message refused `));
    await eventually('the refusal in the log', () => (refused().length > 0 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    sock.destroy();
    expect(refused()).toHaveLength(1);
    expect(refused()[0]).toContain('"reason":"malformed"');
    // the member still leads, and the cluster answers
    expect(l.leading).toBe(true);
    expect(await api('service.ls', {})).toMatchObject({ ok: true });
  });

  it('survives the loss of the leader: a new one takes the agents over, no task is restarted', async () => {
    const old = leader();
    if (!old) throw new Error('no leader');
    const before = running(old, 'web');
    await old.stop();
    managers.splice(managers.indexOf(old), 1);
    const next = await eventually('a new leader', () => leader(), 30_000);
    // heartbeats keep the nodes ready under the new leader: nothing is declared down or moved
    await new Promise((r) => setTimeout(r, 3000));
    expect(next.store.list('node').map((n) => n.status.state)).toEqual(['ready', 'ready']);
    expect(running(next, 'web')).toEqual(before);
    // and the new leader is in charge: scaling down reaches the agents
    const svc = next.store.serviceByName('web');
    if (!svc) throw new Error('web is gone');
    await next.propose({ op: 'update', kind: 'service', object: { ...svc, spec: { ...svc.spec, mode: { kind: 'replicated', replicas: 2 } } } });
    await eventually('2 replicas running', () => (running(next, 'web').length === 2 ? true : undefined), 60_000);
    await eventually('2 containers left on the hosts', async () => {
      let n = 0;
      for (const host of ['h1', 'h2']) n += (await h.lab.exec(host, ['docker', 'ps', '-q', '-f', 'label=io.shoal.cluster=co'])).stdout.trim().split('\n').filter(Boolean).length;
      return n === 2 ? true : undefined;
    }, 60_000);
  });

  it('deploys a compose stack through the API, from any coordinator, and refuses bad requests with a reason', async () => {
    const compose = [
      'services:',
      '  api:',
      '    image: shoal/busybox',
      '    command: ["sh", "-c", "trap \\"exit 0\\" TERM; nc -ll -p 7000 -e hostname & wait"]',
      '    networks:',
      '      back:',
      '        aliases: [backend]',
      '    deploy:',
      '      replicas: 3',
      '  probe:',
      '    image: shoal/busybox',
      '    command: ["sh", "-c", "trap \\"exit 0\\" TERM; sleep 3600 & wait"]',
      '    networks: [back]',
      'networks:',
      '  back:',
      '    driver: overlay',
      '    ipam:',
      '      config:',
      '        - subnet: 10.20.0.0/24',
      '',
    ].join('\n');
    const { stack } = loadStack({ name: 'shop.yml', text: compose }, { stackName: 'shop' });
    // several requests, so the queue group hands some to followers, which forward the writes
    const first = await api('stack.deploy', { spec: stack });
    expect(first).toMatchObject({ ok: true, body: { created: ['shop_api', 'shop_probe'], networks: ['shop_back'] } });
    const again = await api('stack.deploy', { spec: stack });
    expect(again).toMatchObject({ ok: true, body: { created: [], unchanged: ['shop_api', 'shop_probe'] } });
    await eventually('the stack to run', async () => {
      const ls = await api('service.ls', { stack: 'shop' });
      const rows = ls.ok ? (ls.body as { name: string; desired: number; running: number }[]) : [];
      return rows.length === 2 && rows.every((r) => r.running === r.desired) ? rows : undefined;
    }, 120_000);
    const l = leader();
    if (!l) throw new Error('no leader');
    const probe = l.store.tasksOfService(l.store.serviceByName('shop_probe')?.id ?? '').find((t) => t.status.state === 'running');
    const host = h.lab.state.hosts.find((x) => x.address === l.store.get('node', probe?.nodeId ?? '')?.address)?.name ?? 'h1';
    const vip = l.store.serviceByName('shop_api')?.vips[0]?.address;
    expect(vip).toMatch(/^10\.20\.0\./);
    expect((await h.inTask(host, probe?.id ?? '', 'nslookup backend')).out).toContain(vip);
    expect((await h.inTask(host, probe?.id ?? '', 'nc -w 2 backend 7000')).code).toBe(0);

    const overlap = await api('network.create', { spec: { name: 'other', driver: 'overlay', driverOpts: {}, ipam: [{ subnet: '10.20.0.128/25' }], attachable: false, internal: false, labels: {} } });
    expect(overlap).toMatchObject({ ok: false, error: { code: 'subnet_overlap', message: 'subnet 10.20.0.128/25 overlaps 10.20.0.0/24 of network shop_back' } });
    const unknown = await api('service.scale', { service: 'nope', replicas: 2 });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'no_such_service' } });
    const malformed = await h.nc.request('shoal.co.api.service.ls', new TextEncoder().encode('{"nonsense":true}'), { timeout: 10_000 });
    expect(decodeApiResponse(JSON.parse(new TextDecoder().decode(malformed.data)))).toMatchObject({ ok: false, error: { code: 'bad_message' } });
    expect(l.store.networkByName('other')).toBeUndefined();
  });
});
