import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderHarness, taskAssignment } from './support/leader.js';
import { requireLabMachine } from './support/machine.js';

// Published ports as `docker run -p` gives them, and healthchecks deciding when a task counts
// as running, on real hosts.
describe('agent ports and healthchecks', () => {
  const h = new LeaderHarness('agports', 'c3', 14224);

  beforeAll(async () => {
    await requireLabMachine();
    await h.start(2);
  });

  afterAll(async () => {
    await h.stop();
  });

  it('publishes a random host port when none is given, and reports which', async () => {
    h.assign('h2', [taskAssignment('rnd-1', 'rnd', 1, [], { hostPorts: [{ target: 7000, protocol: 'tcp', mode: 'host' }] })], []);
    const r = await h.until('rnd-1', 'running');
    const port = r.ports?.find((p) => p.target === 7000)?.published;
    expect(port).toBeGreaterThan(1023);
    const got = await h.lab.exec('h1', ['busybox', 'nc', '-w', '2', h.lab.host('h2').address, String(port)]);
    expect(got.stdout.trim()).toBe('rnd-1');
  });

  it('binds 127.0.0.1:PORT to the loopback only, and keeps the client address on the host address', async () => {
    const local = taskAssignment('lo-1', 'lo', 1, [], { hostPorts: [{ target: 7000, published: 8095, protocol: 'tcp', mode: 'host', hostIp: '127.0.0.1' }] });
    const web = taskAssignment('src-1', 'src', 1, [], { hostPorts: [{ target: 7000, published: 8096, protocol: 'tcp', mode: 'host' }] });
    web.container = { ...web.container, command: ['httpd', '-f', '-v', '-p', '7000', '-h', '/'] };
    h.assign('h2', [local, web], []);
    await h.until('lo-1', 'running');
    await h.until('src-1', 'running');
    expect((await h.lab.exec('h2', ['busybox', 'nc', '-w', '2', '127.0.0.1', '8095'])).stdout.trim()).toBe('lo-1');
    expect((await h.lab.exec('h1', ['busybox', 'nc', '-w', '2', h.lab.host('h2').address, '8095'])).stdout.trim()).toBe('');
    // (busybox's static wget crashes on the hosts; a request by hand does the same job)
    const reply = await h.lab.exec('h1', ['sh', '-c', `echo 'GET / HTTP/1.0' | busybox nc -w 2 ${h.lab.host('h2').address} 8096`]);
    expect(reply.stdout).toMatch(/^HTTP\/1\.[01] 404/);
    const logs = await h.lab.exec('h2', ['sh', '-c', 'docker logs $(docker ps -q -f label=io.shoal.task.id=src-1) 2>&1']);
    // httpd logs the peer it saw: the other host, not a proxy on this one
    expect(logs.stdout).toContain(h.lab.host('h1').address);
  });

  it('reports a task with a healthcheck as starting until the check passes, then running', async () => {
    const t = taskAssignment('hc-1', 'hc', 1, []);
    t.container = {
      ...t.container,
      command: ['sh', '-c', 'sleep 3; touch /tmp/ready; exec nc -ll -p 7000 -e hostname'],
      // failures within the start period do not count, as in Docker
      healthcheck: { test: ['CMD-SHELL', 'test -f /tmp/ready'], intervalMs: 500, timeoutMs: 1000, retries: 3, startPeriodMs: 20_000 },
    };
    h.assign('h1', [t], []);
    await h.until('hc-1', 'running', 60_000);
    expect(h.history.get('hc-1')).toEqual(['starting', 'running']);
  });

  it('fails a task whose healthcheck keeps failing, saying so, and stops its container', async () => {
    const t = taskAssignment('sick-1', 'sick', 1, []);
    t.container = { ...t.container, healthcheck: { test: ['CMD-SHELL', 'echo still broken; exit 1'], intervalMs: 500, timeoutMs: 1000, retries: 2 } };
    h.assign('h1', [t], []);
    const r = await h.until('sick-1', 'failed', 60_000);
    expect(r.message).toBe('healthcheck failed: still broken');
    const state = await h.lab.exec('h1', ['sh', '-c', "docker inspect -f '{{.State.Running}}' $(docker ps -aq -f label=io.shoal.task.id=sick-1)"]);
    expect(state.stdout.trim()).toBe('false');
  });
});
