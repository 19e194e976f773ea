import { createSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsServer } from '../src/dns/server.js';
import { DnsTable } from '../src/dns/table.js';

// The resolver on a loopback socket, asked by hand-made queries: the answers it keeps per client
// must behave exactly as the ones it works out (rotation, case, types, table changes).
describe('the resolver answering a question again', () => {
  const table = new DnsTable();
  const server = new DnsServer({ table, address: '127.0.0.1', port: 0, upstreams: [] });
  const client = createSocket('udp4');
  let id = 0;

  async function ask(name: string, type: 'A' | 'AAAA' = 'A'): Promise<{ raw: Buffer; packet: dnsPacket.Packet }> {
    const queryId = ++id;
    const q = dnsPacket.encode({ type: 'query', id: queryId, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${name}`)), 2000);
      const onMessage = (msg: Buffer): void => {
        if (msg.readUInt16BE(0) !== queryId) return;
        clearTimeout(timer);
        client.off('message', onMessage);
        resolve(msg);
      };
      client.on('message', onMessage);
      client.send(q, server.port, '127.0.0.1');
    });
    return { raw, packet: dnsPacket.decode(raw) };
  }
  /** the response code, from the low four bits of the flags */
  const rcode = (p: dnsPacket.Packet): number => (p.flags ?? 0) & 0xf;
  const addresses = (p: dnsPacket.Packet): string[] => (p.answers ?? []).map((a) => String((a as { data: unknown }).data));

  beforeAll(async () => {
    await server.start();
    await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
    table.replace([{ network: 'n', name: 'web', addresses: ['10.0.0.4', '10.0.0.2', '10.0.0.3'] }], [{ address: '127.0.0.1', networks: ['n'] }]);
  });
  afterAll(async () => {
    client.close();
    await server.stop();
  });

  it('rotates on every query, echoing the id, the question as asked and RD', async () => {
    const seen: string[][] = [];
    for (let i = 0; i < 4; i++) {
      const { packet } = await ask(i % 2 === 0 ? 'web' : 'WeB');
      expect(packet.id).toBe(id);
      expect(packet.questions?.[0]?.name).toBe(i % 2 === 0 ? 'web' : 'WeB');
      expect(packet.flags! & dnsPacket.RECURSION_DESIRED).toBeTruthy();
      expect(packet.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
      expect(rcode(packet)).toBe(0);
      seen.push(addresses(packet));
    }
    const sorted = ['10.0.0.2', '10.0.0.3', '10.0.0.4'];
    for (const s of seen) expect([...s].sort()).toEqual(sorted);
    // consecutive answers start at consecutive addresses, and the fourth comes round again
    expect(seen.map((s) => s[0])).toEqual([seen[0]![0], sorted[(sorted.indexOf(seen[0]![0]!) + 1) % 3], sorted[(sorted.indexOf(seen[0]![0]!) + 2) % 3], seen[0]![0]]);
  });

  it('gives other types of a known name an empty NOERROR and unknown names NXDOMAIN, again and again', async () => {
    for (let i = 0; i < 2; i++) {
      const aaaa = (await ask('web', 'AAAA')).packet;
      expect(rcode(aaaa)).toBe(0);
      expect(aaaa.answers).toHaveLength(0);
      expect(rcode((await ask('nosuch')).packet)).toBe(3);
    }
  });

  it('answers from a new table at once: a removed address is never given again', async () => {
    await ask('web');
    table.replace([{ network: 'n', name: 'web', addresses: ['10.0.0.9'] }], [{ address: '127.0.0.1', networks: ['n'] }]);
    for (let i = 0; i < 3; i++) expect(addresses((await ask('web')).packet)).toEqual(['10.0.0.9']);
    expect(rcode((await ask('nosuch')).packet)).toBe(3);
    table.replace([{ network: 'n', name: 'nosuch', addresses: ['10.0.0.7'] }], [{ address: '127.0.0.1', networks: ['n'] }]);
    expect(addresses((await ask('nosuch')).packet)).toEqual(['10.0.0.7']);
    expect(rcode((await ask('web')).packet)).toBe(3);
  });
});
