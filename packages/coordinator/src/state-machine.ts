import { ShoalError } from '@shoal/core';
import type { Entry, Snapshot, StateMachine } from 'raft-ts';
import { asMemberRecord, type MemberDirectory, type MemberRecord } from './membership/directory.js';
import { decodeCommand, type Command } from './store/commands.js';
import type { StoreSnapshot } from './store/snapshot.js';
import { decodeSnapshot } from './store/snapshot.js';
import type { Store } from './store/store.js';

/**
 * A Raft entry of the store: the command, and the leader's clock when it proposed it; or a
 * coordinator's member record, which the membership directory keeps, not the store.
 */
export interface StoreEntry {
  at: string;
  command?: unknown;
  member?: unknown;
}

export const MACHINE_SNAPSHOT_FORMAT = 1;

/**
 * Everything the log replicates, at one index: the store and the member directory. A member
 * restored from it, or one that installs it from the leader, holds what replaying the log
 * it replaces would have given it.
 */
export interface MachineSnapshot {
  format: typeof MACHINE_SNAPSHOT_FORMAT;
  store: Readonly<StoreSnapshot>;
  members: MemberRecord[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeMachineSnapshot(store: Store, directory: MemberDirectory): Uint8Array {
  const snap: MachineSnapshot = { format: MACHINE_SNAPSHOT_FORMAT, store: store.snapshotView(), members: directory.records() };
  return enc.encode(JSON.stringify(snap));
}

function bad(what: string): ShoalError {
  return new ShoalError('bad_snapshot', `the coordinator snapshot is unreadable: ${what}`, 'remove this coordinator\'s data directory and let it catch up from the leader');
}

/** Checks a snapshot whole before anything is replaced, so a damaged one changes nothing. */
export function decodeMachineSnapshot(data: Uint8Array): { store: StoreSnapshot; members: MemberRecord[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch {
    throw bad('not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const r = raw as Record<string, unknown>;
  if (r.format !== MACHINE_SNAPSHOT_FORMAT) throw bad(`format ${JSON.stringify(r.format)}, expected ${MACHINE_SNAPSHOT_FORMAT}`);
  if (!Array.isArray(r.members)) throw bad('members is not a list');
  const members = r.members.map((m, i) => {
    const record = asMemberRecord(m);
    if (!record) throw bad(`members[${i}] is not a member record`);
    return record;
  });
  return { store: decodeSnapshot(r.store), members };
}

/** The store as Raft's state machine: every coordinator applies the same entries the same way. */
export class StoreMachine implements StateMachine {
  /** Refusals by entry index, for the proposer on this coordinator to learn its write failed. */
  readonly refusals = new Map<number, Error>();
  /** The index of the last entry applied (or restored), whatever it held. */
  applied = 0;

  constructor(
    readonly store: Store,
    private readonly directory: MemberDirectory,
    private readonly log: ((msg: string, fields?: Record<string, unknown>) => void) | undefined,
  ) {}

  apply(entry: Entry): void {
    this.applied = entry.index;
    if (entry.kind !== 'normal' || entry.data.byteLength === 0) return;
    let e: StoreEntry;
    let command: Command;
    try {
      e = JSON.parse(dec.decode(entry.data)) as StoreEntry;
      if (e.member !== undefined) {
        const record = asMemberRecord(e.member);
        if (record) this.directory.apply(record);
        else this.log?.('member record refused', { index: entry.index });
        return;
      }
      command = decodeCommand(e.command);
    } catch (err) {
      // refused the same way on every coordinator, so they stay identical
      this.log?.('entry refused', { index: entry.index, err: err instanceof Error ? err.message : String(err) });
      return;
    }
    const r = this.store.apply(command, { index: entry.index, at: e.at });
    if (!r.ok) {
      this.log?.('command refused', { index: entry.index, code: r.error.code, err: r.error.message });
      this.refusals.set(entry.index, r.error);
      // only this coordinator's own proposals are looked up, right after they apply
      if (this.refusals.size > 1000) this.refusals.delete(this.refusals.keys().next().value ?? 0);
    }
  }

  /** What a snapshot taken now holds. */
  serialize(): Uint8Array {
    return encodeMachineSnapshot(this.store, this.directory);
  }

  restore(snapshot: Snapshot): void {
    const { store, members } = decodeMachineSnapshot(snapshot.data);
    this.store.restore(store);
    for (const m of members) this.directory.apply(m);
    this.applied = snapshot.meta.index;
    this.log?.('store restored from a snapshot', { index: snapshot.meta.index, storeIndex: store.index });
  }
}
