import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest, decodeApiResponse, loadStack, unwrapResponse, type ApiRequestBody, type ApiVerb, type Task } from '@shoal/core';
import { Manager, natsBus } from '@shoal/coordinator';
import { LeaderHarness } from './support/leader.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';

// Issue 5's end-to-end checks: a real coordinator (raft-ts, one member) places a compose stack
// on three lab hosts with real agents; names, isolation and the kernel's tables are read from
// the containers and the hosts themselves, never from the agent's memory.
const SERVE = 'trap "exit 0" TERM; nc -ll -p 7000 -e hostname & wait';
const STACK = `
services:
  web:
    image: shoal/busybox
    command: ["sh", "-c", '${SERVE}']
    deploy:
      replicas: 3
      endpoint_mode: dnsrr
    networks:
      a:
        aliases: [www]
  hidden:
    image: shoal/busybox
    command: ["sh", "-c", '${SERVE}']
    networks: [b]
  client:
    image: shoal/busybox
    command: ["sh", "-c", '${SERVE}']
    deploy:
      placement:
        constraints: [node.hostname == h1]
    networks: [a]
networks:
  a:
    driver: overlay
  b:
    driver: overlay
`;

describe('service networking across three hosts, through a real coordinator', () => {
  const h = new LeaderHarness('sntest', 'sn', 14227);
  let manager: Manager;
  let dir = '';
  let reqs = 0;

  async function api<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>): Promise<unknown> {
    const msg = await h.nc.request(`shoal.sn.api.${verb}`, new TextEncoder().encode(JSON.stringify(apiRequest(`r${++reqs}`, verb, body))), { timeout: 20_000 });
    return unwrapResponse(decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data))));
  }

  const store = (): Manager['store'] => manager.store;
  const running = (service: string): Task[] => {
    const svc = store().serviceByName(service);
    return svc ? store().tasksOfService(svc.id).filter((t) => t.desiredState === 'running' && t.status.state === 'running') : [];
  };
  const hostOf = (t: Task): string => h.lab.state.hosts.find((x) => x.address === store().get('node', t.nodeId ?? '')?.address)?.name ?? '';
  const networkId = (name: string): string => store().networkByName(name)?.id ?? '';
  const addressOn = (t: Task, net: string): string => (t.attachments.find((a) => a.networkId === networkId(net))?.address ?? '').split('/')[0] ?? '';
  const inTask = (t: Task, cmd: string): Promise<{ code: number; out: string }> => h.inTask(hostOf(t), t.id, cmd);

  /** dig, run in the task's network namespace against the nameserver of its resolv.conf. */
  async function dig(t: Task, name: string): Promise<string[]> {
    const ns = (await inTask(t, 'sed -n "s/^nameserver //p" /etc/resolv.conf')).out.split('\n')[0] ?? '';
    const script = `nsenter -t $(docker inspect -f '{{.State.Pid}}' $(docker ps -q -f label=io.shoal.task.id=${t.id})) -n dig +short +time=2 +tries=1 @${ns} ${name}`;
    const r = await h.lab.exec(hostOf(t), ['sh', '-c', script], { timeoutMs: 30_000 });
    return r.stdout.trim().split('\n').filter(Boolean);
  }

  /** What each host's kernel holds for an overlay: FDB (MAC → remote host) and neighbours (IP → MAC). */
  async function kernelTables(host: string, vni: number): Promise<{ fdb: string[]; neigh: string[] }> {
    const fdb = (await h.lab.exec(host, ['bridge', '-n', `shoal-ov-${vni}`, 'fdb', 'show', 'dev', 'vxlan0'])).stdout;
    const neigh = (await h.lab.exec(host, ['ip', '-n', `shoal-ov-${vni}`, 'neigh', 'show', 'dev', 'vxlan0'])).stdout;
    return {
      fdb: [...fdb.matchAll(/^(\S+) dst (\S+)/gm)].map((m) => `${m[1] ?? ''}@${m[2] ?? ''}`).sort(),
      neigh: [...neigh.matchAll(/^(\S+) lladdr (\S+)/gm)].map((m) => `${m[1] ?? ''}=${m[2] ?? ''}`).sort(),
    };
  }

  /** From the store: what every host's kernel must hold for network `net`, exactly. */
  function expectedTables(net: string, host: string): { fdb: string[]; neigh: string[] } {
    const id = networkId(net);
    const fdb: string[] = [];
    const neigh: string[] = [];
    for (const t of store().list('task')) {
      const att = t.attachments.find((a) => a.networkId === id);
      const node = store().get('node', t.nodeId ?? '');
      if (!att || !node || t.desiredState !== 'running' || t.status.state !== 'running' || hostOf(t) === host) continue;
      fdb.push(`${att.mac}@${node.address}`);
      neigh.push(`${att.address.split('/')[0] ?? ''}=${att.mac}`);
    }
    return { fdb: fdb.sort(), neigh: neigh.sort() };
  }

  /** Hosts with a task on the network hold a sandbox, and its tables match the store exactly. */
  async function tablesExact(net: string): Promise<true | undefined> {
    const vni = store().networkByName(net)?.allocation?.vni ?? 0;
    for (const host of ['h1', 'h2', 'h3']) {
      const local = store().list('task').some((t) => t.desiredState === 'running' && t.attachments.some((a) => a.networkId === networkId(net)) && hostOf(t) === host);
      if (!local) continue;
      const want = expectedTables(net, host);
      const got = await kernelTables(host, vni);
      if (JSON.stringify(got) !== JSON.stringify(want)) return undefined;
    }
    return true;
  }

  async function scaleTo(n: number): Promise<void> {
    await api('service.scale', { service: 'shop_web', replicas: n });
    await eventually(`web at ${n} running`, () => {
      const svc = store().serviceByName('shop_web');
      const live = svc ? store().tasksOfService(svc.id).filter((t) => t.desiredState === 'running') : [];
      return live.length === n && live.every((t) => t.status.state === 'running') ? true : undefined;
    }, 120_000);
  }

  beforeAll(async () => {
    await requireLabMachine();
    dir = await mkdtemp(join(tmpdir(), 'shoal-sn-'));
    // jumbo frames on the underlay: the overlay must carry them end to end
    await h.start(3, { answer: false, mtu: 9000 });
    manager = new Manager({ cluster: 'sn', id: 1, peers: new Map([[1, { host: '127.0.0.1', port: 17111 }]]), dataDir: join(dir, 'c1'), bus: natsBus(h.nc), heartbeatPeriodMs: 500, missedHeartbeats: 4 });
    await manager.start();
    await eventually('three nodes ready', () => (manager.leading && store().list('node').filter((n) => n.status.state === 'ready').length === 3 ? true : undefined), 60_000);
    const { stack } = loadStack([{ name: 'stack.yml', text: STACK }], { stackName: 'shop', env: {} });
    await api('stack.deploy', { spec: stack });
    await eventually('the stack running', () => (running('shop_web').length === 3 && running('shop_hidden').length === 1 && running('shop_client').length === 1 ? true : undefined), 180_000);
  });

  afterAll(async () => {
    await manager?.stop().catch(() => undefined);
    await h.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('places one web replica on each host, and each pings every other by address and by name', async () => {
    const web = running('shop_web');
    expect(new Set(web.map(hostOf))).toEqual(new Set(['h1', 'h2', 'h3']));
    for (const from of web) {
      for (const to of web) {
        if (to === from) continue;
        expect((await inTask(from, `ping -c 1 -W 3 ${addressOn(to, 'shop_a')}`)).code).toBe(0);
        expect((await inTask(from, `ping -c 1 -W 3 shop_web.${to.slot ?? ''}.${to.id}`)).code).toBe(0);
      }
    }
  });

  it('carries jumbo frames: the overlay MTU is the underlay 9000 less 50, and 8900-byte pings cross hosts', async () => {
    const [a, b] = running('shop_web');
    if (!a || !b) throw new Error('missing tasks');
    // the interface holding the task's overlay address (eth0 is the host-local egress one)
    const ifname = (await inTask(a, `ip -o -4 addr show | grep " ${addressOn(a, 'shop_a')}/" | cut -d" " -f2`)).out;
    expect(ifname).toMatch(/^eth\d+$/);
    expect((await inTask(a, `cat /sys/class/net/${ifname}/mtu`)).out).toBe('8950');
    // and a ping larger than any 1500-byte path could carry in one frame crosses hosts
    const ping = await inTask(a, `ping -c 2 -W 3 -s 8900 ${addressOn(b, 'shop_a')}`);
    expect(ping.code).toBe(0);
    expect(ping.out).toMatch(/8908 bytes from/);
  });

  it('answers tasks.web with every replica, in an order that rotates between queries', async () => {
    const client = running('shop_client')[0];
    if (!client) throw new Error('no client');
    const want = running('shop_web').map((t) => addressOn(t, 'shop_a')).sort();
    const first = await dig(client, 'tasks.shop_web');
    const second = await dig(client, 'tasks.shop_web');
    expect([...first].sort()).toEqual(want);
    expect([...second].sort()).toEqual(want);
    expect(second).not.toEqual(first);
    expect((await dig(client, 'tasks.web')).sort()).toEqual(want);
  });

  it('answers an alias shared by three containers with all of them, round-robin', async () => {
    const client = running('shop_client')[0];
    if (!client) throw new Error('no client');
    const want = running('shop_web').map((t) => addressOn(t, 'shop_a')).sort();
    const firsts = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const answer = await dig(client, 'www');
      expect([...answer].sort()).toEqual(want);
      firsts.add(answer[0] ?? '');
    }
    expect(firsts.size).toBe(3);
    // and a connection by the alias reaches a replica
    expect(running('shop_web').map((t) => (t.status.containerId ?? '').slice(0, 12))).toContain((await inTask(client, 'nc -w 2 www 7000')).out);
  });

  it('keeps networks apart: a container on overlay a neither resolves nor reaches one only on b', async () => {
    const client = running('shop_client')[0];
    const hidden = running('shop_hidden')[0];
    if (!client || !hidden) throw new Error('missing tasks');
    expect(await dig(client, 'shop_hidden')).toEqual([]);
    expect((await inTask(client, 'nslookup shop_hidden')).code).not.toBe(0);
    expect((await inTask(client, `ping -c 1 -W 2 ${addressOn(hidden, 'shop_b')}`)).code).not.toBe(0);
    expect((await inTask(hidden, `ping -c 1 -W 2 ${addressOn(client, 'shop_a')}`)).code).not.toBe(0);
    // while hidden resolves itself on b: its VIP there (vip mode), and its task by tasks.
    const vip = store().serviceByName('shop_hidden')?.vips.find((v) => v.networkId === networkId('shop_b'))?.address;
    expect(vip).toBeDefined();
    expect(await dig(hidden, 'shop_hidden')).toEqual([vip]);
    expect(await dig(hidden, 'tasks.shop_hidden')).toEqual([addressOn(hidden, 'shop_b')]);
  });

  it('scales 3 → 6 → 1 with DNS and every kernel FDB and neighbour table exact after each step', async () => {
    const client = running('shop_client')[0];
    if (!client) throw new Error('no client');
    for (const n of [6, 1]) {
      await scaleTo(n);
      const want = running('shop_web').map((t) => addressOn(t, 'shop_a')).sort();
      expect(want).toHaveLength(n);
      await eventually(`DNS to answer the ${n} replicas`, async () => ((await dig(client, 'tasks.shop_web')).sort().join() === want.join() ? true : undefined), 30_000);
      await eventually(`kernel tables to match the store at ${n}`, () => tablesExact('shop_a'), 30_000);
      // a removed replica is never answered again
      for (let i = 0; i < 3; i++) expect((await dig(client, 'tasks.shop_web')).sort()).toEqual(want);
    }
  });

  it("disconnects one service from an overlay at run time: its container loses the interface and the name, the same host's other task keeps both", async () => {
    // one web replica per host again (the scale test above left one)
    await scaleTo(3);
    const client = running('shop_client')[0];
    if (!client) throw new Error('no client');
    const host = hostOf(client);
    const neighbour = running('shop_web').find((t) => hostOf(t) === host);
    const remote = running('shop_web').find((t) => hostOf(t) !== host);
    if (!neighbour || !remote) throw new Error(`need a web task on ${host} and one elsewhere`);
    const clientAddress = addressOn(client, 'shop_a');
    const containerOf = async (t: Task): Promise<string> =>
      (await h.lab.exec(hostOf(t), ['sh', '-c', `docker inspect -f "{{.Id}} {{.State.StartedAt}}" $(docker ps -q -f label=io.shoal.task.id=${t.id})`])).stdout.trim();
    const before = await containerOf(client);
    expect((await inTask(client, 'ip -o -4 addr')).out).toContain(` ${clientAddress}/`);
    await eventually('the client resolvable on a', async () => ((await dig(neighbour, 'tasks.shop_client')).includes(clientAddress) ? true : undefined), 30_000);
    expect(await dig(neighbour, 'shop_client')).toHaveLength(1); // its VIP on a

    await api('network.disconnect', { network: 'shop_a', service: 'shop_client' });

    // read inside the container's namespace: no interface holds the address any more, no macvlan is left
    await eventually('the client container without its interface on a', async () => ((await inTask(client, 'ip -o -4 addr')).out.includes(` ${clientAddress}/`) ? undefined : true), 30_000);
    const links = await h.lab.exec(host, ['sh', '-c', `nsenter -t $(docker inspect -f "{{.State.Pid}}" $(docker ps -q -f label=io.shoal.task.id=${client.id})) -n ip -d -o link show`]);
    expect(links.stdout).not.toMatch(/macvlan/);
    // the same container, never restarted
    expect(await containerOf(client)).toBe(before);
    // the other task on that host keeps the network: its interface, a remote replica, the names
    expect((await inTask(neighbour, 'ip -o -4 addr')).out).toContain(` ${addressOn(neighbour, 'shop_a')}/`);
    expect((await inTask(neighbour, `ping -c 1 -W 3 ${addressOn(remote, 'shop_a')}`)).code).toBe(0);
    await eventually("the client's names gone from a", async () => ((await dig(neighbour, 'tasks.shop_client')).length === 0 ? true : undefined), 30_000);
    expect(await dig(neighbour, 'shop_client')).toEqual([]);
    expect((await dig(neighbour, 'tasks.shop_web')).sort()).toEqual(running('shop_web').map((t) => addressOn(t, 'shop_a')).sort());
    // and no host's kernel keeps an FDB or neighbour entry for the client's address on a
    const clientMac = client.attachments.find((a) => a.networkId === networkId('shop_a'))?.mac ?? '';
    expect(clientMac).not.toBe('');
    await eventually('kernel tables to match the store without the client', () => tablesExact('shop_a'), 30_000);
    const vni = store().networkByName('shop_a')?.allocation?.vni ?? 0;
    for (const other of ['h1', 'h2', 'h3'].filter((x) => x !== host)) {
      const t = await kernelTables(other, vni);
      expect(t.fdb.join(' ')).not.toContain(clientMac);
      expect(t.neigh.join(' ')).not.toContain(`${clientAddress}=`);
    }
  });
});
