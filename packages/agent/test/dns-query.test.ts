import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { readQuery } from '../src/dns/server.js';

const query = (extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'Tasks.Web', class: 'IN' }], ...extra });

describe("the resolver's fast path", () => {
  it('reads one plain question, lowercased, with the classic 512-byte limit', () => {
    expect(readQuery(query())).toEqual({ name: 'tasks.web', type: 1, end: 12 + 11 + 4, udpSize: 512 });
  });

  it("reads the client's EDNS buffer size, capped at 4096", () => {
    const q = query({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer] });
    expect(readQuery(q)?.udpSize).toBe(1232);
    const big = query({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 65000 } as dnsPacket.Answer] });
    expect(readQuery(big)?.udpSize).toBe(4096);
  });

  it('reads the type, so AAAA is not answered as A', () => {
    expect(readQuery(query({ questions: [{ type: 'AAAA', name: 'web', class: 'IN' }] }))?.type).toBe(28);
  });

  it('leaves anything unusual to the full decoder', () => {
    expect(readQuery(Buffer.from('not a dns message'))).toBeUndefined();
    expect(readQuery(dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'web', class: 'IN' }] }))).toBeUndefined();
    expect(readQuery(query({ questions: [{ type: 'A', name: 'a', class: 'IN' }, { type: 'A', name: 'b', class: 'IN' }] }))).toBeUndefined();
    expect(readQuery(query({ questions: [{ type: 'A', name: 'web', class: 'CH' }] }))).toBeUndefined();
    // a question whose name is cut short
    expect(readQuery(query().subarray(0, 18))).toBeUndefined();
    // a compression pointer in the question
    const pointed = Buffer.from(query());
    pointed[12] = 0xc0;
    expect(readQuery(pointed)).toBeUndefined();
  });
});
