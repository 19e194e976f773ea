import { describe, expect, it } from 'vitest';
import { Allocator, VNI_MIN, allocatePass, isAllocated } from '@shoal/coordinator';
import { macForAddress } from '@shoal/core';
import { network, service, task } from './fixtures.js';
import { Log } from './harness.js';

/** Run an allocator pass and commit what it decided, as the leader's loop will. */
function settle(log: Log, allocator: Allocator): ReturnType<typeof allocatePass> {
  const pass = allocatePass(log.store, allocator, log.now);
  log.batch(pass.commands);
  return pass;
}

describe('Allocator networks', () => {
  it('gives an overlay a carved subnet, its first address as gateway and a VNI from 4096', () => {
    const a = new Allocator();
    expect(a.allocateNetwork(network('n1', 'front'))).toEqual({ subnet: '10.0.0.0/24', gateway: '10.0.0.1', vni: VNI_MIN });
    expect(a.allocateNetwork(network('n2', 'back'))?.vni).toBe(VNI_MIN + 1);
  });

  it('keeps a chosen subnet, ip-range and gateway', () => {
    const a = new Allocator();
    const n = network('n1', 'front', { ipam: [{ subnet: '172.28.0.0/16', ipRange: '172.28.5.0/24', gateway: '172.28.5.254' }] });
    expect(a.allocateNetwork(n)).toEqual({ subnet: '172.28.0.0/16', ipRange: '172.28.5.0/24', gateway: '172.28.5.254', vni: VNI_MIN });
  });

  it('refuses a chosen subnet overlapping another network and takes no VNI for it', () => {
    const a = new Allocator();
    a.allocateNetwork(network('n1', 'front'));
    expect(() => a.allocateNetwork(network('n2', 'back', { ipam: [{ subnet: '10.0.0.128/25' }] }))).toThrowError(/network front/);
    expect(a.allocateNetwork(network('n3', 'other'))?.vni).toBe(VNI_MIN + 1);
  });

  it('refuses an ip-range or a gateway outside the chosen subnet', () => {
    const a = new Allocator();
    expect(() => a.allocateNetwork(network('n1', 'x', { ipam: [{ subnet: '10.9.0.0/24', ipRange: '10.9.1.0/28' }] }))).toThrowError(/ipRange: 10\.9\.1\.0\/28 is not inside the subnet/);
    expect(() => a.allocateNetwork(network('n2', 'y', { ipam: [{ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }] }))).toThrowError(/gateway: 10\.8\.0\.1 is not inside the subnet/);
    expect(a.usage().networks).toBe(0);
  });

  it('leaves host and none networks without any allocation', () => {
    const a = new Allocator();
    expect(a.allocateNetwork(network('h', 'host', { driver: 'host' }))).toBeUndefined();
    expect(a.usage().networks).toBe(0);
  });

  it('records a local network\'s chosen subnet, with no VNI, so overlays cannot overlap it', () => {
    const a = new Allocator();
    expect(a.allocateNetwork(network('m', 'lan', { driver: 'macvlan', ipam: [{ subnet: '10.0.0.0/24' }] }))).toEqual({ subnet: '10.0.0.0/24', gateway: '10.0.0.1' });
    expect(a.allocateNetwork(network('n1', 'front'))?.subnet).toBe('10.0.1.0/24');
  });
});

