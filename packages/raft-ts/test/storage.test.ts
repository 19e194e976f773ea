import { describe, expect, it } from 'vitest';
import { MemoryStorage, StorageError, crc32 } from 'raft-ts';
import type { Entry } from 'raft-ts';

const e = (index: number, term: number): Entry => ({ kind: 'normal', index, term, data: new Uint8Array([index]) });
const conf = { voters: [1, 2, 3], learners: [] };

describe('MemoryStorage', () => {
  it('an append replaces every stored entry from its first index on', () => {
    const s = new MemoryStorage(conf);
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    s.append([e(2, 2)]);
    expect(s.lastIndex()).toBe(2);
    expect(s.term(2)).toBe(2);
    expect(s.term(3)).toBeUndefined();
  });

  it('an append that would leave a gap is refused', () => {
    const s = new MemoryStorage(conf);
    expect(() => s.append([e(3, 1)])).toThrow(StorageError);
  });

  it('entries are limited by bytes but at least one is returned', () => {
    const s = new MemoryStorage(conf);
    s.append([e(1, 1), e(2, 1), e(3, 1)]);
    expect(s.entries(1, 4, 0)).toHaveLength(1);
    expect(s.entries(1, 4, 1000)).toHaveLength(3);
  });

  it('a snapshot keeps the log until it is compacted, then compacted entries are refused', () => {
    const s = new MemoryStorage(conf);
    s.append([e(1, 1), e(2, 1), e(3, 2)]);
    const data = new Uint8Array([1, 2, 3]);
    const snap = s.createSnapshot(2, conf, data);
    expect(snap.meta).toMatchObject({ index: 2, term: 1, size: 3, checksum: crc32(data) });
    expect(s.firstIndex()).toBe(1);
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(() => s.entries(2, 3, 100)).toThrow(StorageError);
    expect(() => s.compact(3)).toThrow(StorageError);
  });

  it('applying a received snapshot replaces the whole log', () => {
    const s = new MemoryStorage(conf);
    s.append([e(1, 1), e(2, 1)]);
    const data = new Uint8Array([9]);
    s.applySnapshot({ meta: { index: 10, term: 3, conf, size: 1, checksum: crc32(data) }, data });
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10)).toBe(3);
    expect(s.initialState().confState).toEqual(conf);
  });
});

describe('crc32', () => {
  it('matches the IEEE check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});
