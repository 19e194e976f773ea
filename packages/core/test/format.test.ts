import { describe, expect, it } from 'vitest';
import { formatBytes, formatCpus, taskName } from '@shoal/core';

describe('sizes for people', () => {
  it('shows memory in powers of 1024 with one decimal only when it helps', () => {
    expect(formatBytes(512 * 2 ** 20)).toBe('512 MB');
    expect(formatBytes(2 * 2 ** 30)).toBe('2 GB');
    expect(formatBytes(1.5 * 2 ** 30)).toBe('1.5 GB');
    expect(formatBytes(1000)).toBe('1000 B');
    expect(formatBytes(0)).toBe('0 B');
  });

  it('shows CPUs from billionths, singular for one', () => {
    expect(formatCpus(500_000_000)).toBe('0.5 CPUs');
    expect(formatCpus(1e9)).toBe('1 CPU');
    expect(formatCpus(2.25e9)).toBe('2.25 CPUs');
  });
});

describe('task names', () => {
  it('names replicated tasks by slot and global tasks by node, as Docker does', () => {
    expect(taskName('shop_web', { id: 't9', slot: 3 })).toBe('shop_web.3.t9');
    expect(taskName('shop_worker', { id: 't4', nodeId: 'n2' })).toBe('shop_worker.n2.t4');
  });
});
