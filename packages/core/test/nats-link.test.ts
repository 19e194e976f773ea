import { describe, expect, it } from 'vitest';
import { natsLinkOptions, natsUrlHost, orderNatsServers } from '@shoal/core';

describe('the order a daemon tries NATS servers in', () => {
  const urls = ['nats://192.168.1.11:4222', 'nats://192.168.1.12:4222', 'nats://192.168.1.13:4222', 'nats://192.168.1.14:4222'];

  it('puts this host\'s server first, by one of its addresses or a loopback URL', () => {
    expect(orderNatsServers(urls, ['10.0.0.5', '192.168.1.13'])[0]).toBe('nats://192.168.1.13:4222');
    expect(orderNatsServers(['nats://h2:4222', 'nats://127.0.0.1:4222'], [])[0]).toBe('nats://127.0.0.1:4222');
  });

  it('shuffles the others, so that agents spread over the servers, and loses none', () => {
    const firsts = new Set<string>();
    let seed = 7;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 40; i++) {
      const order = orderNatsServers(urls, ['10.0.0.5'], random);
      expect([...order].sort()).toEqual([...urls].sort());
      firsts.add(order[0] ?? '');
    }
    expect(firsts.size).toBe(urls.length);
  });

  it('reads the host of every URL form the configs use', () => {
    expect(natsUrlHost('nats://user:pw@10.1.2.3:4222')).toBe('10.1.2.3');
    expect(natsUrlHost('tls://[fd00::1]:4222')).toBe('fd00::1');
    expect(natsUrlHost('H1:4222')).toBe('h1');
  });

  it('keeps the order given, notices a dead server within about 2 s and dials for 2 s at most', () => {
    const o = natsLinkOptions(urls);
    expect(o.noRandomize).toBe(true);
    // gossip would add servers the caller left out (an agent's second link avoids its own host's)
    expect(o.ignoreClusterUpdates).toBe(true);
    expect(o.servers).toEqual(urls);
    expect(o.pingInterval * o.maxPingOut).toBeLessThanOrEqual(1500);
    expect(o.timeout).toBeLessThanOrEqual(2000);
  });
});
