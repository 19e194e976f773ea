import { describe, expect, it } from 'vitest';
import { checkLinearizable, runSimulation } from 'raft-ts';
import type { HistoryOp } from 'raft-ts';

type Op = Partial<HistoryOp> & Pick<HistoryOp, 'kind' | 'call'>;
const op = (o: Op): HistoryOp => ({ client: 1, key: 'k', value: '', expect: '', ret: undefined, ok: true, output: '', ...o });
const put = (value: string, call: number, ret: number | undefined, before = ''): HistoryOp => op({ kind: 'put', value, call, ret, output: before });
const get = (output: string, call: number, ret: number | undefined): HistoryOp => op({ kind: 'get', call, ret, output });

const cases: [string, HistoryOp[], boolean][] = [
  ['sequential put then get of the new value', [put('1', 0, 1), get('1', 2, 3)], true],
  ['a get after a completed put that still sees the old value', [put('1', 0, 1), get('', 2, 3)], false],
  ['a get concurrent with a put may see either value (old)', [put('1', 0, 5), get('', 1, 2)], true],
  ['a get concurrent with a put may see either value (new)', [put('1', 0, 5), get('1', 1, 2)], true],
  ['two reads that see the values in opposite orders', [put('1', 0, 10, ''), put('2', 0, 10, ''), get('1', 11, 12), get('2', 13, 14)], false],
  ['a value no one wrote', [get('7', 0, 1)], false],
  ['a put that never returned explains a later read', [put('1', 0, undefined), get('1', 5, 6)], true],
  ['a put that never returned need not have happened', [put('1', 0, undefined), get('', 5, 6)], true],
  ['a read may not go back to the old value after seeing the new one', [put('1', 0, undefined), get('1', 5, 6), get('', 7, 8)], false],
  ['a successful cas from the current value', [put('1', 0, 1), op({ kind: 'cas', expect: '1', value: '2', call: 2, ret: 3, ok: true, output: '1' }), get('2', 4, 5)], true],
  ['a cas that claims success from a value the register did not hold', [put('1', 0, 1), op({ kind: 'cas', expect: '0', value: '2', call: 2, ret: 3, ok: true, output: '1' })], false],
  ['a put reporting a previous value that was overwritten before it began', [put('1', 0, 1), put('2', 2, 3, '1'), put('3', 4, 5, '1')], false],
];

describe('linearizability checker', () => {
  it.each(cases)('%s', (_name, history, linearizable) => {
    expect(checkLinearizable(history).ok).toBe(linearizable);
  });

  it('checks each key on its own', () => {
    const history = [put('1', 0, 1), { ...get('', 2, 3), key: 'other' }];
    expect(checkLinearizable(history)).toMatchObject({ ok: true, key: undefined, checked: 2 });
    const bad = [put('1', 0, 1), get('', 2, 3), { ...put('x', 0, 1), key: 'a' }];
    expect(checkLinearizable(bad)).toMatchObject({ ok: false, key: 'k' });
  });

  it('keeps the search small on a long chain of concurrent operations', () => {
    const history: HistoryOp[] = [];
    for (let i = 0; i < 60; i++) history.push({ ...put(String(i), 0, 1000), output: i === 0 ? '' : String(i - 1) });
    history.push(get('59', 1001, 1002));
    const r = checkLinearizable(history);
    expect(r.ok).toBe(true);
    expect(r.explored).toBeLessThanOrEqual(61 * 61);
  });

  it('memoization bounds the search by subsets of operations, not by their orders', () => {
    // 12 concurrent puts of one value, then a read of a value nobody wrote: no order works, and
    // proving it visits each set of placed puts once (≤ 2^12 states), never each of the 12! orders.
    const history: HistoryOp[] = [];
    for (let i = 0; i < 12; i++) history.push(put('x', 0, 100, i === 0 ? '' : 'x'));
    history.push(get('y', 101, 102));
    const r = checkLinearizable(history);
    expect(r.ok).toBe(false);
    expect(r.explored).toBeGreaterThan(12);
    expect(r.explored).toBeLessThanOrEqual(2 ** 12);
  });
});

describe('linearizability of the simulated KV', () => {
  it('reads served without ReadIndex are caught as stale by the checker', () => {
    let failures = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const r = runSimulation({ seed, size: 3, unsafeLocalReads: true });
      if (r.failure?.includes('linearizability') === true) failures++;
    }
    expect(failures).toBeGreaterThan(0);
    // 30 whole simulations: on a shared, busy machine this can take several seconds.
  }, 60_000);
});
