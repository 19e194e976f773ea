import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ShoalError, decodeApiRequest, decodeAssignment, decodeTaskStatus, parseCompose } from '@shoal/core';

// Deterministic, so a failure names a seed that reproduces it.
function rng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1_103_515_245 + 12_345) % 2 ** 31;
    return s % n;
  };
}

const junk = [null, 0, -1, 1e12, 3.5, '', 'three', '${', '$$', '80:80/sctp', 'node.labels.x=y', true, [], {}, ['a', 1, null], { a: { b: [] } }];

/** Replace one random value somewhere in the tree by junk. */
function mutate(tree: unknown, rand: (n: number) => number): void {
  let node = tree;
  for (let depth = 0; depth < 8; depth++) {
    const keys = Array.isArray(node) ? node.map((_, i) => i) : typeof node === 'object' && node !== null ? Object.keys(node) : [];
    if (keys.length === 0) return;
    const k = keys[rand(keys.length)] as string | number;
    const child = (node as Record<string | number, unknown>)[k];
    if (rand(3) === 0 || typeof child !== 'object' || child === null) {
      (node as Record<string | number, unknown>)[k] = structuredClone(junk[rand(junk.length)]);
      return;
    }
    node = child;
  }
}

describe('hostile input', () => {
  const base = parse(readFileSync(new URL('./fixtures/shop.yml', import.meta.url), 'utf8')) as unknown;

  it('never throws from the compose parser: every mutated file yields a stack or errors', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = rng(seed);
      const tree = structuredClone(base);
      for (let i = 0, n = 1 + rand(4); i < n; i++) mutate(tree, rand);
      const result = parseCompose({ name: 'fuzz.yml', text: stringify(tree) }, { stackName: 'fuzz' });
      expect(result.stack === undefined, `seed ${seed}`).toBe(result.errors.length > 0);
    }
  });

  it('never throws anything but bad_message from the decoders', () => {
    const samples: unknown[] = [
      { v: 1, kind: 'api.request', id: 'x', verb: 'service.create', body: { spec: { name: 'a' } } },
      { v: 1, kind: 'assign.delta', nodeId: 'n', sessionId: 's', seq: -1 },
      { v: 1, kind: 'task.status', nodeId: 'n', sessionId: 's', reports: [] },
    ];
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      const msg = structuredClone(samples[rand(samples.length)]);
      for (let i = 0; i < 3; i++) mutate(msg, rand);
      for (const decode of [decodeApiRequest, decodeAssignment, decodeTaskStatus]) {
        try {
          decode(msg);
        } catch (err) {
          expect(err, `seed ${seed}`).toBeInstanceOf(ShoalError);
          expect((err as ShoalError).code).toBe('bad_message');
        }
      }
    }
  });
});
