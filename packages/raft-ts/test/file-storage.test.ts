import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStorage, StorageCorruptError } from 'raft-ts';
import type { Entry } from 'raft-ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(join(tmpdir(), 'raft-ts-wal-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const e = (index: number, term: number, text = `v${index}`): Entry => ({ kind: 'normal', index, term, data: new TextEncoder().encode(text) });
const conf = { voters: [1, 2, 3], learners: [] };

function segments(dir: string): string[] {
  return fs.readdirSync(join(dir, 'wal')).sort();
}

function lastSegment(dir: string): string {
  const segs = segments(dir);
  return join(dir, 'wal', segs[segs.length - 1] ?? '');
}

describe('FileStorage', () => {
  it('entries, hard state and membership entries survive a reopen', async () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1), { kind: 'conf', index: 3, term: 2, change: { type: 'addLearner', node: 4 }, data: new Uint8Array(0) }]);
    storage.setHardState({ term: 2, vote: 1, commit: 2 });
    await storage.sync();
    storage.close();
    const { storage: again, report } = FileStorage.open(dir);
    expect(report.tornTail).toBeUndefined();
    expect(again.lastIndex()).toBe(3);
    expect(again.entries(1, 4, Infinity)).toEqual([e(1, 1), e(2, 1), { kind: 'conf', index: 3, term: 2, change: { type: 'addLearner', node: 4 }, data: new Uint8Array(0) }]);
    expect(again.initialState().hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    again.close();
  });

  it('an append that replaces a conflicting suffix is replayed as a replacement', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1), e(3, 1)]);
    storage.append([e(2, 2, 'new')]);
    storage.close();
    const { storage: again } = FileStorage.open(dir);
    expect(again.lastIndex()).toBe(2);
    expect(again.entries(2, 3, Infinity)).toEqual([e(2, 2, 'new')]);
    again.close();
  });

  it('a torn last record is truncated and reported, and the log stays writable', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1), e(3, 1)]);
    storage.close();
    const seg = lastSegment(dir);
    const size = fs.statSync(seg).size;
    fs.truncateSync(seg, size - 3);
    const { storage: again, report } = FileStorage.open(dir);
    expect(report.tornTail).toMatchObject({ segment: seg, bytes: expect.any(Number) as number });
    expect(again.lastIndex()).toBe(2);
    again.append([e(3, 2)]);
    again.close();
    const { storage: third, report: r3 } = FileStorage.open(dir);
    expect(r3.tornTail).toBeUndefined();
    expect(third.term(3)).toBe(2);
    third.close();
  });

  it('a tail of zeros (space allocated but never written before a power cut) is a torn tail', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1)]);
    storage.close();
    fs.appendFileSync(lastSegment(dir), Buffer.alloc(64));
    const { storage: again, report } = FileStorage.open(dir);
    expect(report.tornTail?.bytes).toBe(64);
    expect(again.lastIndex()).toBe(2);
    again.close();
  });

  it('a damaged record in the middle refuses to start with a clear error', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1, 'aaaa'), e(2, 1, 'bbbb'), e(3, 1, 'cccc')]);
    storage.close();
    const seg = lastSegment(dir);
    const buf = fs.readFileSync(seg);
    const at = buf.indexOf('bbbb');
    buf[at] = 0x7a;
    fs.writeFileSync(seg, buf);
    expect(() => FileStorage.open(dir)).toThrow(StorageCorruptError);
    expect(() => FileStorage.open(dir)).toThrow(/checksum mismatch.*refusing to start/);
  });

  it('segments rotate, and those behind a snapshot are removed on compaction', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir, { segmentBytes: 200 });
    for (let i = 1; i <= 40; i++) storage.append([e(i, 1, 'x'.repeat(20))]);
    const before = segments(dir).length;
    expect(before).toBeGreaterThan(3);
    storage.setHardState({ term: 1, vote: 1, commit: 40 });
    storage.createSnapshot(30, conf, new TextEncoder().encode('state@30'));
    storage.compact(30);
    expect(segments(dir).length).toBeLessThan(before);
    storage.close();
    const { storage: again } = FileStorage.open(dir, { segmentBytes: 200 });
    expect(again.snapshot().meta).toMatchObject({ index: 30, term: 1, conf });
    expect(again.firstIndex()).toBeLessThanOrEqual(31);
    expect(again.lastIndex()).toBe(40);
    expect(again.entries(31, 41, Infinity).map((x) => x.index)).toEqual([31, 32, 33, 34, 35, 36, 37, 38, 39, 40]);
    expect(again.initialState().hardState.commit).toBe(40);
    again.close();
  });

  it('a snapshot received from the leader replaces the log durably', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1)]);
    const data = new TextEncoder().encode('leader state');
    const { storage: src } = FileStorage.open(tempDir());
    src.append([e(1, 1), e(2, 2), e(3, 2)]);
    const snap = src.createSnapshot(3, conf, data);
    src.close();
    storage.applySnapshot(snap);
    storage.append([e(4, 2)]);
    storage.close();
    const { storage: again } = FileStorage.open(dir);
    expect(again.snapshot().meta.index).toBe(3);
    expect(again.snapshot().data).toEqual(data);
    expect(again.firstIndex()).toBe(4);
    expect(again.lastIndex()).toBe(4);
    expect(again.term(2)).toBeUndefined();
    again.close();
  });

  it('a snapshot file that fails its checksum refuses to start; a leftover temporary file is ignored', () => {
    const dir = tempDir();
    const { storage } = FileStorage.open(dir);
    storage.append([e(1, 1), e(2, 1)]);
    storage.createSnapshot(2, conf, new TextEncoder().encode('snapshot-data'));
    storage.close();
    fs.writeFileSync(join(dir, 'snap', 'junk.snap.tmp'), 'half written');
    const { storage: ok } = FileStorage.open(dir);
    expect(ok.snapshot().meta.index).toBe(2);
    ok.close();
    expect(fs.readdirSync(join(dir, 'snap')).some((n) => n.endsWith('.tmp'))).toBe(false);
    const snapFile = join(dir, 'snap', fs.readdirSync(join(dir, 'snap'))[0] ?? '');
    const buf = fs.readFileSync(snapFile);
    const last = buf.length - 1;
    buf[last] = (buf[last] ?? 0) ^ 0xff;
    fs.writeFileSync(snapFile, buf);
    expect(() => FileStorage.open(dir)).toThrow(/fails its checksum/);
  });
});
