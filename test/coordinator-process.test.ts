import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRequest, decodeApiResponse, type ApiRequestBody, type ApiResponse, type ApiVerb } from '@shoal/core';
import { writeFile } from 'node:fs/promises';
import { shoal } from './support/cli.js';
import { NatsServer } from './support/nats.js';
import { eventually } from './support/net.js';

// The coordinator as a real process (one member), over a real nats-server on loopback: it
// serves the API, and what it committed survives a restart (the Raft log on disk).
const BIN = fileURLToPath(new URL('../packages/coordinator/dist/bin.js', import.meta.url));

describe('shoal-coordinator process', () => {
  const nats = new NatsServer('127.0.0.1', 14230);
  let nc: NatsConnection;
  let dir = '';
  let child: ChildProcess | undefined;
  let output = '';
  let n = 0;

  function startCoordinator(): void {
    child = spawn(process.execPath, [BIN, '--cluster', 'proc', '--id', '1', '--peers', '1=127.0.0.1:17201', '--data-dir', dir, '--nats', nats.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  }

  async function api<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>): Promise<ApiResponse> {
    const msg = await nc.request(`shoal.proc.api.${verb}`, new TextEncoder().encode(JSON.stringify(apiRequest(`q${++n}`, verb, body))), { timeout: 20_000 });
    return decodeApiResponse(JSON.parse(new TextDecoder().decode(msg.data)));
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-coordinator-'));
    await nats.start();
    nc = await connect({ servers: nats.url });
    startCoordinator();
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await nc?.close();
    await nats.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves the API once it leads, and takes a write', async () => {
    await eventually('the API to answer', async () => ((await api('cluster.info', {})).ok ? true : undefined), 30_000);
    // a write sent before the member has elected itself waits for the election, not fails
    const spec = { name: 'front', driver: 'overlay' as const, driverOpts: {}, ipam: [{ subnet: '10.40.0.0/24' }], attachable: false, internal: false, labels: {} };
    const created = await api('network.create', { spec });
    expect(created.ok).toBe(true);
    // the leader's allocator gives the network its VNI and subnet
    const ls = await eventually('the network allocated', async () => {
      const r = await api('network.ls', {});
      const rows = r.ok ? (r.body as { name: string; subnet?: string; vni?: number }[]) : [];
      return rows[0]?.vni !== undefined ? rows : undefined;
    }, 10_000);
    expect(ls).toEqual([expect.objectContaining({ name: 'front', subnet: '10.40.0.0/24', vni: 4096 })]);
  });

  it('keeps what it committed across a restart, and exits cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    startCoordinator();
    const ls = await eventually('the API back', async () => {
      const r = await api('network.ls', {});
      return r.ok ? (r.body as { name: string; vni?: number }[]) : undefined;
    }, 30_000);
    expect(ls.map((x) => [x.name, x.vni])).toEqual([['front', 4096]]);
    expect(output).toContain('coordinator started');
  });

  it('is driven by the shoal CLI: networks listed, a compose stack deployed, bad files refused with their line', async () => {
    const target = ['--nats', nats.url, '--cluster', 'proc'];
    const nets = await shoal(['network', 'ls', ...target]);
    expect(nets.stderr).toBe('');
    expect(nets.stdout).toMatch(/^\w{12}\s+front\s+overlay\s+10\.40\.0\.0\/24\s+10\.40\.0\.1\s+4096$/m);

    const file = join(dir, 'shop.yml');
    await writeFile(file, ['services:', '  web:', '    image: shoal/busybox', '    deploy:', '      replicas: 2', ''].join('\n'));
    const deploy = await shoal(['stack', 'deploy', '-c', file, 'shop', '--detach', ...target]);
    expect(deploy.code).toBe(0);
    expect(deploy.stderr).toBe('stack shop: 1 created, 0 updated, 0 unchanged, 0 removed\n');
    // no agent in this test: the service exists, with nothing running yet
    const ls = await shoal(['service', 'ls', '--stack', 'shop', '--json', ...target]);
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ name: 'shop_web', desired: 2, running: 0 })]);

    await writeFile(file, ['services:', '  web:', '    image: shoal/busybox', '    deploy:', '      replicas: three', ''].join('\n'));
    const bad = await shoal(['stack', 'deploy', '-c', file, 'shop', '--detach', ...target]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/shop\.yml:5.*services\.web\.deploy\.replicas: expected a whole number/);

    const nowhere = await shoal(['service', 'ls', '--nats', 'nats://127.0.0.1:1', '--cluster', 'proc']);
    expect(nowhere.code).toBe(1);
    expect(nowhere.stderr).toBe('error: cannot reach NATS at nats://127.0.0.1:1 (each server tried for 1.5 s) — check the address and that the cluster runs\n');
  });
});