describe('Allocator addresses', () => {
  it('never gives the gateway to a task, even one chosen in the middle of the range', () => {
    const a = new Allocator();
    const n = network('n1', 'front', { ipam: [{ subnet: '10.9.0.0/29', gateway: '10.9.0.3' }] });
    a.allocateNetwork(n);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(...a.allocateTask(`t${i}`, [{ network: n }]).map((x) => x.address));
    expect(got).toEqual(['10.9.0.1/29', '10.9.0.2/29', '10.9.0.4/29', '10.9.0.5/29', '10.9.0.6/29']);
    expect(() => a.allocateTask('t9', [{ network: n }])).toThrowError(expect.objectContaining({ code: 'address_exhausted' }) as Error);
  });

  it('hands out dynamic addresses only from the ip-range', () => {
    const a = new Allocator();
    const n = network('n1', 'front', { ipam: [{ subnet: '10.9.0.0/16', ipRange: '10.9.7.0/30' }] });
    a.allocateNetwork(n);
    const got = [1, 2, 3, 4].map((i) => a.allocateTask(`t${i}`, [{ network: n }])[0]?.address);
    // 10.9.7.0 is an ordinary host of the /16: only the subnet's own ends are reserved.
    expect(got).toEqual(['10.9.7.0/16', '10.9.7.1/16', '10.9.7.2/16', '10.9.7.3/16']);
    expect(() => a.allocateTask('t5', [{ network: n }])).toThrowError(/ip-range 10\.9\.7\.0\/30 of network front/);
  });

  it('takes nothing for a task when one of its networks is exhausted', () => {
    const a = new Allocator();
    const big = network('n1', 'big');
    const tiny = network('n2', 'tiny', { ipam: [{ subnet: '10.200.0.0/30' }] });
    a.allocateNetwork(big);
    a.allocateNetwork(tiny);
    a.allocateTask('t1', [{ network: tiny }]);
    expect(() => a.allocateTask('t2', [{ network: big }, { network: tiny }])).toThrowError(/tiny/);
    expect(a.holderOf('n1', '10.0.0.2')).toBeUndefined();
    expect(a.usage().addresses).toBe(1);
  });

  it('derives each MAC from its address, as the agent does', () => {
    const a = new Allocator();
    const n = network('n1', 'front');
    a.allocateNetwork(n);
    expect(a.allocateTask('t1', [{ network: n }])[0]?.mac).toBe('02:42:0a:00:00:02');
  });

  it('gives the same address when asked twice for one task, so a lost proposal leaks nothing', () => {
    const a = new Allocator();
    const n = network('n1', 'front');
    a.allocateNetwork(n);
    expect(a.allocateTask('t1', [{ network: n }])).toEqual(a.allocateTask('t1', [{ network: n }]));
    expect(a.usage().addresses).toBe(1);
  });

  it('refuses a fixed address another task holds, naming the holder', () => {
    const a = new Allocator();
    const n = network('n1', 'front', { ipam: [{ subnet: '10.5.0.0/24' }] });
    a.allocateNetwork(n);
    a.allocateTask('t1', [{ network: n, ipv4Address: '10.5.0.9' }]);
    expect(() => a.allocateTask('t2', [{ network: n, ipv4Address: '10.5.0.9' }])).toThrowError(/held by task:t1/);
  });
});

