import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/core';
import { VniPool, VNI_MIN } from '@shoal/coordinator';

describe('VniPool', () => {
  it('hands out VNIs from 4096 upward, never one twice', () => {
    const pool = new VniPool();
    const got = [pool.allocate(), pool.allocate(), pool.allocate()];
    expect(got).toEqual([VNI_MIN, VNI_MIN + 1, VNI_MIN + 2]);
    expect(new Set(got).size).toBe(3);
  });

  it('skips VNIs already held when rebuilt from the store', () => {
    const pool = new VniPool([VNI_MIN, VNI_MIN + 2]);
    expect(pool.allocate()).toBe(VNI_MIN + 1);
    expect(pool.allocate()).toBe(VNI_MIN + 3);
  });

  it('reuses the lowest freed VNI first', () => {
    const pool = new VniPool();
    const a = pool.allocate();
    pool.allocate();
    pool.release(a);
    expect(pool.allocate()).toBe(a);
  });

  it('refuses a VNI that is held, with a stable code', () => {
    const pool = new VniPool([5000]);
    expect(() => pool.reserve(5000)).toThrowError(expect.objectContaining({ code: 'vni_in_use' }) as Error);
    expect(() => pool.reserve(0)).toThrow(ShoalError);
    expect(pool.size).toBe(1);
  });
});
