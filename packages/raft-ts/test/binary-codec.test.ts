import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SeededRng, TcpTransport, decodeBinary, decodeKvOp, encodeBinary, encodeKvOp, message } from 'raft-ts';
import type { Message, TcpRejectReason } from 'raft-ts';
import { Cluster } from './cluster.js';

const decoded = (b: Buffer): Message => {
  const r = decodeBinary(b);
  if ('error' in r) throw new Error(r.error);
  return r.message;
};

describe('binary message codec', () => {
  it('every message a cluster exchanges (entries, conf changes, snapshot chunks, reads) survives encoding unchanged', () => {
    const c = new Cluster([1, 2, 3], { snapshotChunkBytes: 8 });
    c.elect(1);
    c.node(1).proposeConfChange({ type: 'addLearner', node: 4 });
    c.propose(1, 'héllo');
    c.node(2).readIndex('ctx-ü');
    c.stabilize();
    const kinds = new Set(c.delivered.map((m) => m.type));
    expect([...kinds]).toEqual(expect.arrayContaining(['app', 'appResp', 'heartbeat', 'heartbeatResp', 'readIndex', 'readIndexResp']));
    for (const m of c.delivered) expect(decoded(encodeBinary(m))).toEqual(m);
  });

  it('a snapshot chunk and large ids and terms survive encoding unchanged', () => {
    const m = message({
      type: 'snap', from: 2 ** 40, to: 2, term: Number.MAX_SAFE_INTEGER, reject: true, rejectHint: 5,
      snapshot: { meta: { index: 9, term: 2, size: 3, checksum: 0xffffffff, conf: { voters: [1, 2, 3], learners: [4] } }, offset: 0, data: new Uint8Array([1, 2, 3]) },
    });
    expect(decoded(encodeBinary(m))).toEqual(m);
  });

  it('bytes cut short anywhere, or followed by extra bytes, are refused with a reason, never a throw', () => {
    const m = message({ type: 'app', from: 1, to: 2, term: 3, index: 1, logTerm: 1, context: 'x', entries: [{ kind: 'conf', term: 3, index: 2, change: { type: 'addVoter', node: 4 }, data: new Uint8Array([9]) }] });
    const full = encodeBinary(m);
    for (let cut = 0; cut < full.length; cut++) {
      const r = decodeBinary(full.subarray(0, cut));
      expect('error' in r).toBe(true);
    }
    expect(decodeBinary(Buffer.concat([full, Buffer.from([0])]))).toEqual({ error: '1 bytes after the message' });
    const badVersion = Buffer.from(full);
    badVersion[0] = 9;
    expect(decodeBinary(badVersion)).toEqual({ error: 'unknown codec version 9' });
  });

  it('random bytes decode to a refusal or to something the core rejects and counts, never to a crash', () => {
    const rng = new SeededRng(7);
    const c = new Cluster([1, 2, 3]);
    c.elect(1);
    const before = c.node(2).status();
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(rng.int(120));
      for (let j = 0; j < b.length; j++) b[j] = rng.int(256);
      if (b.length > 1) b[0] = 1; // the right version, so the decoder goes deeper
      const r = decodeBinary(b);
      if ('error' in r) refused++;
      else expect(() => c.node(2).step(r.message)).not.toThrow();
    }
    expect(refused).toBeGreaterThan(1900);
    expect(c.node(2).status().term).toBe(before.term);
  });
});

describe('binary KV ops of the example server', () => {
  it('put and cas survive encoding, whatever the text', () => {
    expect(decodeKvOp(encodeKvOp({ op: 'put', key: 'k/ü', value: 'v'.repeat(256) }))).toEqual({ op: 'put', key: 'k/ü', value: 'v'.repeat(256) });
    expect(decodeKvOp(encodeKvOp({ op: 'cas', key: '', value: '', expect: '€' }))).toEqual({ op: 'cas', key: '', value: '', expect: '€' });
  });

  it('a short or unknown op is refused with an error', () => {
    expect(() => decodeKvOp(new Uint8Array(3))).toThrow(/too short/);
    const b = encodeKvOp({ op: 'put', key: 'a', value: 'b' });
    b[0] = 7;
    expect(() => decodeKvOp(b)).toThrow(/unknown kind 7/);
  });
});

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

function frame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  return Buffer.concat([head, body]);
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
}

describe('TCP transport', () => {
  const base = 17540;
  const peers = new Map([1, 2].map((i) => [i, { host: '127.0.0.1', port: base + i }]));

  it('delivers every message sent in one turn, in order, batched into frames', async () => {
    const a = new TcpTransport({ listen: { host: '127.0.0.1', port: base + 1 }, peers });
    const b = new TcpTransport({ listen: { host: '127.0.0.1', port: base + 2 }, peers });
    await a.start();
    await b.start();
    closers.push(() => a.close(), () => b.close());
    const got: Message[] = [];
    b.listen(2, (m) => got.push(m));
    const sent = Array.from({ length: 50 }, (_, i) => message({ type: 'heartbeat', from: 1, to: 2, term: 1, commit: i, context: `r${i}` }));
    a.send(sent.slice(0, 25));
    a.send(sent.slice(25));
    await until(() => got.length === 50);
    expect(got).toEqual(sent);
  });

  it('refuses and counts a malformed frame and one from a stranger, then keeps the connection; an oversized frame closes it', async () => {
    const rejected: [TcpRejectReason, string][] = [];
    const b = new TcpTransport({ listen: { host: '127.0.0.1', port: base + 2 }, peers, maxFrameBytes: 1024, onReject: (r, d) => rejected.push([r, d]) });
    await b.start();
    closers.push(() => b.close());
    const got: Message[] = [];
    b.listen(2, (m) => got.push(m));
    const s = net.connect(base + 2, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    closers.push(() => Promise.resolve(void s.destroy()));
    const good = message({ type: 'heartbeat', from: 1, to: 2, term: 1 });
    s.write(Buffer.concat([
      frame(Buffer.from('{"type":"app"}')),
      frame(encodeBinary(message({ type: 'heartbeat', from: 9, to: 2, term: 1 }))),
      frame(encodeBinary(good)),
    ]));
    await until(() => got.length === 1);
    expect(got).toEqual([good]);
    expect(b.rejections()).toEqual(new Map([['malformed', 1], ['unknownMember', 1]]));
    const closed = new Promise((r) => s.once('close', r));
    s.write(frame(Buffer.alloc(2000)));
    await closed;
    expect(b.rejections().get('oversized')).toBe(1);
    expect(rejected.map(([r]) => r)).toEqual(['malformed', 'unknownMember', 'oversized']);
  });
});