describe('allocatePass', () => {
  function cluster(): { log: Log; a: Allocator } {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'front') },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'front', aliases: [] }], mode: { kind: 'replicated', replicas: 2 } }) },
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'create', kind: 'task', object: task('t2', 's1', { slot: 2 }) },
    );
    return { log, a: new Allocator() };
  }

  it('allocates networks, a VIP per network in vip mode, and one address per task, then moves tasks to pending', () => {
    const { log, a } = cluster();
    settle(log, a);
    const s = log.store.get('service', 's1');
    expect(log.store.get('network', 'n1')?.allocation?.vni).toBe(VNI_MIN);
    expect(s?.vips).toEqual([{ networkId: 'n1', address: '10.0.0.2' }]);
    const tasks = log.store.tasksOfService('s1');
    expect(tasks.map((t) => t.attachments.map((x) => x.address))).toEqual([['10.0.0.3/24'], ['10.0.0.4/24']]);
    expect(tasks.every((t) => s !== undefined && isAllocated(t, s, log.store))).toBe(true);
  });

  it('proposes nothing once everything is allocated', () => {
    const { log, a } = cluster();
    settle(log, a);
    expect(allocatePass(log.store, a, log.now).commands).toEqual([]);
  });

  it('gives no VIP to a service in dnsrr mode', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'front') },
      { op: 'create', kind: 'service', object: service('s1', 'db', { networks: [{ target: 'front', aliases: [] }], endpoint: { mode: 'dnsrr', ports: [] } }) },
    );
    settle(log, new Allocator());
    expect(log.store.get('service', 's1')?.vips).toEqual([]);
  });

  it('leaves a task pending with a reason naming the network when its subnet is full', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'tiny', { ipam: [{ subnet: '10.7.0.0/30' }] }) },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'tiny', aliases: [] }], endpoint: { mode: 'dnsrr', ports: [] } }) },
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'create', kind: 'task', object: task('t2', 's1', { slot: 2 }) },
    );
    settle(log, new Allocator());
    const t2 = log.store.get('task', 't2');
    expect(t2?.status).toMatchObject({ state: 'pending', message: 'no free address is left in the subnet 10.7.0.0/30 of network tiny' });
    const s = log.store.get('service', 's1');
    expect(t2 && s && isAllocated(t2, s, log.store)).toBe(false);
  });

  it('gives a waiting task the address freed when another task ends', () => {
    const log = new Log();
    const a = new Allocator();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'tiny', { ipam: [{ subnet: '10.7.0.0/30' }] }) },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'tiny', aliases: [] }], endpoint: { mode: 'dnsrr', ports: [] } }) },
      { op: 'create', kind: 'task', object: task('t1', 's1') },
      { op: 'create', kind: 'task', object: task('t2', 's1', { slot: 2 }) },
    );
    settle(log, a);
    log.propose({ op: 'delete', kind: 'task', id: 't1' });
    settle(log, a);
    expect(log.store.get('task', 't2')?.attachments.map((x) => x.address)).toEqual(['10.7.0.2/30']);
  });

  it('frees every address, subnet and VNI once tasks, service and network are removed', () => {
    const { log, a } = cluster();
    settle(log, a);
    log.propose({ op: 'delete', kind: 'task', id: 't1' }, { op: 'delete', kind: 'task', id: 't2' }, { op: 'delete', kind: 'service', id: 's1' }, { op: 'delete', kind: 'network', id: 'n1' });
    settle(log, a);
    expect(a.usage()).toEqual({ networks: 0, addresses: 0, ports: 0 });
    expect(a.allocateNetwork(network('n9', 'again'))).toEqual({ subnet: '10.0.0.0/24', gateway: '10.0.0.1', vni: VNI_MIN });
  });

  it('reports an overlapping network as a problem and allocates the others', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'front', { ipam: [{ subnet: '10.0.0.0/16' }] }) },
      { op: 'create', kind: 'network', object: network('n2', 'back', { ipam: [{ subnet: '10.0.5.0/24' }] }) },
      { op: 'create', kind: 'network', object: network('n3', 'free') },
    );
    const pass = settle(log, new Allocator());
    expect(pass.problems).toEqual([{ kind: 'network', id: 'n2', message: 'subnet 10.0.5.0/24 of network back overlaps 10.0.0.0/16 of network front' }]);
    expect(log.store.get('network', 'n3')?.allocation?.subnet).toBe('10.1.0.0/24');
  });
});

