import { describe, expect, it } from 'vitest';
import {
  HostProgress,
  checkFacts,
  clusterFile,
  derivePassword,
  natsUsers,
  parseInventory,
  parsePreflight,
  planHost,
  restartDelayMs,
  serviceChange,
  systemdUnit,
  type ServiceSpec,
} from './imports.js';

const inv = parseInventory(
  `cluster: prod
hosts:
  - { name: m2, address: 10.0.0.2, role: coordinator }
  - { name: m1, address: 10.0.0.1, role: coordinator }
  - { name: m3, address: 10.0.0.3, role: coordinator }
  - { name: w1, address: 10.0.0.9, role: worker, labels: { zone: a } }
`,
  '/x/hosts.yaml',
);
const cf = clusterFile(inv, (h) => h.address);
const inputs = { secret: 's3cret', bundlePath: '/var/lib/shoal/bundle/shoal-abc.mjs', nodePath: '/usr/bin/node', natsServerPath: '/usr/sbin/nats-server', cluster: cf };

describe('bootstrap plan', () => {
  it('numbers coordinators by name, so reordering the inventory changes nothing', () => {
    expect(cf.coordinators.map((c) => [c.name, c.id])).toEqual([
      ['m1', 1],
      ['m2', 2],
      ['m3', 3],
    ]);
  });

  it('gives each agent a NATS user limited to its own node subjects and its replies', () => {
    const users = natsUsers('prod', { admin: 'a', coordinator: 'c', agent: (id) => `p-${id}` }, ['w1']);
    expect(users.find((u) => u.user === 'admin')?.publish).toBeUndefined();
    expect(users.find((u) => u.user === 'agent-w1')).toEqual({
      user: 'agent-w1',
      password: 'p-w1',
      publish: ['shoal.prod.node.w1.>'],
      subscribe: ['shoal.prod.node.w1.>', '_INBOX.>'],
    });
  });

  it('puts nats-server with routes to the other coordinators, a coordinator and an agent on a coordinator host', () => {
    const m1 = inv.hosts.find((h) => h.name === 'm1');
    if (!m1) throw new Error('no m1');
    const plan = planHost(inv, m1, inputs);
    expect(plan.services.map((s) => s.name)).toEqual(['nats', 'coordinator', 'agent']);
    const conf = plan.files.find((f) => f.path === '/etc/shoal/nats.conf')?.content ?? '';
    expect(conf).toContain(`nats-route://route:${derivePassword('s3cret', 'route')}@10.0.0.2:6222`);
    expect(conf).toContain('10.0.0.3:6222');
    expect(conf).not.toContain('10.0.0.1:6222');
    // a cut host's route is dropped in seconds, not nats-server's default minutes
    expect(conf).toContain('ping_interval: "1s"\nping_max: 2\nwrite_deadline: "2s"\n');
    expect(conf).toContain(`{ user: "agent-w1", password: "${derivePassword('s3cret', 'agent:w1')}", permissions: { publish: { allow: ["shoal.prod.node.w1.>"] }`);
    const coord = plan.services.find((s) => s.name === 'coordinator');
    expect(coord?.argv.join(' ')).toContain('--id 1 --peers 1=10.0.0.1:7100,2=10.0.0.2:7100,3=10.0.0.3:7100');
    expect(coord?.argv.join(' ')).toContain('--nats nats://127.0.0.1:4222 --nats nats://10.0.0.2:4222 --nats nats://10.0.0.3:4222');
    // passwords travel in files only root can read, never on a command line
    expect(coord?.argv.join(' ')).not.toContain(derivePassword('s3cret', 'coordinator'));
    expect(plan.files.filter((f) => f.content.includes(derivePassword('s3cret', 'coordinator'))).every((f) => f.mode === 0o600)).toBe(true);
  });

  it('puts only an agent on a worker, with its node id, labels and every coordinator', () => {
    const w1 = inv.hosts.find((h) => h.name === 'w1');
    if (!w1) throw new Error('no w1');
    const plan = planHost(inv, w1, inputs);
    expect(plan.services.map((s) => s.name)).toEqual(['agent']);
    expect(plan.files.some((f) => f.path.includes('nats.conf') || f.path.includes('secret'))).toBe(false);
    const agentConf = plan.files.find((f) => f.path === '/etc/shoal/agent.yaml')?.content ?? '';
    expect(agentConf).toContain('nodeId: w1');
    expect(agentConf).toContain('natsUser: agent-w1');
    expect(agentConf).toContain('zone: a');
    expect(agentConf).toContain('nats://10.0.0.3:4222');
  });

  it('the same inputs give the same files, so a re-run finds nothing to change', () => {
    const w1 = inv.hosts.find((h) => h.name === 'w1');
    if (!w1) throw new Error('no w1');
    expect(planHost(inv, w1, inputs)).toEqual(planHost(inv, w1, inputs));
  });

  it('restarts a daemon whose command changed, reloads one whose re-readable config changed, starts one that is down', () => {
    const spec: ServiceSpec = { name: 'nats', argv: ['nats-server', '-c', '/etc/shoal/nats.conf'], env: {}, log: '/l', inputs: { '/etc/shoal/nats.conf': 'h1' }, reload: 'SIGHUP' };
    expect(serviceChange(spec, spec, true)).toBe('unchanged');
    expect(serviceChange(spec, spec, false)).toBe('start');
    expect(serviceChange(spec, { ...spec, inputs: { '/etc/shoal/nats.conf': 'h2' } }, true)).toBe('reload');
    expect(serviceChange(spec, { ...spec, argv: ['other'] }, true)).toBe('restart');
    const agent: ServiceSpec = { name: 'agent', argv: ['node'], env: {}, log: '/l', inputs: { a: '1' } };
    expect(serviceChange(agent, { ...agent, inputs: { a: '2' } }, true)).toBe('restart');
    expect(serviceChange(undefined, agent, true)).toBe('restart');
  });

  it('writes a systemd unit that restarts the daemon and keeps its secrets in an EnvironmentFile', () => {
    const unit = systemdUnit({ name: 'agent', argv: ['/usr/bin/node', '/b/shoal x.mjs', 'agent', '--config', '/etc/shoal/agent.yaml'], env: { SHOAL_NATS_PASSWORD: 'pw' }, log: '/var/lib/shoal/log/agent.log', inputs: {} });
    expect(unit).toContain('ExecStart=/usr/bin/node "/b/shoal x.mjs" agent --config /etc/shoal/agent.yaml');
    expect(unit).toContain('EnvironmentFile=/etc/shoal/services/agent.env');
    expect(unit).toContain('Restart=always');
    expect(unit).not.toContain('pw');
  });

  it('backs off restarts from 0.5 s, doubling, to at most 30 s', () => {
    expect([1, 2, 3, 4, 10].map(restartDelayMs)).toEqual([500, 1000, 2000, 4000, 30_000]);
  });
});

