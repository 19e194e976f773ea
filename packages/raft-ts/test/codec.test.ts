import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, message } from 'raft-ts';
import type { Message } from 'raft-ts';
import { Cluster } from './cluster.js';

describe('message codec', () => {
  it('every message a cluster exchanges survives encoding unchanged', () => {
    const c = new Cluster([1, 2, 3], { snapshotChunkBytes: 8 });
    c.elect(1);
    c.node(1).proposeConfChange({ type: 'addLearner', node: 4 });
    c.propose(1, 'héllo');
    c.node(2).readIndex('ctx');
    c.stabilize();
    expect(c.delivered.length).toBeGreaterThan(10);
    for (const m of c.delivered) expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('a snapshot chunk survives encoding unchanged', () => {
    const m = message({
      type: 'snap', from: 1, to: 2, term: 3,
      snapshot: { meta: { index: 9, term: 2, size: 3, checksum: 7, conf: { voters: [1, 2, 3], learners: [4] } }, offset: 0, data: new Uint8Array([1, 2, 3]) },
    });
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('garbage decodes to something the core rejects and counts, never to a crash', () => {
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const inputs = ['not json', '42', 'null', '{"type":"app","entries":[{"k":"c"}]}', '{"type":"app","entries":"x","snapshot":7}'];
    for (const text of inputs) {
      const decoded = decodeMessage(text);
      expect(() => c.node(2).step(decoded as Message)).not.toThrow();
    }
    expect(c.node(2).rejections().get('malformed')).toBe(inputs.length);
  });
});
