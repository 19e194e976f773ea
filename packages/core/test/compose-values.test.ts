import { describe, expect, it } from 'vitest';
import { parseBytes, parseCpus, parseDuration, parseShortPort, splitCommand } from '@shoal/core';

describe('compose scalar formats', () => {
  it('reads Go durations into milliseconds', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2.5s')).toBe(2_500);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('0')).toBe(0);
    for (const bad of ['10', 'soon', '5 s', '', 's', '1m30']) expect(parseDuration(bad)).toBeUndefined();
  });

  it('reads memory sizes in powers of 1024, as Docker does', () => {
    expect(parseBytes('512M')).toBe(512 * 2 ** 20);
    expect(parseBytes('2gb')).toBe(2 * 2 ** 30);
    expect(parseBytes('1024k')).toBe(2 ** 20);
    expect(parseBytes('100')).toBe(100);
    expect(parseBytes(4096)).toBe(4096);
    for (const bad of ['lots', '1x', '-1M', '']) expect(parseBytes(bad)).toBeUndefined();
  });

  it('reads CPUs into billionths and refuses zero', () => {
    expect(parseCpus('0.5')).toBe(500_000_000);
    expect(parseCpus(2)).toBe(2_000_000_000);
    expect(parseCpus('0')).toBeUndefined();
    expect(parseCpus('half')).toBeUndefined();
  });

  it('splits commands with quotes and escapes like a shell, and refuses an open quote', () => {
    expect(splitCommand(`sh -c 'echo "hi there"' --name="a b" x\\ y`)).toEqual(['sh', '-c', 'echo "hi there"', '--name=a b', 'x y']);
    expect(splitCommand(`say ''`)).toEqual(['say', '']);
    expect(splitCommand(`echo "unterminated`)).toBeUndefined();
  });
});

describe('short port syntax', () => {
  it('reads target only, published:target, host ip and protocol', () => {
    expect(parseShortPort('3000')).toEqual([{ target: 3000, protocol: 'tcp', mode: 'ingress' }]);
    expect(parseShortPort('8000:80')).toEqual([{ target: 80, published: 8000, protocol: 'tcp', mode: 'ingress' }]);
    expect(parseShortPort('127.0.0.1:8001:8001/udp')).toEqual([{ target: 8001, published: 8001, protocol: 'udp', mode: 'ingress', hostIp: '127.0.0.1' }]);
  });

  it('expands equal-length ranges pairwise', () => {
    const ports = parseShortPort('9090-9091:8080-8081');
    if ('error' in ports) throw new Error(ports.error);
    expect(ports.map((p) => [p.published, p.target])).toEqual([[9090, 8080], [9091, 8081]]);
    expect(parseShortPort('3000-3002')).toHaveLength(3);
  });

  it('refuses what a swarm cannot publish', () => {
    expect(parseShortPort('8000-8010:80')).toEqual({ error: 'published range 8000-8010 and target range 80 differ in length' });
    expect(parseShortPort('[::1]:6001:6001')).toEqual({ error: 'IPv6 host addresses are not supported' });
    expect(parseShortPort('80:80/sctp')).toEqual({ error: 'protocol "sctp" is not tcp or udp' });
    expect(parseShortPort('70000')).toMatchObject({ error: expect.stringMatching(/not a port/) as unknown });
    expect(parseShortPort('1-65535')).toEqual({ error: 'a range may hold at most 1000 ports' });
    expect(parseShortPort('300.1.1.1:80:80')).toMatchObject({ error: expect.stringMatching(/not an IPv4 address/) as unknown });
  });
});
