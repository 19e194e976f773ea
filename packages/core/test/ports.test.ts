import { describe, expect, it } from 'vitest';
import { PortAllocator } from '@shoal/core';
import type { Port } from '@shoal/core';

const ingress = (target: number, published?: number, protocol: Port['protocol'] = 'tcp'): Port => ({
  target, protocol, mode: 'ingress', ...(published === undefined ? {} : { published }),
});

describe('published port allocation', () => {
  it('keeps chosen numbers and gives the others the lowest free dynamic port', () => {
    const a = new PortAllocator();
    expect(a.assign('web', [ingress(80, 8080), ingress(443)])).toEqual([ingress(80, 8080), ingress(443, 30_000)]);
    expect(a.assign('api', [ingress(9000)])[0]?.published).toBe(30_001);
  });

  it('treats tcp and udp as separate ports', () => {
    const a = new PortAllocator();
    a.assign('dns', [ingress(53, 53, 'udp')]);
    expect(a.assign('web', [ingress(53, 53, 'tcp')])[0]?.published).toBe(53);
  });

  it('refuses a port another service holds, naming it, and takes nothing on failure', () => {
    const a = new PortAllocator();
    a.assign('web', [ingress(80, 80)]);
    expect(() => a.assign('proxy', [ingress(81, 81), ingress(8080, 80)])).toThrow('port 80/tcp is already published by web');
    expect(a.ownerOf(81, 'tcp')).toBeUndefined();
  });

  it('lets an update keep, add and drop ports of the same service', () => {
    const a = new PortAllocator();
    const first = a.assign('web', [ingress(80, 80), ingress(443)]);
    // The stored numbers go back in, so the dynamic port survives the update.
    expect(a.assign('web', [first[1] ?? ingress(443), ingress(8080, 8080)]).map((p) => p.published)).toEqual([30_000, 8080]);
    expect(a.ownerOf(80, 'tcp')).toBeUndefined();
  });

  it('keeps what a service held when its update conflicts', () => {
    const a = new PortAllocator();
    a.assign('web', [ingress(80, 80)]);
    a.assign('api', [ingress(90, 9000)]);
    expect(() => a.assign('web', [ingress(81, 81), ingress(90, 9000)])).toThrow('port 9000/tcp is already published by api');
    expect(a.ownerOf(80, 'tcp')).toBe('web');
    expect(a.ownerOf(81, 'tcp')).toBeUndefined();
  });

  it('never gives a dynamic port that the same request chose by number', () => {
    const a = new PortAllocator();
    expect(a.assign('web', [ingress(1), ingress(2, 30_000)]).map((p) => p.published)).toEqual([30_001, 30_000]);
    expect(() => a.assign('dup', [ingress(3, 7000), ingress(4, 7000)])).toThrow('port 7000/tcp is published twice by dup');
  });

  it('leaves host-mode ports alone, since they are per node', () => {
    const a = new PortAllocator();
    const host: Port = { target: 9100, published: 9100, protocol: 'tcp', mode: 'host' };
    a.assign('a', [host]);
    expect(a.assign('b', [host])).toEqual([host]);
  });

  it('frees everything a removed service held and survives a JSON round trip', () => {
    const a = new PortAllocator();
    a.assign('web', [ingress(80, 80), ingress(81)]);
    a.assign('api', [ingress(90, 9000)]);
    const b = PortAllocator.fromState(JSON.parse(JSON.stringify(a.toState())) as ReturnType<PortAllocator['toState']>);
    expect(b.releaseAll('web')).toBe(2);
    expect(b.ownerOf(80, 'tcp')).toBeUndefined();
    expect(b.ownerOf(9000, 'tcp')).toBe('api');
    expect(b.assign('new', [ingress(1)])[0]?.published).toBe(30_000);
  });

  it('reports exhaustion of the dynamic range with a code', () => {
    const a = new PortAllocator();
    a.assign('many', Array.from({ length: 2_768 }, (_, i) => ingress(i + 1)));
    expect(() => a.assign('one', [ingress(1)])).toThrow(expect.objectContaining({ code: 'port_exhausted' }));
  });
});
