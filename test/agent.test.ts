import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { macForAddress, type NetworkAssignment } from '@shoal/core';
import { LeaderHarness, taskAssignment } from './support/leader.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';

// The agent as a real process on two lab hosts, over a real nats-server, driving real dockerd
// and kernel. The test plays the leader: it answers registrations and sends assignments.
const NET = 'net-front';
const VNI = 4200;

describe('agent on the lab', () => {
  const h = new LeaderHarness('agtest', 'c1', 14222);
  const web = (id: string, slot: number, address: string, extra = {}) => taskAssignment(id, 'web', slot, [{ networkId: NET, address }], extra);

  /** What the leader would send: the network with every host's endpoints and the names. */
  function network(placed: { host: string; address: string }[], names: Record<string, string[]>, vips: NetworkAssignment['vips'] = []): NetworkAssignment {
    const byHost = new Map<string, string[]>();
    for (const p of placed) byHost.set(p.host, [...(byHost.get(p.host) ?? []), p.address]);
    return {
      networkId: NET,
      name: 'front',
      driver: 'overlay',
      driverOpts: {},
      vni: VNI,
      subnet: '10.0.5.0/24',
      gateway: '10.0.5.1',
      peers: [...byHost].map(([host, addrs]) => ({
        nodeId: h.node(host).nodeId,
        underlay: h.node(host).address,
        endpoints: addrs.map((a) => ({ address: a, mac: macForAddress(a) })),
      })),
      dns: Object.entries(names).map(([name, addresses]) => ({ name, addresses })),
      vips,
    };
  }

  beforeAll(async () => {
    await requireLabMachine();
    await h.start(2);
  });

  afterAll(async () => {
    await h.stop();
  });

  it('registers each host with its underlay address and heartbeats', async () => {
    expect(h.node('h1').address).toBe(h.lab.host('h1').address);
    expect(h.node('h2').address).toBe(h.lab.host('h2').address);
    const beats: string[] = [];
    const sub = h.nc.subscribe('shoal.c1.node.*.hb', { callback: (_e, m) => beats.push(m.subject) });
    await eventually('a heartbeat from each node', () => (new Set(beats).size === 2 ? true : undefined), 10_000);
    sub.unsubscribe();
  });

  it('reads its config file: the labels in it reach the leader', () => {
    expect(h.registrations.find((r) => r.host === 'h2')?.labels['lab.host']).toBe('h2');
  });

  it('reconnects to NATS after the server restarts, registers again and keeps heartbeating', async () => {
    const before = h.node('h1').sessionId;
    await h.nats.stop();
    await new Promise((r) => setTimeout(r, 1000));
    await h.nats.start();
    await eventually('h1 to register again', () => (h.node('h1').sessionId !== before ? true : undefined), 60_000);
    const beats: string[] = [];
    const sub = h.nc.subscribe('shoal.c1.node.*.hb', { callback: (_e, m) => beats.push(m.subject) });
    await eventually('heartbeats again from both nodes', () => (new Set(beats).size === 2 ? true : undefined), 20_000);
    sub.unsubscribe();
  });

  it('runs assigned tasks on both hosts and reports them running', async () => {
    const placed = [
      { host: 'h1', address: '10.0.5.2' },
      { host: 'h2', address: '10.0.5.3' },
      { host: 'h1', address: '10.0.5.4' },
    ];
    const net = network(placed, { web: ['10.0.5.2', '10.0.5.3'], 'tasks.web': ['10.0.5.2', '10.0.5.3'], client: ['10.0.5.4'], webvip: ['10.0.5.100'] }, [
      { address: '10.0.5.100', backends: ['10.0.5.2', '10.0.5.3'] },
    ]);
    h.assign('h1', [web('web-1', 1, '10.0.5.2'), taskAssignment('client-1', 'client', 1, [{ networkId: NET, address: '10.0.5.4' }])], [net]);
    h.assign('h2', [web('web-2', 2, '10.0.5.3', { hostPorts: [{ target: 7000, published: 8080, protocol: 'tcp', mode: 'host' }] })], [net]);
    for (const t of ['web-1', 'web-2', 'client-1']) await h.until(t, 'running');
    expect(h.reports.get('web-2')?.containerId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resolves a service by name across hosts and reaches each replica over the overlay', async () => {
    const lookup = await h.inTask('h1', 'client-1', 'nslookup web');
    expect(lookup.out).toContain('10.0.5.2');
    expect(lookup.out).toContain('10.0.5.3');
    expect(await h.inTask('h1', 'client-1', 'nc -w 2 10.0.5.3 7000')).toEqual({ code: 0, out: 'web-2' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await h.inTask('h1', 'client-1', 'nc -w 2 web 7000')).out);
    expect([...seen].sort()).toEqual(['web-1', 'web-2']);
    expect((await h.inTask('h1', 'client-1', 'nslookup nosuchservice')).out).toMatch(/NXDOMAIN|can't find/);
  });

  it('gives an overlay task without published ports its way out through the gateway bridge, and no way to its neighbours there', async () => {
    // client-1 publishes nothing: the agent, not Docker, plugged it into the gateway bridge
    expect((await h.inTask('h1', 'client-1', 'ip -4 route show default')).out).toMatch(/^default via \S+ dev eth0/);
    // out through NAT to the other host's address, where web-2 publishes 8080
    expect(await h.inTask('h1', 'client-1', `nc -w 2 ${h.lab.host('h2').address} 8080`)).toEqual({ code: 0, out: 'web-2' });
    // the /etc/hosts Docker would have written
    expect((await h.inTask('h1', 'client-1', 'ping -c 1 -W 2 localhost')).code).toBe(0);
    // tasks do not reach each other over the gateway bridge, only over their overlays
    const web1 = /inet (\d+\.\d+\.\d+\.\d+)/.exec((await h.inTask('h1', 'web-1', 'ip -4 addr show dev eth0')).out)?.[1] ?? '';
    expect(web1).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await h.inTask('h1', 'web-1', 'nc -w 2 127.0.0.1 7000')).toEqual({ code: 0, out: 'web-1' });
    expect((await h.inTask('h1', 'client-1', `nc -w 1 ${web1} 7000`)).code).not.toBe(0);
  });

  it("spreads connections to a service's VIP over its tasks on both hosts", async () => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await h.inTask('h1', 'client-1', 'nc -w 2 webvip 7000')).out);
    expect([...new Set(seen)].sort()).toEqual(['web-1', 'web-2']);
  });

  it('carries 100 MB across hosts through the overlay intact', async () => {
    const served = await h.inTask('h2', 'web-2', 'mkdir -p /www && head -c 100000000 /dev/urandom > /www/blob && httpd -p 7002 -h /www && md5sum < /www/blob');
    const fetched = await h.inTask('h1', 'client-1', 'wget -q -O - http://10.0.5.3:7002/blob | md5sum');
    const sum = (out: string): string => out.trim().split(/\s+/)[0] ?? '';
    expect(sum(served.out)).toMatch(/^[0-9a-f]{32}$/);
    expect(sum(fetched.out)).toBe(sum(served.out));
  });

  it('publishes a host-mode port on the host address, reachable from the other host', async () => {
    const r = await h.lab.exec('h1', ['busybox', 'nc', '-w', '2', h.lab.host('h2').address, '8080']);
    expect(r.stdout.trim()).toBe('web-2');
  });

  it('restarting the agent keeps every container: none restarted, none duplicated', async () => {
    const ids = (await h.lab.exec('h1', ['docker', 'ps', '-q', '--no-trunc', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim().split('\n').sort();
    expect(ids).toHaveLength(2);
    const started = await h.lab.exec('h1', ['sh', '-c', `docker inspect -f '{{.State.StartedAt}}' ${ids.join(' ')}`]);
    await h.stopAgent('h1', 'SIGKILL');
    const oldSession = h.node('h1').sessionId;
    h.startAgent('h1');
    await eventually('the agent to register again', () => (h.node('h1').sessionId !== oldSession ? true : undefined), 60_000);
    // let it converge on the assignment it kept on disk
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await h.lab.exec('h1', ['docker', 'ps', '-a', '-q', '--no-trunc', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim().split('\n').sort();
    expect(after).toEqual(ids);
    expect((await h.lab.exec('h1', ['sh', '-c', `docker inspect -f '{{.State.StartedAt}}' ${ids.join(' ')}`])).stdout).toBe(started.stdout);
    expect(await h.inTask('h1', 'client-1', 'nc -w 2 10.0.5.3 7000')).toEqual({ code: 0, out: 'web-2' });
  });

  it('scales down: the removed task stops, its name and kernel entries disappear everywhere', async () => {
    const placed = [
      { host: 'h1', address: '10.0.5.2' },
      { host: 'h1', address: '10.0.5.4' },
    ];
    const net = network(placed, { web: ['10.0.5.2'], 'tasks.web': ['10.0.5.2'], client: ['10.0.5.4'], webvip: ['10.0.5.100'] }, [{ address: '10.0.5.100', backends: ['10.0.5.2'] }]);
    h.assign('h2', [], [net]);
    h.assign('h1', [web('web-1', 1, '10.0.5.2'), taskAssignment('client-1', 'client', 1, [{ networkId: NET, address: '10.0.5.4' }])], [net]);
    await h.until('web-2', 'shutdown', 60_000);
    expect((await h.lab.exec('h2', ['docker', 'ps', '-a', '-q', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim()).toBe('');
    // the last task of the network left h2: its sandbox went with it
    expect((await h.lab.exec('h2', ['ip', 'netns', 'list'])).stdout).not.toContain(`shoal-ov-${VNI}`);
    await eventually('h1 to forget web-2', async () => {
      const fdb = (await h.lab.exec('h1', ['bridge', '-n', `shoal-ov-${VNI}`, 'fdb', 'show', 'dev', 'vxlan0'])).stdout;
      const neigh = (await h.lab.exec('h1', ['ip', '-n', `shoal-ov-${VNI}`, 'neigh', 'show', 'dev', 'vxlan0'])).stdout;
      return !fdb.includes(' dst ') && neigh.trim() === '' ? true : undefined;
    });
    for (let i = 0; i < 4; i++) {
      const lookup = await h.inTask('h1', 'client-1', 'nslookup web');
      expect(lookup.out).toContain('10.0.5.2');
      expect(lookup.out).not.toContain('10.0.5.3');
      // the VIP lost its backend on h2 with the task: no connection goes there any more
      expect(await h.inTask('h1', 'client-1', 'nc -w 2 10.0.5.100 7000')).toEqual({ code: 0, out: 'web-1' });
    }
  });

  it('rejects a task whose image does not exist, with the reason, and keeps serving the rest', async () => {
    const net = network([{ host: 'h1', address: '10.0.5.2' }, { host: 'h1', address: '10.0.5.4' }, { host: 'h1', address: '10.0.5.9' }], {
      web: ['10.0.5.2'],
      client: ['10.0.5.4'],
    });
    const bad = taskAssignment('bad-1', 'bad', 1, [{ networkId: NET, address: '10.0.5.9' }]);
    // a registry on the lab's own gateway, where nothing listens: the pull fails at once and
    // no traffic leaves the lab
    const image = `${h.lab.state.gateway}:5999/no-such-image:1.0`;
    bad.container = { ...bad.container, image };
    h.assign('h1', [web('web-1', 1, '10.0.5.2'), taskAssignment('client-1', 'client', 1, [{ networkId: NET, address: '10.0.5.4' }]), bad], [net]);
    const r = await h.until('bad-1', 'rejected', 60_000);
    expect(r.message).toContain(`image ${image} is not on this host and could not be pulled`);
    expect(await h.inTask('h1', 'client-1', 'nc -w 2 web 7000')).toEqual({ code: 0, out: 'web-1' });
  });

  it('rides out a dockerd restart: its event stream comes back, what Docker killed is reported, new tasks run and their exits are seen', async () => {
    const log = (): string => h.logs.get('h1') ?? '';
    const before = log().length;
    expect(h.state('web-1')).toBe('running');
    await h.lab.restartDocker('h1', 1000);
    // dockerd started again without live-restore stops the containers it finds: the agent says so
    // (web-1's shell exits 0 on the SIGTERM, so it is complete rather than failed)
    const ended = await eventually('web-1 reported ended', () => (['complete', 'failed'].includes(h.state('web-1') ?? '') ? h.reports.get('web-1') : undefined), 60_000);
    expect(ended.message).toMatch(/^task: (exited \(0\)|non-zero exit \(\d+\))/);
    await eventually('the agent to watch Docker again', () => (log().slice(before).includes('docker event stream back') ? true : undefined), 60_000);
    expect(log().slice(before)).toContain('docker event stream closed');
    // Docker works for it again: a new task runs and answers
    const net = network([{ host: 'h1', address: '10.0.5.12' }], { web: ['10.0.5.12'] });
    h.assign('h1', [web('web-9', 9, '10.0.5.12')], [net]);
    await h.until('web-9', 'running');
    expect(await h.inTask('h1', 'web-9', 'nc -w 2 127.0.0.1 7000')).toEqual({ code: 0, out: 'web-9' });
    // and the events flow: a container killed behind its back is reported with its exit code
    await h.lab.exec('h1', ['sh', '-c', 'docker kill $(docker ps -q -f label=io.shoal.task.id=web-9)']);
    const killed = await h.until('web-9', 'failed', 60_000);
    expect(killed.exitCode).toBe(137);
  });
});
