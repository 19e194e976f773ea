import { describe, expect, it } from 'vitest';
import { macForAddress } from '@shoal/core';

describe('macForAddress', () => {
  it('derives a locally administered MAC from the task address', () => {
    expect(macForAddress('10.0.1.5')).toBe('02:42:0a:00:01:05');
    expect(macForAddress('192.168.255.254')).toBe('02:42:c0:a8:ff:fe');
  });

  it('refuses what is not an IPv4 address', () => {
    expect(() => macForAddress('10.0.1')).toThrow();
    expect(() => macForAddress('10.0.1.256')).toThrow();
    expect(() => macForAddress('10.0.1.x')).toThrow();
  });
});
