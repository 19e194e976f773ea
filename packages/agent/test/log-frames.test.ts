import { describe, expect, it } from 'vitest';
import { FrameReader } from '../src/logs.js';

const frame = (stream: 1 | 2, text: string): Buffer => {
  const body = Buffer.from(text);
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
};

describe("Docker's multiplexed log stream", () => {
  it('splits frames into stdout and stderr, keeping a frame cut across chunks until it is whole', () => {
    const r = new FrameReader();
    const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
    expect(r.push(all.subarray(0, 20))).toEqual([{ stream: 'stdout', data: 'out one\n' }]);
    expect(r.push(all.subarray(20, 21))).toEqual([]);
    expect(r.push(all.subarray(21))).toEqual([
      { stream: 'stderr', data: 'err one\n' },
      { stream: 'stdout', data: 'out two\n' },
    ]);
  });
});