describe('allocatePass: published ports', () => {
  const ingress = (target: number, published?: number) => ({ target, protocol: 'tcp' as const, mode: 'ingress' as const, ...(published === undefined ? {} : { published }) });

  it('gives an ingress port without a number one from 30000 up, and keeps it on later passes', () => {
    const log = new Log();
    const a = new Allocator();
    log.propose({ op: 'create', kind: 'service', object: service('s1', 'web', { endpoint: { mode: 'vip', ports: [ingress(80, 8080), ingress(443)] } }) });
    settle(log, a);
    expect(log.store.get('service', 's1')?.ports.map((p) => p.published)).toEqual([8080, 30000]);
    const rebuilt = Allocator.rebuild({ networks: [], services: log.store.list('service'), tasks: [] });
    expect(allocatePass(log.store, rebuilt, log.now).commands).toEqual([]);
  });

  it('refuses a port another service publishes, naming it, and frees ports with the service', () => {
    const log = new Log();
    const a = new Allocator();
    log.propose({ op: 'create', kind: 'service', object: service('s1', 'web', { endpoint: { mode: 'vip', ports: [ingress(80, 8080)] } }) });
    settle(log, a);
    log.propose({ op: 'create', kind: 'service', object: service('s2', 'api', { endpoint: { mode: 'vip', ports: [ingress(80, 8080)] } }) });
    const pass = settle(log, a);
    expect(pass.problems).toEqual([{ kind: 'service', id: 's2', message: 'port 8080/tcp is already published by s1' }]);
    log.propose({ op: 'delete', kind: 'service', id: 's1' });
    settle(log, a);
    expect(log.store.get('service', 's2')?.ports.map((p) => p.published)).toEqual([8080]);
  });
});

describe('Allocator.rebuild', () => {
  it('never hands out an address, subnet or VNI the store records as held', () => {
    const log = new Log();
    const first = new Allocator();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'front') },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'front', aliases: [] }] }) },
    );
    for (let i = 1; i <= 20; i++) log.propose({ op: 'create', kind: 'task', object: task(`t${i}`, 's1', { slot: i }) });
    settle(log, first);
    // A new leader: nothing in memory but the store.
    const rebuilt = Allocator.rebuild({ networks: log.store.list('network'), services: log.store.list('service'), tasks: log.store.list('task') });
    expect(rebuilt.rebuildProblems).toEqual([]);
    const held = new Set(log.store.list('task').flatMap((t) => t.attachments.map((x) => x.address.split('/')[0])));
    held.add('10.0.0.1');
    for (const v of log.store.list('service').flatMap((s) => s.vips)) held.add(v.address);
    const n1 = log.store.get('network', 'n1');
    if (!n1) throw new Error('missing');
    for (let i = 0; i < 200; i++) {
      const [att] = rebuilt.allocateTask(`new${i}`, [{ network: n1 }]);
      expect(held.has(att?.address.split('/')[0])).toBe(false);
    }
    expect(rebuilt.allocateNetwork(network('n2', 'back'))).toEqual({ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: VNI_MIN + 1 });
  });

  it('does not hold the addresses of tasks that have ended', () => {
    const log = new Log();
    log.propose(
      { op: 'create', kind: 'network', object: network('n1', 'front', { ipam: [{ subnet: '10.7.0.0/30' }] }) },
      { op: 'create', kind: 'service', object: service('s1', 'web', { networks: [{ target: 'front', aliases: [] }], endpoint: { mode: 'dnsrr', ports: [] } }) },
      { op: 'create', kind: 'task', object: task('t1', 's1', { status: { state: 'failed', message: 'exit 1', at: '' }, attachments: [{ networkId: 'n1', address: '10.7.0.2/30', mac: macForAddress('10.7.0.2') }] }) },
    );
    const a = Allocator.rebuild({ networks: log.store.list('network'), services: log.store.list('service'), tasks: log.store.list('task') });
    expect(a.holderOf('n1', '10.7.0.2')).toBeUndefined();
  });

  it('reports, rather than double-books, two live tasks recorded with one address', () => {
    const n = network('n1', 'front', {}, { allocation: { subnet: '10.0.0.0/24', gateway: '10.0.0.1', vni: 5000 } });
    const att = [{ networkId: 'n1', address: '10.0.0.5/24', mac: macForAddress('10.0.0.5') }];
    const a = Allocator.rebuild({ networks: [n], services: [], tasks: [task('t1', 's1', { attachments: att }), task('t2', 's1', { attachments: att })] });
    expect(a.rebuildProblems).toHaveLength(1);
    expect(a.holderOf('n1', '10.0.0.5')).toBe('task:t1');
  });
});
