import { createSocket } from 'node:dgram';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer, DnsTable } from '@shoal/agent';
import { run } from '@shoal/lab';
import { eventually } from './support/net.js';

// The resolver on real sockets, asked by the real dig. Loopback has 127.0.0.0/8, so dig -b
// picks the client address the resolver scopes its answers by.
const WEB = ['10.0.1.2', '10.0.1.3', '10.0.1.4'];
const MANY = Array.from({ length: 100 }, (_, i) => `10.0.3.${i + 1}`);

describe('DNS resolver', () => {
  const table = new DnsTable();
  const upstreamTable = new DnsTable();
  let server: DnsServer;
  let upstream: DnsServer;

  async function dig(client: string, ...args: string[]): Promise<string> {
    const r = await run('dig', [`@127.0.0.1`, '-p', String(server.port), '-b', client, '+time=2', '+tries=1', ...args]);
    return r.stdout;
  }

  beforeAll(async () => {
    upstream = new DnsServer({ table: upstreamTable, address: '127.0.0.1', port: 0, upstreams: [] });
    await upstream.start();
    upstreamTable.replace([{ network: 'outside', name: 'mirror.example.test', addresses: ['192.0.2.80'] }], [{ address: '127.0.0.1', networks: ['outside'] }]);
    server = new DnsServer({ table, address: '127.0.0.1', port: 0, upstreams: [{ address: '127.0.0.1', port: upstream.port }] });
    await server.start();
    table.replace(
      [
        { network: 'front', name: 'web', addresses: WEB },
        { network: 'front', name: 'many', addresses: MANY },
        { network: 'back', name: 'db', addresses: ['10.0.2.5'] },
      ],
      [
        { address: '127.0.0.2', networks: ['front'] },
        { address: '127.0.0.3', networks: ['back'] },
      ],
    );
  });

  afterAll(async () => {
    await server.stop();
    await upstream.stop();
  });

  it('answers a service with all its tasks, in a rotated order on each query', async () => {
    const first = (await dig('127.0.0.2', 'web', '+short')).trim().split('\n');
    const second = (await dig('127.0.0.2', 'web', '+short')).trim().split('\n');
    expect([...first].sort()).toEqual(WEB);
    expect([...second].sort()).toEqual(WEB);
    expect(second[0]).not.toBe(first[0]);
  });

  it("answers NXDOMAIN for a name of a network the client is not on", async () => {
    expect(await dig('127.0.0.2', 'db')).toContain('status: NXDOMAIN');
    expect((await dig('127.0.0.3', 'db', '+short')).trim()).toBe('10.0.2.5');
  });

  it('forwards other names to the upstream servers', async () => {
    expect((await dig('127.0.0.2', 'mirror.example.test', '+short')).trim()).toBe('192.0.2.80');
  });

  it('truncates a large answer over UDP and gives all of it over TCP', async () => {
    const udp = await dig('127.0.0.2', 'many', '+notcp', '+ignore', '+noedns');
    expect(udp).toMatch(/flags: qr aa tc/);
    const all = (await dig('127.0.0.2', 'many', '+short')).trim().split('\n');
    expect(all.sort()).toEqual([...MANY].sort());
  });

  it("gives busybox's nslookup, which reads 512 bytes and never retries over TCP, a full reply of 30 rotating records", async () => {
    // busybox asks port 53 of the address given: a second resolver there, serving the same names
    const shared = new DnsTable();
    const busyboxServer = new DnsServer({ table: shared, address: '127.0.0.9', port: 53, upstreams: [] });
    await busyboxServer.start();
    try {
      shared.replace([{ network: 'front', name: 'many', addresses: MANY }], [{ address: '127.0.0.1', networks: ['front'] }]);
      const seen = async (): Promise<string[]> => {
        const r = await run('busybox', ['nslookup', '-type=a', 'many', '127.0.0.9']);
        return [...r.stdout.matchAll(/^Address: (10\.0\.3\.\d+)$/gm)].map((m) => m[1] ?? '');
      };
      const first = await seen();
      const second = await seen();
      expect(first).toHaveLength(30);
      expect(new Set(first).size).toBe(30);
      for (const a of [...first, ...second]) expect(MANY).toContain(a);
      expect(second).not.toEqual(first);
    } finally {
      await busyboxServer.stop();
    }
  });

  it('never answers a removed task again', async () => {
    table.replace([{ network: 'front', name: 'web', addresses: ['10.0.1.3'] }], [{ address: '127.0.0.2', networks: ['front'] }]);
    for (let i = 0; i < 5; i++) expect((await dig('127.0.0.2', 'web', '+short')).trim()).toBe('10.0.1.3');
  });

  it('survives a message that is not DNS and keeps answering', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.send(Buffer.from('not a dns message'), server.port, '127.0.0.1', () => r()));
    sock.close();
    expect((await dig('127.0.0.2', 'web', '+short')).trim()).toBe('10.0.1.3');
  });
});

