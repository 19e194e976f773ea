import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROTOCOL_VERSION,
  decodeNodeRegister,
  decodeTaskStatus,
  macForAddressOrThrow,
  type AssignmentMessage,
  type NetworkAssignment,
  type TaskAssignment,
  type TaskReport,
} from './support/protocol.js';
import { Lab } from '@shoal/lab';
import { NatsServer } from './support/nats.js';
import { eventually } from './support/net.js';
import { requireLabMachine } from './support/machine.js';

// The agent as a real process on two lab hosts, over a real nats-server, driving real dockerd
// and kernel. The test plays the leader: it answers registrations and sends assignments.
const LAB = 'agtest';
const CLUSTER = 'c1';
const AGENT_BIN = fileURLToPath(new URL('../packages/agent/dist/bin.js', import.meta.url));
const codec = JSONCodec<unknown>();
const NET = 'net-front';
const VNI = 4200;

interface Node {
  host: string;
  nodeId: string;
  address: string;
  sessionId: string;
}

describe('agent on the lab', () => {
  let lab: Lab;
  let nats: NatsServer;
  let nc: NatsConnection;
  const agents = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  const nodes = new Map<string, Node>(); // by host
  const reports = new Map<string, TaskReport>(); // latest by task
  const seq = new Map<string, number>();

  function startAgent(host: string): void {
    const [cmd, ...args] = lab.commandIn(host, [process.execPath, AGENT_BIN, '--cluster', CLUSTER, '--nats', nats.url, '--data-dir', '/var/lib/shoal/agent']);
    const child = spawn(cmd ?? 'nsenter', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const append = (b: Buffer): void => void logs.set(host, (logs.get(host) ?? '') + b.toString());
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    agents.set(host, child);
  }

  async function stopAgent(host: string, signal: NodeJS.Signals): Promise<void> {
    const child = agents.get(host);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // nsenter execs the agent (it forks only to enter a PID namespace), so this is the agent.
      // Not pkill: lab hosts share the machine's PID namespace, pkill would hit every host's agent.
      child.kill(signal);
    });
  }

  function task(id: string, service: string, slot: number, address: string, extra: Partial<TaskAssignment> = {}): TaskAssignment {
    return {
      taskId: id,
      serviceId: `svc-${service}`,
      serviceName: service,
      slot,
      desiredState: 'running',
      specVersion: 1,
      container: { image: 'shoal/busybox', command: ['nc', '-ll', '-p', '7000', '-e', 'hostname'], env: {}, hostname: id, labels: {}, expose: [] },
      limits: {},
      attachments: [{ networkId: NET, address: `${address}/24`, mac: macForAddressOrThrow(address), aliases: [] }],
      hostPorts: [],
      ...extra,
    };
  }

  /** What the leader would send: the network with every other host's endpoints and the names. */
  function network(placed: { host: string; address: string }[], names: Record<string, string[]>): NetworkAssignment {
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
      peers: [...byHost].map(([host, addrs]) => {
        const n = nodes.get(host);
        if (!n) throw new Error(`no node for ${host}`);
        return { nodeId: n.nodeId, underlay: n.address, endpoints: addrs.map((a) => ({ address: a, mac: macForAddressOrThrow(a) })) };
      }),
      dns: Object.entries(names).map(([name, addresses]) => ({ name, addresses })),
      vips: [],
    };
  }

  function assign(host: string, tasks: TaskAssignment[], networks: NetworkAssignment[]): void {
    const n = nodes.get(host);
    if (!n) throw new Error(`no node for ${host}`);
    const next = (seq.get(host) ?? 0) + 1;
    seq.set(host, next);
    const msg: AssignmentMessage = { v: PROTOCOL_VERSION, kind: 'assign.full', nodeId: n.nodeId, sessionId: n.sessionId, seq: next, tasks, networks };
    nc.publish(`shoal.${CLUSTER}.node.${n.nodeId}.assign`, codec.encode(msg));
  }

  async function inTask(host: string, taskId: string, cmd: string): Promise<{ code: number; out: string }> {
    const r = await lab.exec(host, ['sh', '-c', `docker exec $(docker ps -q -f label=io.shoal.task.id=${taskId}) sh -c '${cmd}'`], { timeoutMs: 30_000 });
    return { code: r.code, out: r.stdout.trim() };
  }

  const state = (taskId: string): string | undefined => reports.get(taskId)?.state;

  beforeAll(async () => {
    await requireLabMachine();
    await Lab.down(LAB);
    lab = await Lab.up({ name: LAB, hosts: 2 });
    nats = new NatsServer(lab.state.gateway, 14222);
    await nats.start();
    nc = await connect({ servers: nats.url });
    const hostByAddress = new Map(lab.state.hosts.map((h) => [h.address, h.name]));
    nc.subscribe(`shoal.${CLUSTER}.node.*.register`, {
      callback: (_err, m) => {
        const reg = decodeNodeRegister(codec.decode(m.data));
        const host = hostByAddress.get(reg.address) ?? 'unknown';
        const sessionId = `s${Date.now()}`;
        nodes.set(host, { host, nodeId: reg.nodeId, address: reg.address, sessionId });
        m.respond(codec.encode({ v: PROTOCOL_VERSION, kind: 'node.registered', nodeId: reg.nodeId, sessionId, heartbeatPeriodMs: 1000, missedHeartbeats: 3 }));
      },
    });
    nc.subscribe(`shoal.${CLUSTER}.node.*.status`, {
      callback: (_err, m) => {
        for (const r of decodeTaskStatus(codec.decode(m.data)).reports) reports.set(r.taskId, r);
      },
    });
    startAgent('h1');
    startAgent('h2');
    await eventually('both agents to register', () => (nodes.size === 2 ? true : undefined), 60_000);
  });

  afterAll(async () => {
    for (const host of agents.keys()) await stopAgent(host, 'SIGTERM').catch(() => undefined);
    await nc?.close();
    await nats?.stop();
    await Lab.down(LAB);
    // kept for whoever debugs a failure
    await mkdir('.test-results', { recursive: true });
    for (const [host, log] of logs) await writeFile(`.test-results/agent-${LAB}-${host}.log`, log);
  });

  it('registers each host with its underlay address and heartbeats', async () => {
    expect(nodes.get('h1')?.address).toBe(lab.host('h1').address);
    expect(nodes.get('h2')?.address).toBe(lab.host('h2').address);
    const beats: string[] = [];
    const sub = nc.subscribe(`shoal.${CLUSTER}.node.*.hb`, { callback: (_e, m) => beats.push(m.subject) });
    await eventually('a heartbeat from each node', () => (new Set(beats).size === 2 ? true : undefined), 10_000);
    sub.unsubscribe();
  });

  it('runs assigned tasks on both hosts and reports them running', async () => {
    const placed = [
      { host: 'h1', address: '10.0.5.2' },
      { host: 'h2', address: '10.0.5.3' },
      { host: 'h1', address: '10.0.5.4' },
    ];
    const net = network(placed, { web: ['10.0.5.2', '10.0.5.3'], 'tasks.web': ['10.0.5.2', '10.0.5.3'], client: ['10.0.5.4'] });
    assign('h1', [task('web-1', 'web', 1, '10.0.5.2'), task('client-1', 'client', 1, '10.0.5.4')], [net]);
    assign('h2', [task('web-2', 'web', 2, '10.0.5.3', { hostPorts: [{ target: 7000, published: 8080, protocol: 'tcp', mode: 'host' }] })], [net]);
    await eventually('three tasks running', () => (['web-1', 'web-2', 'client-1'].every((t) => state(t) === 'running') ? true : undefined), 90_000);
    expect(reports.get('web-2')?.containerId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resolves a service by name across hosts and reaches each replica over the overlay', async () => {
    const lookup = await inTask('h1', 'client-1', 'nslookup web');
    expect(lookup.out).toContain('10.0.5.2');
    expect(lookup.out).toContain('10.0.5.3');
    expect(await inTask('h1', 'client-1', 'nc -w 2 10.0.5.3 7000')).toEqual({ code: 0, out: 'web-2' });
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await inTask('h1', 'client-1', 'nc -w 2 web 7000')).out);
    expect([...seen].sort()).toEqual(['web-1', 'web-2']);
    expect((await inTask('h1', 'client-1', 'nslookup nosuchservice')).out).toMatch(/NXDOMAIN|can't find/);
  });

  it('publishes a host-mode port on the host address, reachable from the other host', async () => {
    const r = await lab.exec('h1', ['busybox', 'nc', '-w', '2', lab.host('h2').address, '8080']);
    expect(r.stdout.trim()).toBe('web-2');
  });

  it('restarting the agent keeps every container: none restarted, none duplicated', async () => {
    const before = (await lab.exec('h1', ['docker', 'ps', '--format', '{{.ID}} {{.RunningFor}}', '-f', 'label=io.shoal.cluster=c1'])).stdout;
    const ids = (await lab.exec('h1', ['docker', 'ps', '-q', '--no-trunc', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim().split('\n').sort();
    const started = await lab.exec('h1', ['sh', '-c', `docker inspect -f '{{.State.StartedAt}}' ${ids.join(' ')}`]);
    await stopAgent('h1', 'SIGKILL');
    const oldSession = nodes.get('h1')?.sessionId;
    startAgent('h1');
    await eventually('the agent to register again', () => (nodes.get('h1')?.sessionId !== oldSession ? true : undefined), 60_000);
    // let it converge on its kept assignment and on a fresh copy of the same set
    await new Promise((r) => setTimeout(r, 3000));
    const after = (await lab.exec('h1', ['docker', 'ps', '-a', '-q', '--no-trunc', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim().split('\n').sort();
    expect(after).toEqual(ids);
    expect((await lab.exec('h1', ['sh', '-c', `docker inspect -f '{{.State.StartedAt}}' ${ids.join(' ')}`])).stdout).toBe(started.stdout);
    expect(before).not.toBe('');
    expect(await inTask('h1', 'client-1', 'nc -w 2 10.0.5.3 7000')).toEqual({ code: 0, out: 'web-2' });
  });

  it('scales down: the removed task stops, its name and kernel entries disappear everywhere', async () => {
    const placed = [
      { host: 'h1', address: '10.0.5.2' },
      { host: 'h1', address: '10.0.5.4' },
    ];
    const net = network(placed, { web: ['10.0.5.2'], 'tasks.web': ['10.0.5.2'], client: ['10.0.5.4'] });
    assign('h2', [], [net]);
    assign('h1', [task('web-1', 'web', 1, '10.0.5.2'), task('client-1', 'client', 1, '10.0.5.4')], [net]);
    await eventually('web-2 shut down', () => (state('web-2') === 'shutdown' ? true : undefined), 60_000);
    expect((await lab.exec('h2', ['docker', 'ps', '-a', '-q', '-f', 'label=io.shoal.cluster=c1'])).stdout.trim()).toBe('');
    // the last task of the network left h2: its sandbox went with it
    expect((await lab.exec('h2', ['ip', 'netns', 'list'])).stdout).not.toContain(`shoal-ov-${VNI}`);
    await eventually('h1 to forget web-2', async () => {
      const fdb = (await lab.exec('h1', ['bridge', '-n', `shoal-ov-${VNI}`, 'fdb', 'show', 'dev', 'vxlan0'])).stdout;
      const neigh = (await lab.exec('h1', ['ip', '-n', `shoal-ov-${VNI}`, 'neigh', 'show', 'dev', 'vxlan0'])).stdout;
      return !fdb.includes(' dst ') && neigh.trim() === '' ? true : undefined;
    });
    for (let i = 0; i < 4; i++) {
      const lookup = await inTask('h1', 'client-1', 'nslookup web');
      expect(lookup.out).toContain('10.0.5.2');
      expect(lookup.out).not.toContain('10.0.5.3');
    }
  });

  it('rejects a task whose image does not exist, with the reason, and keeps serving the rest', async () => {
    const net = network([{ host: 'h1', address: '10.0.5.2' }, { host: 'h1', address: '10.0.5.4' }, { host: 'h1', address: '10.0.5.9' }], {
      web: ['10.0.5.2'],
      client: ['10.0.5.4'],
    });
    const bad = task('bad-1', 'bad', 1, '10.0.5.9');
    // a registry on the lab's own gateway, where nothing listens: the pull fails at once and
    // no traffic leaves the lab
    const image = `${lab.state.gateway}:5999/no-such-image:1.0`;
    bad.container = { ...bad.container, image };
    assign('h1', [task('web-1', 'web', 1, '10.0.5.2'), task('client-1', 'client', 1, '10.0.5.4'), bad], [net]);
    const r = await eventually('bad-1 rejected', () => (state('bad-1') === 'rejected' ? reports.get('bad-1') : undefined), 60_000);
    expect(r.message).toContain(`image ${image} is not on this host and could not be pulled`);
    expect(await inTask('h1', 'client-1', 'nc -w 2 web 7000')).toEqual({ code: 0, out: 'web-1' });
  });
});
