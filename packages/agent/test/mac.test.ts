import { describe, expect, it } from 'vitest';
import { macForAddress, overlayMtu } from '@shoal/agent';

describe('overlay addressing', () => {
  it('derives a locally administered MAC from the task address', () => {
    expect(macForAddress('10.0.1.5')).toBe('02:42:0a:00:01:05');
    expect(macForAddress('192.168.255.254')).toBe('02:42:c0:a8:ff:fe');
  });

  it('refuses what is not an IPv4 address', () => {
    expect(() => macForAddress('10.0.1')).toThrow(/not an IPv4/);
    expect(() => macForAddress('10.0.1.256')).toThrow(/not an IPv4/);
    expect(() => macForAddress('10.0.1.x')).toThrow(/not an IPv4/);
  });

  it('leaves 50 bytes of the underlay MTU for VXLAN', () => {
    expect(overlayMtu(1500)).toBe(1450);
    expect(overlayMtu(9000)).toBe(8950);
    expect(() => overlayMtu(600)).toThrow(/below IPv4/);
  });
});
