import type { HistoryOp } from './history.js';

/**
 * A linearizability checker for the simulator's KV history, in the style of Porcupine: the
 * history is split by key (operations on different keys commute, so each key is checked on its
 * own), then the Wing–Gong search with Lowe's memoization tries to order the operations of one
 * key so that each takes effect between its call and its return and the sequence is legal for a
 * register with put, get and compare-and-swap.
 *
 * An operation with no return (`ret` undefined) may or may not have taken effect: it is given a
 * return at infinity and any output, so it can be placed after everything (= never happened).
 */

export interface LinearizabilityResult {
  readonly ok: boolean;
  /** The first key whose history admits no linearization. */
  readonly key: string | undefined;
  /** Operations checked. */
  readonly checked: number;
  /** Search states visited, over all keys: what memoization keeps small. */
  readonly explored: number;
}

interface Event {
  readonly op: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Event | undefined;
  prev: Event | undefined;
  next: Event | undefined;
}

/** Applies `op` to a register holding `state`; undefined if the observed output is impossible. */
function step(state: string, op: HistoryOp): string | undefined {
  const known = op.ret !== undefined;
  switch (op.kind) {
    case 'get':
      return !known || op.output === state ? state : undefined;
    case 'put':
      return !known || op.output === state ? op.value : undefined;
    case 'cas': {
      const swaps = state === op.expect;
      if (known && (op.output !== state || op.ok !== swaps)) return undefined;
      return swaps ? op.value : state;
    }
  }
}

function checkKey(ops: readonly HistoryOp[]): { ok: boolean; explored: number } {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    const call: Event = { op: i, isCall: true, time: op.call, match: undefined, prev: undefined, next: undefined };
    const ret: Event = { op: i, isCall: false, time: op.ret ?? Infinity, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  // Calls before returns at equal times: such operations are treated as concurrent.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Event = { op: -1, isCall: false, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  const lift = (call: Event): void => {
    const ret = call.match;
    if (call.prev !== undefined) call.prev.next = call.next;
    if (call.next !== undefined) call.next.prev = call.prev;
    if (ret !== undefined) {
      if (ret.prev !== undefined) ret.prev.next = ret.next;
      if (ret.next !== undefined) ret.next.prev = ret.prev;
    }
  };
  const unlift = (call: Event): void => {
    const ret = call.match;
    if (ret !== undefined) {
      if (ret.prev !== undefined) ret.prev.next = ret;
      if (ret.next !== undefined) ret.next.prev = ret;
    }
    if (call.prev !== undefined) call.prev.next = call;
    if (call.next !== undefined) call.next.prev = call;
  };

  const seen = new Set<string>();
  const stack: { call: Event; state: string }[] = [];
  let linearized = 0n;
  let state = '';
  let entry = head.next;
  while (head.next !== undefined) {
    if (entry === undefined) return { ok: false, explored: seen.size };
    if (entry.isCall) {
      const op = ops[entry.op];
      const next = op === undefined ? undefined : step(state, op);
      if (next !== undefined) {
        const bits = linearized | (1n << BigInt(entry.op));
        const key = `${bits.toString(36)}|${next}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next;
          linearized = bits;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // An operation returned before any order could place it: undo the last choice.
      const top = stack.pop();
      if (top === undefined) return { ok: false, explored: seen.size };
      state = top.state;
      linearized &= ~(1n << BigInt(top.call.op));
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return { ok: true, explored: seen.size };
}

export function checkLinearizable(history: readonly HistoryOp[]): LinearizabilityResult {
  const byKey = new Map<string, HistoryOp[]>();
  for (const op of history) {
    // A read that never returned constrains nothing.
    if (op.kind === 'get' && op.ret === undefined) continue;
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let checked = 0;
  let explored = 0;
  for (const [key, ops] of [...byKey].sort(([a], [b]) => a.localeCompare(b))) {
    checked += ops.length;
    const r = checkKey(ops);
    explored += r.explored;
    if (!r.ok) return { ok: false, key, checked, explored };
  }
  return { ok: true, key: undefined, checked, explored };
}
