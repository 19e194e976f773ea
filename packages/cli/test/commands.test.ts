import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { ShoalError } from '@shoal/core';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, buildProgram, main, type Io } from '@shoal/cli';
import { applyServiceUpdate, cpuFlag, memoryFlag, networkFlag, networkSpecFromFlags, portFlag, serviceSpecFromFlags } from '../src/flags.js';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), stdout: () => out, stderr: () => err };
}

function leaves(cmd: Command, path: string[] = []): string[][] {
  if (cmd.commands.length === 0) return [path];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('every shoal command', () => {
  const program = buildProgram(capture(), () => undefined);
  const all = leaves(program);

  it('is reachable: the groups people know from docker are all there', () => {
    const names = all.map((p) => p.join(' '));
    for (const want of ['node ls', 'node inspect', 'node update', 'node promote', 'node demote', 'node rm', 'network create', 'network ls', 'network inspect', 'network rm', 'network connect', 'network disconnect', 'service create', 'service ls', 'service ps', 'service inspect', 'service scale', 'service update', 'service rm', 'stack deploy', 'stack ls', 'stack ps', 'stack rm', 'cluster bootstrap']) {
      expect(names).toContain(want);
    }
  });

  it('has --help with an Examples section', async () => {
    for (const path of all) {
      const io = capture();
      expect(await main([...path, '--help'], io)).toBe(EXIT_OK);
      expect(io.stdout(), path.join(' ')).toContain('Examples:');
    }
  });

  it('offers --json and -q wherever it prints a table', async () => {
    for (const path of [['node', 'ls'], ['network', 'ls'], ['service', 'ls'], ['service', 'ps'], ['stack', 'ls'], ['stack', 'ps']]) {
      const io = capture();
      await main([...path, '--help'], io);
      expect(io.stdout(), path.join(' ')).toContain('--json');
      expect(io.stdout(), path.join(' ')).toContain('-q, --quiet');
    }
  });

  it('refuses a bad flag before talking to any cluster, with exit 1 and what to do', async () => {
    const io = capture();
    // no cluster is reachable at this address: the error must come from the flag, first
    expect(await main(['service', 'create', '--name', 'web', '--limit-memory', 'lots', '--nats', 'nats://127.0.0.1:1', '--cluster', 'c', 'shoal/busybox'], io)).toBe(EXIT_FAILED);
    expect(io.stderr()).toBe('error: --limit-memory "lots" is not a memory size — e.g. --limit-memory 512M or --limit-memory 1.5G\n');
    const io2 = capture();
    expect(await main(['service', 'scale', 'web:3', '--nats', 'nats://127.0.0.1:1', '--cluster', 'c'], io2)).toBe(EXIT_FAILED);
    expect(io2.stderr()).toContain('"web:3" is not SERVICE=REPLICAS');
    const io3 = capture();
    expect(await main(['service', 'create', 'shoal/busybox'], io3)).toBe(EXIT_USAGE);
    expect(io3.stderr()).toContain("required option '--name <name>'");
  });
});

describe('docker-style flags', () => {
  it('reads memory and CPU sizes as Docker does', () => {
    expect(memoryFlag('--limit-memory', '512M')).toBe(512 * 2 ** 20);
    expect(memoryFlag('--limit-memory', '1.5G')).toBe(1.5 * 2 ** 30);
    expect(cpuFlag('--limit-cpu', '0.5')).toBe(500_000_000);
    expect(() => cpuFlag('--limit-cpu', 'half')).toThrow(/is not a number of CPUs/);
    expect(() => memoryFlag('--limit-memory', '0')).toThrow(ShoalError);
  });

  it('reads ports in the short and the long syntax', () => {
    expect(portFlag('8080:80')).toEqual([{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }]);
    expect(portFlag('127.0.0.1:8053:53/udp')).toEqual([{ target: 53, published: 8053, protocol: 'udp', mode: 'ingress', hostIp: '127.0.0.1' }]);
    expect(portFlag('published=8080,target=80,mode=host')).toEqual([{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }]);
    expect(() => portFlag('published=8080')).toThrow(/has no target/);
    expect(() => portFlag('target=80,mode=bridge')).toThrow(/is not ingress or host/);
    expect(() => portFlag('80:99999')).toThrow(ShoalError);
  });

  it('reads networks with aliases', () => {
    expect(networkFlag('front')).toEqual({ target: 'front', aliases: [] });
    expect(networkFlag('name=front,alias=web,alias=www')).toEqual({ target: 'front', aliases: ['web', 'www'] });
    expect(() => networkFlag('alias=web')).toThrow(/names no network/);
  });

  it('builds a service spec from the flags of docker service create', () => {
    const spec = serviceSpecFromFlags('shoal/busybox', ['httpd', '-f'], {
      name: 'web',
      replicas: '3',
      network: ['name=front,alias=www'],
      publish: ['8080:80'],
      constraint: ['node.labels.zone==eu'],
      env: ['A=1', 'B=x=y'],
      limitMemory: '256M',
      reserveCpu: '0.25',
      endpointMode: 'dnsrr',
    });
    expect(spec.mode).toEqual({ kind: 'replicated', replicas: 3 });
    expect(spec.container.command).toEqual(['httpd', '-f']);
    expect(spec.container.env).toEqual({ A: '1', B: 'x=y' });
    expect(spec.networks).toEqual([{ target: 'front', aliases: ['www'] }]);
    expect(spec.endpoint).toEqual({ mode: 'dnsrr', ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'ingress' }] });
    expect(spec.resources).toEqual({ limits: { memoryBytes: 256 * 2 ** 20 }, reservations: { nanoCpus: 250_000_000 } });
    expect(spec.placement.constraints).toEqual(['node.labels.zone==eu']);
    expect(() => serviceSpecFromFlags('x', [], { name: 'a', constraint: ['node.labels.zone'] })).toThrow(/no operator/);
    expect(() => serviceSpecFromFlags('x', [], { name: 'a', mode: 'global', replicas: '2' })).toThrow(/cannot go with --mode global/);
    expect(() => serviceSpecFromFlags('x', [], { name: 'a', replicas: 'three' })).toThrow(/"three" is not a whole number/);
  });

  it('changes only what service update names', () => {
    const spec = serviceSpecFromFlags('img:1', [], { name: 'web', env: ['A=1', 'B=2'], publish: ['8080:80'], network: ['front'] });
    const next = applyServiceUpdate(spec, { image: 'img:2', envAdd: ['C=3'], envRm: ['A'], replicas: '4', publishRm: ['8080'], networkAdd: ['back'] });
    expect(next.container.image).toBe('img:2');
    expect(next.container.env).toEqual({ B: '2', C: '3' });
    expect(next.mode).toEqual({ kind: 'replicated', replicas: 4 });
    expect(next.endpoint.ports).toEqual([]);
    expect(next.networks.map((n) => n.target)).toEqual(['front', 'back']);
    expect(spec.container.image).toBe('img:1'); // the current spec is left alone
  });

  it('builds a network spec from the flags of docker network create', () => {
    expect(networkSpecFromFlags('back', { subnet: '10.20.0.0/24', ipRange: '10.20.0.128/25', gateway: '10.20.0.1', opt: ['mtu=9000'], label: ['tier'] })).toEqual({
      name: 'back',
      driver: 'overlay',
      driverOpts: { mtu: '9000' },
      ipam: [{ subnet: '10.20.0.0/24', ipRange: '10.20.0.128/25', gateway: '10.20.0.1' }],
      attachable: false,
      internal: false,
      labels: { tier: '' },
    });
    expect(() => networkSpecFromFlags('x', { driver: 'weave' })).toThrow(/is not one Shoal knows/);
    expect(() => networkSpecFromFlags('x', { gateway: '10.0.0.1' })).toThrow(/need --subnet/);
  });
});

