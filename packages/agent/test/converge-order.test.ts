import { describe, expect, it } from 'vitest';
import type { TaskAssignment } from '@shoal/core';
import { EgressDriver, OverlayDriver, VipProgrammer, containerEvents, hostsFile, interleaveByService, splitGatewaySubnet, type Kernel } from '@shoal/agent';

function task(serviceId: string, n: number): TaskAssignment {
  return { taskId: `${serviceId}-${n}`, serviceId } as TaskAssignment;
}

/** A kernel that records what it is asked and answers reads as an empty sandbox would. */
function recordingKernel(): Kernel & { calls: { argv: readonly string[]; input?: string }[] } {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  return {
    calls,
    run(argv, input) {
      calls.push({ argv, ...(input !== undefined ? { input } : {}) });
      if (argv.includes('-j')) return Promise.resolve(argv.includes('link') ? '[{"mtu":1450}]' : '[]');
      return Promise.resolve('');
    },
  };
}

describe('the order a converge starts tasks in', () => {
  it("takes one task of each service in turn, so a lone replica is not behind another service's many", () => {
    const order = interleaveByService([task('web', 1), task('web', 2), task('web', 3), task('client', 1), task('web', 4), task('iperf', 1)]).map((t) => t.taskId);
    expect(order).toEqual(['web-1', 'client-1', 'iperf-1', 'web-2', 'web-3', 'web-4']);
  });

  it('keeps every task exactly once', () => {
    const tasks = [task('a', 1), task('b', 1), task('a', 2), task('b', 2), task('c', 1)];
    expect(interleaveByService(tasks).map((t) => t.taskId).sort()).toEqual(tasks.map((t) => t.taskId).sort());
    expect(interleaveByService([])).toEqual([]);
  });
});

describe("Docker's event stream as the agent reads it", () => {
  it('names the container and action of each event in a chunk', () => {
    const chunk = '{"status":"start","id":"abc","Type":"container","Action":"start","Actor":{"ID":"abc"}}\n{"Type":"container","Action":"die","Actor":{"ID":"def"}}\n';
    expect(containerEvents(chunk)).toEqual([
      { id: 'abc', action: 'start' },
      { id: 'def', action: 'die' },
    ]);
  });

  it('gives nothing for a line it cannot read, so the agent looks at the host anyway', () => {
    expect(containerEvents('{"Action":"start","Actor":{"ID":"ab')).toEqual([]);
    expect(containerEvents('{"Type":"container"}\n')).toEqual([]);
  });
});

describe('kernel work per change', () => {
  it('plugs a container into an overlay with two processes, the interface made inside it', async () => {
    const k = recordingKernel();
    const d = new OverlayDriver(k, { localAddress: '192.168.1.11', underlayDevice: 'eth0' });
    await d.attach({ vni: 4096, subnet: '10.0.9.0/24', gateway: '10.0.9.1' }, { id: 't1.n1', address: '10.0.9.2', pid: 4242, ifname: 'eth1', networkId: 'n1' });
    const spawns = k.calls.filter((c) => !c.argv.includes('-j'));
    expect(spawns.map((c) => c.argv.join(' '))).toEqual([
      'ip -n shoal-ov-4096 link add link vxlan0 name eth1 netns 4242 address 02:42:0a:00:09:02 mtu 1450 up type macvlan mode bridge',
      'nsenter -t 4242 -n ip -batch -',
    ]);
    // its address, and the network written on it for a later disconnect to find
    expect(spawns[1]?.input?.trim().split('\n')).toEqual(['addr add 10.0.9.2/24 dev eth1', 'link set eth1 alias shoal:net=n1']);
  });

  it('programs many remote endpoints in one batch per tool, and reads nothing back while they stand', async () => {
    const k = recordingKernel();
    const d = new OverlayDriver(k, { localAddress: '192.168.1.11', underlayDevice: 'eth0' });
    const remotes = [1, 2, 3, 4, 5].map((i) => ({ address: `10.0.9.${10 + i}`, host: `192.168.1.${12 + (i % 2)}` }));
    expect(await d.setRemotes(4096, remotes)).toEqual({ added: 10, removed: 0 });
    const writes = k.calls.filter((c) => c.argv.includes('-batch'));
    expect(writes.map((c) => c.argv.join(' '))).toEqual(['bridge -n shoal-ov-4096 -batch -', 'ip -n shoal-ov-4096 -batch -']);
    expect(writes[0]?.input?.trim().split('\n')).toHaveLength(5);
    expect(writes[1]?.input).toContain('neigh replace 10.0.9.11 lladdr 02:42:0a:00:09:0b dev vxlan0 nud permanent');
    k.calls.length = 0;
    expect(await d.setRemotes(4096, [...remotes].reverse())).toEqual({ added: 0, removed: 0 });
    expect(k.calls).toEqual([]);
    // a change is made exact against what the kernel holds
    await d.setRemotes(4096, remotes.slice(1));
    expect(k.calls.length).toBeGreaterThan(0);
  });

  it('leaves a new container without VIP rules untouched until a VIP comes', async () => {
    const k = recordingKernel();
    const vips = new VipProgrammer(k);
    vips.fresh(77);
    expect(await vips.program(77, [])).toBe(false);
    expect(await vips.program(77, [{ address: '10.0.9.100', backends: ['10.0.9.2'] }])).toBe(true);
    expect(k.calls).toHaveLength(1);
  });
});

