import { describe, expect, it } from 'vitest';
import { InvariantViolation, Invariants } from 'raft-ts';
import type { Entry, LogView } from 'raft-ts';

const e = (index: number, term: number, byte = index): Entry => ({ kind: 'normal', index, term, data: new Uint8Array([byte]) });

function view(id: number, entries: Entry[]): LogView {
  return {
    id,
    firstIndex: 1,
    lastIndex: entries.length,
    term: (i) => (i === 0 ? 0 : entries[i - 1]?.term),
    entry: (i) => entries[i - 1],
  };
}

// The simulator is only as good as these checks: each must fire on the violation it names.
describe('simulator invariants', () => {
  it('two leaders in one term violate election safety', () => {
    const inv = new Invariants();
    inv.observeLeader(1, 3);
    inv.observeLeader(1, 3);
    expect(() => inv.observeLeader(2, 3)).toThrow(/election safety/);
  });

  it('a leader missing an entry committed by its term violates leader completeness', () => {
    const inv = new Invariants();
    inv.observeCommit(view(1, [e(1, 1), e(2, 1)]), 2, 1);
    expect(() => inv.checkLeaderCompleteness(view(2, [e(1, 1)]), 2)).toThrow(/leader completeness/);
    expect(() => inv.checkLeaderCompleteness(view(3, [e(1, 1), e(2, 2)]), 2)).toThrow(/leader completeness/);
    expect(() => inv.checkLeaderCompleteness(view(4, [e(1, 1), e(2, 1), e(3, 2)]), 2)).not.toThrow();
  });

  it('a leader of an earlier term than the commit need not hold the entry', () => {
    const inv = new Invariants();
    inv.observeCommit(view(1, [e(1, 1), e(2, 2)]), 2, 5);
    expect(() => inv.checkLeaderCompleteness(view(2, [e(1, 1)]), 4)).not.toThrow();
  });

  it('two members committing different entries at one index is caught', () => {
    const inv = new Invariants();
    inv.observeCommit(view(1, [e(1, 1)]), 1, 1);
    expect(() => inv.observeCommit(view(2, [e(1, 1, 99)]), 1, 1)).toThrow(/committed entry lost/);
  });

  it('a member replacing a committed entry it holds is caught', () => {
    const inv = new Invariants();
    inv.observeCommit(view(1, [e(1, 1)]), 1, 1);
    expect(() => inv.observePersisted(2, [e(1, 2)], () => 1)).toThrow(/overwritten/);
    // A deposed leader writing at an index it never held loses nothing.
    expect(() => inv.observePersisted(3, [e(1, 2)], () => undefined)).not.toThrow();
  });

  it('different states after applying one index violate state machine safety', () => {
    const inv = new Invariants();
    inv.observeApplied(1, 5, 0xabc);
    inv.observeApplied(2, 5, 0xabc);
    expect(() => inv.observeApplied(3, 5, 0xdef)).toThrow(InvariantViolation);
  });

  it('logs that agree on an entry but differ before it violate log matching', () => {
    const inv = new Invariants();
    expect(() => inv.checkLogMatching([view(1, [e(1, 1), e(2, 2)]), view(2, [e(1, 1), e(2, 3)])])).not.toThrow();
    expect(() => inv.checkLogMatching([view(1, [e(1, 1), e(2, 2)]), view(2, [e(1, 2), e(2, 2)])])).toThrow(/log matching/);
  });
});