describe('preflight', () => {
  const out = (over: Record<string, string> = {}): string =>
    Object.entries({ os: 'Linux', node: '/usr/bin/node', nodeversion: 'v20.19.0', nats: '', systemd: 'no', docker: '20.10.24', vxlan: 'yes', listen: '0016 1F90', time: '1700000005000000000', ...over })
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');

  it('reads the host facts, clock skew corrected by half the round trip', () => {
    const f = parsePreflight(out(), 1_700_000_000_000, 1_700_000_000_200);
    expect(f).toMatchObject({ os: 'Linux', nodePath: '/usr/bin/node', systemd: false, docker: { ok: true, version: '20.10.24' }, vxlan: { ok: true } });
    expect(f.natsServerPath).toBeUndefined();
    expect([...f.listening]).toEqual([22, 8080]);
    expect(f.clockSkewMs).toBe(4900);
  });

  it('refuses a host with a clear reason: no node, old node, no Docker, no VXLAN, a taken port, a wrong clock', () => {
    const why = (o: Record<string, string>, ports: number[] = []): string => {
      try {
        checkFacts('h2', parsePreflight(out(o), 1_700_000_005_000, 1_700_000_005_000), ports);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(why({})).toBe('accepted');
    expect(why({ node: '' })).toMatch(/^h2: has no Node.js runtime .* — install Node.js 20/);
    expect(why({ nodeversion: 'v18.19.0' })).toContain('h2: has Node.js v18.19.0, older than 20');
    expect(why({ docker: 'error:ECONNREFUSED' })).toContain('h2: Docker is not reachable (ECONNREFUSED)');
    expect(why({ vxlan: 'no:RTNETLINK answers: Operation not supported' })).toContain('cannot make a VXLAN device (RTNETLINK answers: Operation not supported) — load the vxlan kernel module');
    expect(why({}, [4222, 8080])).toContain('h2: port 8080 already in use');
    expect(why({ time: '1700000105000000000' })).toContain("h2: its clock is 100 s off this machine's");
  });
});

describe('progress lines', () => {
  it('prints each step and the end of each host as plain lines when not on a terminal', () => {
    let text = '';
    let now = 0;
    const p = new HostProgress({ out: () => undefined, err: (t) => (text += t) }, false, ['h1', 'h2'], () => now);
    p.step('h1', 'preflight');
    now = 1500;
    p.done('h1', 'unchanged');
    p.fail('h2', 'auth refused');
    p.step('h2', 'too late');
    p.stop();
    expect(text).toBe('h1: preflight\nh1: unchanged (1.5 s)\nh2: failed: auth refused (1.5 s)\n');
  });

  it('redraws the same lines in place on a terminal', () => {
    let text = '';
    const p = new HostProgress({ out: () => undefined, err: (t) => (text += t) }, true, ['h1', 'h2'], () => 0);
    p.step('h1', 'uploading');
    p.done('h2', 'unchanged');
    p.stop();
    // the cursor goes back up over the two lines before drawing them again
    expect(text).toContain('\x1b[2A');
    expect(text.split('\x1b[2A').at(-1)).toMatch(/h1 {2}. uploading {2}0\.0 s\n.*h2 {2}✓ unchanged {2}0\.0 s\n$/s);
  });

  it('cuts lines to the terminal width, so none wraps and throws the redraw off, and draws the end only once', () => {
    let text = '';
    const p = new HostProgress({ out: () => undefined, err: (t) => (text += t) }, true, ['h1'], () => 0, 40);
    p.step('h1', 'Shoal uploaded, 7 files written, nats started, coordinator started');
    p.stop();
    const drawn = text.length;
    p.stop();
    expect(text.length).toBe(drawn);
    const last = text.split('\x1b[2K').at(-1) ?? '';
    expect(last).toMatch(/^ {2}h1 {2}. Shoal uploaded, 7 files… {2}0\.0 s\n$/);
    expect(last.length - 1).toBeLessThan(40);
  });
});