describe('watch and events', () => {
  it('draws nodes and services, the leader marked, heartbeat ages and load', async () => {
    const { renderStatus } = await import('../src/commands/watch.js');
    const text = renderStatus(
      'prod',
      {
        index: 42,
        leader: 'h1',
        nodes: [
          { hostname: 'h2', status: 'down', role: 'worker', availability: 'active', leader: false, tasks: { running: 0, desired: 2 } },
          { hostname: 'h1', status: 'ready', role: 'manager', availability: 'active', leader: true, heartbeatAgeMs: 400, tasks: { running: 3, desired: 3 }, load: { cpuPercent: 12.4, memoryUsedBytes: 2 ** 30, memoryTotalBytes: 4 * 2 ** 30, containers: 3 } },
        ],
        services: [{ name: 'web', mode: 'replicated', running: 3, desired: 5, updating: true, updateState: 'updating', lastError: 'no suitable node' }],
      },
      new Date('2026-11-22T10:00:05Z'),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('shoal watch — cluster prod, leader on h1, store index 42, 10:00:05 (q to quit)');
    expect(lines.find((l) => l.startsWith('h1 '))).toMatch(/^h1\s+ready\s+manager\s+active\s+\*\s+0\.4s ago\s+3\/3\s+12%\s+1\.0G\/4\.0G\s+3$/);
    expect(lines.find((l) => l.startsWith('h2 '))).toMatch(/^h2\s+down\s+worker\s+active\s+-\s+0\/2\s+-\s+-\s+-$/);
    expect(lines.find((l) => l.startsWith('web '))).toMatch(/^web\s+replicated\s+3\/5\s+updating\s+no suitable node$/);
  });

  it('reads --since as a duration, a time or a store index', async () => {
    const { sinceFlag } = await import('../src/commands/watch.js');
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(sinceFlag('10m', now)).toEqual({ since: '2026-11-22T09:50:00.000Z' });
    expect(sinceFlag('1200', now)).toEqual({ index: 1200 });
    expect(sinceFlag('2026-11-22T09:00:00Z', now)).toEqual({ since: '2026-11-22T09:00:00.000Z' });
    expect(() => sinceFlag('yesterday', now)).toThrow(/is not a duration, a time or a store index/);
  });
});