// The resolver with a worker process answering from the same socket: every table change must
// reach the worker before it counts as made, and both processes must really answer.
describe('DNS resolver with a worker process', () => {
  const WORKER = fileURLToPath(new URL('../packages/agent/dist/bin.js', import.meta.url));
  const table = new DnsTable();
  let server: DnsServer;

  /**
   * Sends `count` queries for `name`, 50 in flight at a time (so that both processes find work
   * and no socket buffer overflows), and returns the sorted addresses of every reply.
   */
  async function burst(name: string, count: number): Promise<string[][]> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.2', () => r()));
    const replies = new Map<number, string[]>();
    let wake = (): void => undefined;
    sock.on('message', (msg: Buffer) => {
      const p = dnsPacket.decode(msg);
      replies.set(p.id ?? -1, (p.answers ?? []).map((a) => String((a as { data: unknown }).data)).sort());
      wake();
    });
    try {
      for (let first = 0; first < count; first += 50) {
        const last = Math.min(count, first + 50);
        const all = new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${replies.size} of ${last} replies`)), 10_000);
          wake = () => {
            if (replies.size < last) return;
            clearTimeout(timer);
            resolve();
          };
        });
        for (let id = first; id < last; id++) {
          sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }), server.port, '127.0.0.1');
        }
        await all;
      }
    } finally {
      sock.close();
    }
    return [...replies.values()];
  }

  beforeAll(async () => {
    table.replace([{ network: 'front', name: 'web', addresses: WEB }], [{ address: '127.0.0.2', networks: ['front'] }]);
    // busyQps 0: the worker reads the socket from the start, whatever the rate
    server = new DnsServer({ table, address: '127.0.0.1', port: 0, upstreams: [], workers: { count: 1, script: WORKER, busyQps: 0 } });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('answers from both processes, and a table change reaches the worker before it counts as made', async () => {
    const before = await server.answeredBy();
    expect(before).toHaveLength(2);
    for (const r of await burst('web', 400)) expect(r).toEqual(WEB);
    // a removed task is answered by neither process once the change is made
    table.replace([{ network: 'front', name: 'web', addresses: ['10.0.1.3', '10.0.1.9'] }], [{ address: '127.0.0.2', networks: ['front'] }]);
    await server.synced();
    for (const r of await burst('web', 400)) expect(r).toEqual(['10.0.1.3', '10.0.1.9']);
    const after = await server.answeredBy();
    // both processes took part (the kernel hands each datagram to whichever is free)
    expect((after[0] ?? 0) - (before[0] ?? 0)).toBeGreaterThan(0);
    expect((after[1] ?? 0) - (before[1] ?? 0)).toBeGreaterThan(0);
    expect((after[0] ?? 0) + (after[1] ?? 0) - (before[0] ?? 0) - (before[1] ?? 0)).toBe(800);
  });

  it('goes on answering alone, and starts another worker, when the worker dies', async () => {
    const [, ...pids] = server.workerPids();
    const pid = pids[0];
    expect(pid).toBeGreaterThan(0);
    process.kill(pid ?? 0, 'SIGKILL');
    for (const r of await burst('web', 50)) expect(r).toEqual(['10.0.1.3', '10.0.1.9']);
    await eventually('a new worker', () => {
      const now = server.workerPids().slice(1);
      return now.length === 1 && now[0] !== pid ? true : undefined;
    }, 15_000);
    table.replace([{ network: 'front', name: 'web', addresses: ['10.0.1.4'] }], [{ address: '127.0.0.2', networks: ['front'] }]);
    await server.synced();
    for (const r of await burst('web', 200)) expect(r).toEqual(['10.0.1.4']);
  });
});

// With the default threshold the worker reads only while the resolver is busy: one query after
// another is answered by the resolver alone, in strict round-robin; a flood brings the worker in.
describe('DNS resolver handing its socket to a worker under load', () => {
  const WORKER = fileURLToPath(new URL('../packages/agent/dist/bin.js', import.meta.url));
  const table = new DnsTable();
  let server: DnsServer;

  async function digFirst(): Promise<string> {
    const r = await run('dig', ['@127.0.0.1', '-p', String(server.port), '-b', '127.0.0.2', '+time=2', '+tries=1', '+short', 'web']);
    return r.stdout.trim().split('\n')[0] ?? '';
  }

  beforeAll(async () => {
    table.replace([{ network: 'front', name: 'web', addresses: WEB }], [{ address: '127.0.0.2', networks: ['front'] }]);
    server = new DnsServer({ table, address: '127.0.0.1', port: 0, upstreams: [], workers: { count: 1, script: WORKER, busyQps: 2000 } });
    await server.start();
  });

  afterAll(async () => {
    await server.stop();
  });

  it('answers queries one after another alone, rotating strictly; a flood makes the worker read too, and quiet takes it back', async () => {
    const [, workerBefore] = await server.answeredBy();
    const firsts: string[] = [];
    for (let i = 0; i < 6; i++) firsts.push(await digFirst());
    // every query moved the one rotation: each address leads in turn
    expect(firsts.slice(0, 3).sort()).toEqual(WEB);
    expect(firsts.slice(3)).toEqual(firsts.slice(0, 3));
    expect(server.sharing).toBe(false);
    expect((await server.answeredBy())[1]).toBe(workerBefore);

    const queries = `${tmpdir()}/shoal-dns-test-${process.pid}.txt`;
    await writeFile(queries, 'web A\n');
    const perf = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(server.port), '-a', '127.0.0.2', '-d', queries, '-l', '3', '-c', '4', '-q', '50', '-t', '2']);
    await rm(queries, { force: true });
    expect(perf.stdout).toMatch(/Queries completed:\s+[1-9]/);
    const [, workerAfter] = await server.answeredBy();
    expect((workerAfter ?? 0) - (workerBefore ?? 0)).toBeGreaterThan(0);
    await eventually('the worker to let the socket go', () => (server.sharing ? undefined : true), 10_000);
    const [, workerQuiet] = await server.answeredBy();
    for (let i = 0; i < 3; i++) await digFirst();
    expect((await server.answeredBy())[1]).toBe(workerQuiet);
  });
});
