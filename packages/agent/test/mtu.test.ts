import { describe, expect, it } from 'vitest';
import { overlayMtu } from '@shoal/agent';

describe('overlay MTU', () => {
  it('leaves 50 bytes of the underlay MTU for VXLAN', () => {
    expect(overlayMtu(1500)).toBe(1450);
    expect(overlayMtu(9000)).toBe(8950);
    expect(() => overlayMtu(600)).toThrow(/below IPv4/);
  });
});
