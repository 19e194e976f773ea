import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OverlayDriver, sandboxName, type OverlaySpec } from '@shoal/agent';
import { macForAddress } from '@shoal/core';
import { Lab } from '@shoal/lab';
import { labKernel } from './support/lab-kernel.js';
import { requireLabMachine } from './support/machine.js';

// The VXLAN overlay driver on two real hosts: real kernel VXLAN, macvlan and dockerd.
const LAB = 'ovtest';
const A: OverlaySpec = { vni: 4096, subnet: '10.0.9.0/24', gateway: '10.0.9.1' };
// a second network with the same subnet: separate sandboxes and VNIs keep them apart
const B: OverlaySpec = { vni: 4097, subnet: '10.0.9.0/24', gateway: '10.0.9.1' };

describe('overlay driver (VXLAN) across two lab hosts', () => {
  let lab: Lab;
  let d1: OverlayDriver;
  let d2: OverlayDriver;
  const pid = new Map<string, number>();

  async function container(host: string, name: string): Promise<void> {
    // no network from Docker: the overlay driver plugs the container in itself
    const run = await lab.exec(host, ['docker', 'run', '-d', '--network', 'none', '--name', name, '--hostname', name, 'shoal/busybox', 'nc', '-ll', '-p', '7000', '-e', 'hostname']);
    expect(run.stderr).toBe('');
    const inspect = await lab.exec(host, ['docker', 'inspect', '-f', '{{.State.Pid}}', name]);
    pid.set(name, Number(inspect.stdout.trim()));
  }

  async function inContainer(host: string, name: string, cmd: string): Promise<{ code: number; out: string }> {
    const r = await lab.exec(host, ['docker', 'exec', name, 'sh', '-c', cmd], { timeoutMs: 30_000 });
    return { code: r.code, out: r.stdout.trim() };
  }

  beforeAll(async () => {
    await requireLabMachine();
    await Lab.down(LAB);
    lab = await Lab.up({ name: LAB, hosts: 2 });
    d1 = new OverlayDriver(labKernel(lab, 'h1'), { localAddress: lab.host('h1').address, underlayDevice: 'eth0' });
    d2 = new OverlayDriver(labKernel(lab, 'h2'), { localAddress: lab.host('h2').address, underlayDevice: 'eth0' });
    await Promise.all([container('h1', 'a1'), container('h2', 'a2'), container('h1', 'b1'), container('h2', 'b2'), container('h1', 'a3')]);
  });

  afterAll(async () => {
    await Lab.down(LAB);
  });

  it('connects containers on two hosts by static entries alone', async () => {
    await d1.ensureNetwork(A);
    await d2.ensureNetwork(A);
    await d1.attach(A, { id: 'task-a1', address: '10.0.9.2', pid: pid.get('a1') ?? 0, ifname: 'eth0' });
    await d2.attach(A, { id: 'task-a2', address: '10.0.9.3', pid: pid.get('a2') ?? 0, ifname: 'eth0' });
    await d1.setRemotes(A.vni, [{ address: '10.0.9.3', host: lab.host('h2').address }]);
    await d2.setRemotes(A.vni, [{ address: '10.0.9.2', host: lab.host('h1').address }]);

    expect(await inContainer('h1', 'a1', 'nc -w 2 10.0.9.3 7000')).toEqual({ code: 0, out: 'a2' });
    expect(await inContainer('h2', 'a2', 'nc -w 2 10.0.9.2 7000')).toEqual({ code: 0, out: 'a1' });
  });

  it("gives the container's interface the task's address, its derived MAC and the underlay MTU less 50", async () => {
    const link = await inContainer('h1', 'a1', 'cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu; ip -4 -o addr show eth0');
    const [mac, mtu, addr] = link.out.split('\n');
    expect(mac).toBe(macForAddress('10.0.9.2'));
    expect(mtu).toBe('1450');
    expect(addr).toContain('10.0.9.2/24');
  });

  it('hangs containers off the VXLAN device alone: local ones reach each other, and the gateway answers', async () => {
    await d1.attach(A, { id: 'task-a3', address: '10.0.9.4', pid: pid.get('a3') ?? 0, ifname: 'eth0' });
    expect(await inContainer('h1', 'a3', 'nc -w 2 10.0.9.2 7000')).toEqual({ code: 0, out: 'a1' });
    expect(await inContainer('h1', 'a1', 'nc -w 2 10.0.9.4 7000')).toEqual({ code: 0, out: 'a3' });
    expect((await inContainer('h1', 'a3', 'ping -c 1 -W 2 10.0.9.1')).code).toBe(0);
    // no bridge and no veth to cross: the sandbox holds the VXLAN device and its gateway endpoint
    const links = JSON.parse((await lab.exec('h1', ['ip', '-n', sandboxName(A.vni), '-j', 'link', 'show'])).stdout) as { ifname: string }[];
    expect(links.map((l) => l.ifname).sort()).toEqual(['gw0', 'lo', 'vxlan0']);
    const kind = await inContainer('h1', 'a3', 'cat /sys/class/net/eth0/uevent; ls /sys/class/net/eth0/');
    expect(kind.out).not.toContain('veth');
    await d1.detach(pid.get('a3') ?? 0, 'eth0');
    expect((await inContainer('h1', 'a3', 'ls /sys/class/net')).out.split('\n')).toEqual(['lo']);
    // a1 lost nothing
    expect(await inContainer('h1', 'a1', 'nc -w 2 10.0.9.3 7000')).toEqual({ code: 0, out: 'a2' });
  });

  it('holds exactly the remote endpoints in the kernel tables, and nothing learnt', async () => {
    const k1 = await d1.read(A.vni);
    expect([...k1.fdb]).toEqual([[macForAddress('10.0.9.3'), lab.host('h2').address]]);
    expect([...k1.neighbours]).toEqual([['10.0.9.3', macForAddress('10.0.9.3')]]);
  });

  it('runs a second network with the same subnet at the same time, apart from the first', async () => {
    await d1.ensureNetwork(B);
    await d2.ensureNetwork(B);
    await d1.attach(B, { id: 'task-b1', address: '10.0.9.2', pid: pid.get('b1') ?? 0, ifname: 'eth0' });
    await d2.attach(B, { id: 'task-b2', address: '10.0.9.3', pid: pid.get('b2') ?? 0, ifname: 'eth0' });
    await d1.setRemotes(B.vni, [{ address: '10.0.9.3', host: lab.host('h2').address }]);
    await d2.setRemotes(B.vni, [{ address: '10.0.9.2', host: lab.host('h1').address }]);
    // the same address answers with the container of the asker's own network
    expect(await inContainer('h1', 'b1', 'nc -w 2 10.0.9.3 7000')).toEqual({ code: 0, out: 'b2' });
    expect(await inContainer('h1', 'a1', 'nc -w 2 10.0.9.3 7000')).toEqual({ code: 0, out: 'a2' });
  });

  it('drops the entries of an endpoint that left, so nothing is sent to its old host', async () => {
    const change = await d1.setRemotes(A.vni, []);
    expect(change.removed).toBe(2);
    const k1 = await d1.read(A.vni);
    expect(k1.fdb.size).toBe(0);
    expect(k1.neighbours.size).toBe(0);
    expect((await inContainer('h1', 'a1', 'nc -w 1 10.0.9.3 7000')).code).not.toBe(0);
    // and puts them back exactly when it returns
    await d1.setRemotes(A.vni, [{ address: '10.0.9.3', host: lab.host('h2').address }]);
    expect(await inContainer('h1', 'a1', 'nc -w 2 10.0.9.3 7000')).toEqual({ code: 0, out: 'a2' });
  });

  it('removes the sandbox, bridge and VXLAN device with the network', async () => {
    await d2.detach(pid.get('b2') ?? 0, 'eth0');
    expect((await inContainer('h2', 'b2', 'ls /sys/class/net')).out.split('\n')).toEqual(['lo']);
    await d2.removeNetwork(B.vni);
    expect(await d2.exists(B.vni)).toBe(false);
    expect((await lab.exec('h2', ['ip', 'netns', 'list'])).stdout).not.toContain(sandboxName(B.vni));
    expect((await lab.exec('h2', ['ip', '-o', 'link', 'show', 'type', 'vxlan'])).stdout).toBe('');
  });
});
