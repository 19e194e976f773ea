import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macForAddress, type NetworkAssignment } from '@shoal/core';
import { LeaderHarness, taskAssignment } from './support/leader.js';
import { requireLabMachine } from './support/machine.js';

// Every network mode a Docker user knows, run by the agent on real hosts, checked against what
// `docker run` gives with the same mode.
describe('agent network modes', () => {
  const h = new LeaderHarness('agmodes', 'c2', 14223);

  function local(networkId: string, name: string, driver: NetworkAssignment['driver'], subnet: string, gateway: string, driverOpts: Record<string, string> = {}, dns: Record<string, string[]> = {}): NetworkAssignment {
    return { networkId, name, driver, driverOpts, subnet, gateway, peers: [], dns: Object.entries(dns).map(([n, a]) => ({ name: n, addresses: a })), vips: [] };
  }

  beforeAll(async () => {
    await requireLabMachine();
    await h.start(2);
  });

  afterAll(async () => {
    await h.stop();
  });

  it('none: the container has only its loopback', async () => {
    h.assign('h1', [taskAssignment('none-1', 'iso', 1, [], { networkMode: { kind: 'none' } })], []);
    await h.until('none-1', 'running');
    expect((await h.inTask('h1', 'none-1', 'ls /sys/class/net')).out.split('\n')).toEqual(['lo']);
  });

  it("host: the container sees the host's interfaces and address", async () => {
    h.assign('h1', [taskAssignment('host-1', 'hostnet', 1, [], { networkMode: { kind: 'host' } })], []);
    await h.until('host-1', 'running');
    const addrs = await h.inTask('h1', 'host-1', 'ip -4 -o addr show eth0');
    expect(addrs.out).toContain(`${h.lab.host('h1').address}/24`);
  });

  it("container:NAME: the task shares the named service's network stack, address and MAC", async () => {
    const bridge = local('net-br', 'shoalbr', 'bridge', '172.30.5.0/24', '172.30.5.1');
    const main = taskAssignment('main-1', 'main', 1, [{ networkId: 'net-br', address: '172.30.5.10' }]);
    h.assign('h2', [main], [bridge]);
    await h.until('main-1', 'running');
    const side = taskAssignment('side-1', 'side', 1, [], { networkMode: { kind: 'container', container: 'main' } });
    side.container = { ...side.container, command: ['sleep', '600'] }; // main holds port 7000 in the shared stack
    h.assign('h2', [main, side], [bridge]);
    await h.until('side-1', 'running');
    const a = await h.inTask('h2', 'main-1', 'cat /sys/class/net/eth0/address; ip -4 -o addr show eth0');
    const b = await h.inTask('h2', 'side-1', 'cat /sys/class/net/eth0/address; ip -4 -o addr show eth0');
    expect(b.out).toBe(a.out);
    expect(a.out).toContain('172.30.5.10/24');
  });

  it('bridge: a local network with the cluster subnet and gateway, the task at its address, names served', async () => {
    const bridge = local('net-br', 'shoalbr', 'bridge', '172.30.5.0/24', '172.30.5.1', {}, { main: ['172.30.5.10'], peer: ['172.30.5.11'] });
    const main = taskAssignment('main-1', 'main', 1, [{ networkId: 'net-br', address: '172.30.5.10' }]);
    const side = taskAssignment('side-1', 'side', 1, [], { networkMode: { kind: 'container', container: 'main' } });
    side.container = { ...side.container, command: ['sleep', '600'] };
    h.assign('h2', [main, side, taskAssignment('peer-1', 'peer', 1, [{ networkId: 'net-br', address: '172.30.5.11' }])], [bridge]);
    await h.until('peer-1', 'running');
    const inspect = await h.lab.exec('h2', ['docker', 'network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}} {{.Driver}}', 'shoalbr']);
    expect(inspect.stdout.trim()).toBe('172.30.5.0/24 172.30.5.1 bridge');
    expect(await h.inTask('h2', 'peer-1', 'nc -w 2 172.30.5.10 7000')).toEqual({ code: 0, out: 'main-1' });
    expect((await h.inTask('h2', 'peer-1', 'nslookup main')).out).toContain('172.30.5.10');
  });

  it('macvlan: tasks on two hosts get addresses on the parent link and reach each other', async () => {
    const sub = h.lab.state.subnet;
    const base = sub.split('.').slice(0, 3).join('.');
    const mv = local('net-mv', 'shoalmv', 'macvlan', sub, h.lab.state.gateway, { parent: 'eth0' });
    h.assign('h1', [taskAssignment('mv-1', 'mv', 1, [{ networkId: 'net-mv', address: `${base}.101` }])], [mv]);
    h.assign('h2', [taskAssignment('mv-2', 'mv', 2, [{ networkId: 'net-mv', address: `${base}.102` }])], [mv]);
    await h.until('mv-1', 'running');
    await h.until('mv-2', 'running');
    expect(await h.inTask('h1', 'mv-1', `nc -w 2 ${base}.102 7000`)).toEqual({ code: 0, out: 'mv-2' });
    // macvlan gives every container its own MAC on the wire, unlike the host's
    const mac = (await h.inTask('h1', 'mv-1', 'cat /sys/class/net/eth0/address')).out;
    expect(mac).not.toBe(macForAddress(h.lab.host('h1').address));
  });

  it('ipvlan: tasks reach each other across hosts, or are refused in plain words where the kernel has no ipvlan', async () => {
    const base = h.lab.state.subnet.split('.').slice(0, 3).join('.');
    const iv = local('net-iv', 'shoaliv', 'ipvlan', h.lab.state.subnet, h.lab.state.gateway, { parent: 'eth0', ipvlan_mode: 'l2' });
    h.assign('h1', [taskAssignment('iv-1', 'iv', 1, [{ networkId: 'net-iv', address: `${base}.111` }])], [iv]);
    h.assign('h2', [taskAssignment('iv-2', 'iv', 2, [{ networkId: 'net-iv', address: `${base}.112` }])], [iv]);
    // This machine's kernel may lack CONFIG_IPVLAN (the CI kernel does): then the promise is a
    // clear refusal, not a hang or a half-made container.
    const probe = await h.lab.exec('h1', ['sh', '-c', 'ip link add link eth0 name ivprobe type ipvlan mode l2 && ip link del ivprobe']);
    if (probe.code === 0) {
      await h.until('iv-1', 'running');
      await h.until('iv-2', 'running');
      expect(await h.inTask('h1', 'iv-1', `nc -w 2 ${base}.112 7000`)).toEqual({ code: 0, out: 'iv-2' });
      const hostMac = (await h.lab.exec('h1', ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
      expect((await h.inTask('h1', 'iv-1', 'cat /sys/class/net/eth0/address')).out).toBe(hostMac);
    } else {
      const r = await h.until('iv-1', 'rejected', 60_000);
      expect(r.message).toContain("this host's kernel has no ipvlan support");
      expect((await h.lab.exec('h1', ['docker', 'ps', '-a', '-q', '-f', 'label=io.shoal.task.id=iv-1'])).stdout.trim()).toBe('');
    }
  });

  it('fails only the task whose macvlan parent does not exist, naming it', async () => {
    const bad = local('net-bad', 'shoalbad', 'macvlan', '172.31.9.0/24', '172.31.9.1', { parent: 'eth9' });
    const mv = local('net-mv', 'shoalmv', 'macvlan', h.lab.state.subnet, h.lab.state.gateway, { parent: 'eth0' });
    const base = h.lab.state.subnet.split('.').slice(0, 3).join('.');
    h.assign('h1', [taskAssignment('mv-1', 'mv', 1, [{ networkId: 'net-mv', address: `${base}.101` }]), taskAssignment('bad-1', 'bad', 1, [{ networkId: 'net-bad', address: '172.31.9.5' }])], [mv, bad]);
    const r = await h.until('bad-1', 'rejected', 60_000);
    expect(r.message).toMatch(/cannot make macvlan network shoalbad/);
    expect(r.message).toContain('eth9');
    await h.until('mv-1', 'running');
    expect(await h.inTask('h1', 'mv-1', 'hostname')).toEqual({ code: 0, out: 'mv-1' });
  });

  it("fails only the task whose overlay subnet the host already routes, saying which route", async () => {
    const base = h.lab.state.subnet.split('.').slice(0, 3).join('.');
    // the lab's underlay subnet is routed on every host (dev eth0): an overlay on it would cut
    // its containers off from the other hosts
    const routed: NetworkAssignment = { ...local('net-routed', 'routed', 'overlay', h.lab.state.subnet, `${base}.1`), vni: 4700 };
    const fine: NetworkAssignment = { ...local('net-fine', 'fine', 'overlay', '10.0.47.0/24', '10.0.47.1'), vni: 4701 };
    h.assign('h1', [taskAssignment('routed-1', 'routed', 1, [{ networkId: 'net-routed', address: `${base}.150` }]), taskAssignment('fine-1', 'fine', 1, [{ networkId: 'net-fine', address: '10.0.47.2' }])], [routed, fine]);
    const r = await h.until('routed-1', 'rejected', 60_000);
    expect(r.message).toContain(`network routed's subnet ${h.lab.state.subnet} overlaps this host's route to ${h.lab.state.subnet} (dev eth0)`);
    await h.until('fine-1', 'running');
    const netns = (await h.lab.exec('h1', ['ip', 'netns', 'list'])).stdout;
    expect(netns).toContain('shoal-ov-4701');
    expect(netns).not.toContain('shoal-ov-4700');
    h.assign('h1', [], []);
    await h.until('fine-1', 'shutdown', 60_000);
  });

  it('fails a task whose published port is taken on the host, and only that one', async () => {
    const port = { target: 7000, published: 8090, protocol: 'tcp' as const, mode: 'host' as const };
    h.assign('h2', [taskAssignment('p-1', 'pub', 1, [], { hostPorts: [port] })], []);
    await h.until('p-1', 'running');
    h.assign('h2', [taskAssignment('p-1', 'pub', 1, [], { hostPorts: [port] }), taskAssignment('p-2', 'pub2', 1, [], { hostPorts: [port] })], []);
    const r = await h.until('p-2', 'rejected', 60_000);
    expect(r.message).toMatch(/8090/);
    expect((await h.lab.exec('h1', ['busybox', 'nc', '-w', '2', h.lab.host('h2').address, '8090'])).stdout.trim()).toBe('p-1');
    expect((await h.lab.exec('h2', ['docker', 'ps', '-a', '-q', '-f', 'label=io.shoal.task.id=p-2'])).stdout.trim()).toBe('');
  });
});
