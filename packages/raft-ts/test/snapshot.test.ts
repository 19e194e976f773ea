import { describe, expect, it } from 'vitest';
import type { Message } from 'raft-ts';
import { Cluster } from './cluster.js';

const enc = new TextEncoder();

/** Takes an application snapshot on `id` at its applied index and compacts the log behind it. */
function snapshotAndCompact(c: Cluster, id: number): number {
  const m = c.get(id);
  const last = m.applied[m.applied.length - 1];
  if (last === undefined) throw new Error('nothing applied');
  const data = enc.encode(`state up to ${last.index}: ${'x'.repeat(100)}`);
  m.storage.createSnapshot(last.index, m.node.confStateAt(last.index), data);
  m.storage.compact(last.index);
  return last.index;
}

function laggingFollower(chunk: number): { c: Cluster; snapIndex: number } {
  const c = new Cluster([1, 2, 3], { snapshotChunkBytes: chunk });
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 20; i++) c.propose(1, `e${i}`);
  const snapIndex = snapshotAndCompact(c, 1);
  c.propose(1, 'after');
  return { c, snapIndex };
}

describe('snapshots and log compaction', () => {
  it('a follower behind the compacted log catches up from a snapshot sent in chunks', () => {
    const { c, snapIndex } = laggingFollower(16);
    c.heal();
    c.tickAll(3);
    const chunks = c.delivered.filter((m) => m.type === 'snap' && m.to === 3);
    const size = c.get(1).storage.snapshot().meta.size;
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(size / 16));
    expect(c.get(3).storage.snapshot().meta.index).toBe(snapIndex);
    expect(c.get(3).storage.snapshot().data).toEqual(c.get(1).storage.snapshot().data);
    expect(c.node(3).status().commit).toBe(c.node(1).status().commit);
    expect(c.appliedText(3)).toEqual(['after']);
  });

  it('a snapshot whose chunks arrive out of order or twice is still assembled exactly', () => {
    const { c, snapIndex } = laggingFollower(8);
    c.heal();
    let n = 0;
    // Drop every third chunk and its retransmission order then differs from the first pass.
    c.dropIf = (m: Message): boolean => m.type === 'snap' && ++n % 3 === 0;
    c.tickAll(40);
    expect(c.get(3).storage.snapshot().meta.index).toBe(snapIndex);
    expect(c.get(3).storage.snapshot().data).toEqual(c.get(1).storage.snapshot().data);
  });

  it('a snapshot that fails its checksum is rejected, counted, and not installed', () => {
    const { c } = laggingFollower(1000);
    c.heal();
    c.intercept = (m: Message): Message => {
      if (m.type !== 'snap' || m.snapshot === undefined) return m;
      const data = m.snapshot.data.slice();
      data[0] = (data[0] ?? 0) ^ 0xff;
      return { ...m, snapshot: { ...m.snapshot, data } };
    };
    c.tickAll(3);
    expect(c.node(3).rejections().get('badSnapshot')).toBeGreaterThan(0);
    expect(c.get(3).storage.snapshot().meta.index).toBe(0);
    expect(c.node(3).status().commit).toBeLessThan(c.node(1).status().commit);
    // The leader retries once the corruption stops.
    c.intercept = undefined;
    c.tickAll(5);
    expect(c.node(3).status().commit).toBe(c.node(1).status().commit);
  });

  it('a member restarted from a snapshot and its log tail recovers its commit and membership', () => {
    const { c, snapIndex } = laggingFollower(64);
    c.heal();
    c.tickAll(3);
    c.restart(1);
    const st = c.node(1).status();
    expect(st.firstIndex).toBe(snapIndex + 1);
    expect(st.conf.voters).toEqual([1, 2, 3]);
    expect(st.commit).toBeGreaterThan(snapIndex);
  });
});