describe("the egress driver's share of the gateway bridge", () => {
  it("cuts the bridge's subnet in two: Docker's lower half, Shoal's upper half", () => {
    expect(splitGatewaySubnet('172.18.0.0/16')).toEqual({ docker: '172.18.0.0/17', shoal: '172.18.128.0/17' });
    expect(splitGatewaySubnet('10.1.2.0/24')).toEqual({ docker: '10.1.2.0/25', shoal: '10.1.2.128/25' });
    expect(splitGatewaySubnet('10.1.2.0/29')).toBeUndefined();
  });

  it('never hands out an address a container holds or one reserved, nor the first or the broadcast', () => {
    const e = new EgressDriver(recordingKernel(), { device: 'br', gateway: '10.1.2.1', subnet: '10.1.2.0/28', range: '10.1.2.8/29' });
    e.seen(['10.1.2.9', '10.1.2.11']);
    const got = [e.reserve(), e.reserve(), e.reserve(), e.reserve()];
    expect(got).toEqual(['10.1.2.10', '10.1.2.12', '10.1.2.13', '10.1.2.14']);
    expect(() => e.reserve()).toThrow(/no free address/);
    // a released address is free again, and one seen on a container is held
    e.release('10.1.2.12');
    e.seen(['10.1.2.9', '10.1.2.10', '10.1.2.11', '10.1.2.13', '10.1.2.14']);
    expect(e.reserve()).toBe('10.1.2.12');
  });

  it('plugs a container in with one process outside and one inside', async () => {
    const k = recordingKernel();
    const e = new EgressDriver(k, { device: 'shoal_gwbridge', gateway: '172.18.0.1', subnet: '172.18.0.0/16', range: '172.18.128.0/17' });
    await e.attach(4242, 'abcdef0123456789', '172.18.128.5');
    expect(k.calls.map((c) => [c.argv.join(' '), c.input])).toEqual([
      ['ip -batch -', 'link add sgabcdef012345 type veth peer name eth0 netns 4242\nlink set sgabcdef012345 master shoal_gwbridge up\n'],
      ['nsenter -t 4242 -n ip -batch -', 'addr add 172.18.128.5/16 dev eth0\nlink set eth0 up\nroute add default via 172.18.0.1 dev eth0\n'],
    ]);
    expect(await e.isAttached(4242)).toBe(true);
    expect(k.calls).toHaveLength(2);
  });

  it("writes the /etc/hosts Docker would have, naming the task's own address", () => {
    const hosts = hostsFile('172.18.128.5', 'web-1');
    expect(hosts.split('\n')).toContain('127.0.0.1\tlocalhost');
    expect(hosts.split('\n')).toContain('172.18.128.5\tweb-1');
  });
});
