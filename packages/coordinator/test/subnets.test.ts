import { describe, expect, it } from 'vitest';
import { SubnetPool } from '@shoal/coordinator';

describe('SubnetPool', () => {
  it('carves /24s from 10.0.0.0/8 in order by default', () => {
    const pool = new SubnetPool();
    expect([pool.carve('a', 'a'), pool.carve('b', 'b')]).toEqual(['10.0.0.0/24', '10.0.1.0/24']);
  });

  it('carves from a configured pool at a configured size', () => {
    const pool = new SubnetPool({ pools: ['172.20.0.0/16'], subnetPrefix: 26 });
    expect([pool.carve('a', 'a'), pool.carve('b', 'b')]).toEqual(['172.20.0.0/26', '172.20.0.64/26']);
  });

  it('gives a network the subnet it already holds when asked again', () => {
    const pool = new SubnetPool();
    expect(pool.carve('a', 'a')).toBe(pool.carve('a', 'a'));
    expect(pool.size).toBe(1);
  });

  it('skips a subnet a person chose inside the pool', () => {
    const pool = new SubnetPool();
    pool.reserve('u', 'user', '10.0.0.0/23');
    expect(pool.carve('a', 'a')).toBe('10.0.2.0/24');
  });

  it('refuses a chosen subnet overlapping a carved one, naming the network that holds it', () => {
    const pool = new SubnetPool();
    pool.carve('a', 'front');
    expect(() => pool.reserve('b', 'back', '10.0.0.0/16')).toThrowError(/overlaps 10\.0\.0\.0\/24 of network front/);
    expect(pool.size).toBe(1);
  });

  it('carves again once a pool that ran out is extended', () => {
    const pool = new SubnetPool({ pools: ['192.168.0.0/23'], subnetPrefix: 24 });
    pool.carve('a', 'a');
    pool.carve('b', 'b');
    expect(() => pool.carve('c', 'c')).toThrowError(expect.objectContaining({ code: 'pool_exhausted' }) as Error);
    pool.extend('192.168.10.0/24');
    expect(pool.carve('c', 'c')).toBe('192.168.10.0/24');
  });

  it('refuses to extend with a pool overlapping one it has', () => {
    const pool = new SubnetPool();
    expect(() => pool.extend('10.1.0.0/16')).toThrowError(expect.objectContaining({ code: 'pool_overlap' }) as Error);
  });

  it('carves a released subnet again', () => {
    const pool = new SubnetPool();
    pool.carve('a', 'a');
    pool.carve('b', 'b');
    pool.release('a');
    expect(pool.carve('c', 'c')).toBe('10.0.0.0/24');
  });
});
