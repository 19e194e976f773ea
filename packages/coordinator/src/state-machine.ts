import { ShoalError } from '@shoal/core';
import type { Entry, Snapshot, StateMachine } from 'raft-ts';
import { asMemberRecord, type MemberDirectory, type MemberRecord } from './membership/directory.js';
import { decodeCommand, type Command } from './store/commands.js';
import { AppliedRequests, asAppliedRequest, asRequestTag, type AppliedRequest, type RequestTag } from './store/requests.js';
import type { StoreSnapshot } from './store/snapshot.js';
import { decodeSnapshot } from './store/snapshot.js';
import type { Store } from './store/store.js';

/**
 * A Raft entry of the store: the command, and the leader's clock when it proposed it, with the
 * API request it completes if any (see AppliedRequests); or a coordinator's member record,
 * which the membership directory keeps, not the store.
 */
export interface StoreEntry {
  at: string;
  command?: unknown;
  request?: unknown;
  member?: unknown;
}

/** 2 added the applied requests; a format 1 snapshot (none) is still read. */
export const MACHINE_SNAPSHOT_FORMAT = 2;

/**
 * Everything the log replicates, at one index: the store, the member directory and the
 * requests applied lately. A member restored from it, or one that installs it from the leader,
 * holds what replaying the log it replaces would have given it.
 */
export interface MachineSnapshot {
  format: typeof MACHINE_SNAPSHOT_FORMAT;
  store: Readonly<StoreSnapshot>;
  members: MemberRecord[];
  requests: AppliedRequest[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeMachineSnapshot(store: Store, directory: MemberDirectory, requests: AppliedRequests): Uint8Array {
  const snap: MachineSnapshot = { format: MACHINE_SNAPSHOT_FORMAT, store: store.snapshotView(), members: directory.records(), requests: requests.list() };
  return enc.encode(JSON.stringify(snap));
}

function bad(what: string): ShoalError {
  return new ShoalError('bad_snapshot', `the coordinator snapshot is unreadable: ${what}`, 'remove this coordinator\'s data directory and let it catch up from the leader');
}

/** Checks a snapshot whole before anything is replaced, so a damaged one changes nothing. */
export function decodeMachineSnapshot(data: Uint8Array): { store: StoreSnapshot; members: MemberRecord[]; requests: AppliedRequest[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(data));
  } catch {
    throw bad('not JSON');
  }
  if (typeof raw !== 'object' || raw === null) throw bad('not an object');
  const r = raw as Record<string, unknown>;
  if (r.format !== MACHINE_SNAPSHOT_FORMAT && r.format !== 1) throw bad(`format ${JSON.stringify(r.format)}, expected ${MACHINE_SNAPSHOT_FORMAT}`);
  if (!Array.isArray(r.members)) throw bad('members is not a list');
  const members = r.members.map((m, i) => {
    const record = asMemberRecord(m);
    if (!record) throw bad(`members[${i}] is not a member record`);
    return record;
  });
  const rawRequests = r.format === 1 ? [] : r.requests;
  if (!Array.isArray(rawRequests)) throw bad('requests is not a list');
  const requests = rawRequests.map((q, i) => {
    const applied = asAppliedRequest(q);
    if (!applied) throw bad(`requests[${i}] is not an applied request`);
    return applied;
  });
  return { store: decodeSnapshot(r.store), members, requests };
}

/** The store as Raft's state machine: every coordinator applies the same entries the same way. */
export class StoreMachine implements StateMachine {
  /** Refusals by entry index, for the proposer on this coordinator to learn its write failed. */
  readonly #refusals = new Map<number, Error>();
  /** Entries that carried a request applied before, by index, with that first application. */
  readonly #repeats = new Map<number, AppliedRequest>();
  readonly requests: AppliedRequests;
  /** The index of the last entry applied (or restored), whatever it held. */
  applied = 0;

  constructor(
    readonly store: Store,
    private readonly directory: MemberDirectory,
    private readonly log: ((msg: string, fields?: Record<string, unknown>) => void) | undefined,
    requests = new AppliedRequests(),
  ) {
    this.requests = requests;
  }

  apply(entry: Entry): void {
    this.applied = entry.index;
    if (entry.kind !== 'normal' || entry.data.byteLength === 0) return;
    let e: StoreEntry;
    let command: Command;
    let request: RequestTag | undefined;
    try {
      e = JSON.parse(dec.decode(entry.data)) as StoreEntry;
      if (e.member !== undefined) {
        const record = asMemberRecord(e.member);
        if (record) this.directory.apply(record);
        else this.log?.('member record refused', { index: entry.index });
        return;
      }
      command = decodeCommand(e.command);
      request = e.request === undefined ? undefined : asRequestTag(e.request);
      if (e.request !== undefined && !request) throw new Error('the request it carries is malformed');
    } catch (err) {
      // refused the same way on every coordinator, so they stay identical
      this.log?.('entry refused', { index: entry.index, err: err instanceof Error ? err.message : String(err) });
      return;
    }
    const first = request && this.requests.get(request.key);
    if (first) {
      // a client sent the write again, not knowing the first one was applied: nothing twice
      this.log?.('request applied before: not again', { index: entry.index, first: first.index });
      keepFor(this.#repeats, entry.index, first);
      return;
    }
    const r = this.store.apply(command, { index: entry.index, at: e.at });
    if (!r.ok) {
      // nothing changed: a retry may be applied, so the request is not remembered
      this.log?.('command refused', { index: entry.index, code: r.error.code, err: r.error.message });
      keepFor(this.#refusals, entry.index, r.error);
      return;
    }
    if (request) this.requests.remember({ ...request, index: entry.index, at: e.at });
  }

  /**
   * What the proposer of the entry at `index` learns once it applied: the store's refusal,
   * thrown, or the answer of the request it carried — the first one, if that request was
   * applied before and this entry therefore applied nothing.
   */
  outcome(index: number, request?: RequestTag): unknown {
    const refused = this.#refusals.get(index);
    const first = this.#repeats.get(index);
    this.#refusals.delete(index);
    this.#repeats.delete(index);
    if (refused) throw refused;
    return first ? first.answer : request?.answer;
  }

  /** What a snapshot taken now holds. */
  serialize(): Uint8Array {
    return encodeMachineSnapshot(this.store, this.directory, this.requests);
  }

  restore(snapshot: Snapshot): void {
    const { store, members, requests } = decodeMachineSnapshot(snapshot.data);
    this.store.restore(store);
    for (const m of members) this.directory.apply(m);
    this.requests.restore(requests);
    this.applied = snapshot.meta.index;
    this.log?.('store restored from a snapshot', { index: snapshot.meta.index, storeIndex: store.index });
  }
}

/** What the proposer on this coordinator looks up right after its entry applies; a few suffice. */
function keepFor<V>(byIndex: Map<number, V>, index: number, value: V): void {
  byIndex.set(index, value);
  if (byIndex.size > 1000) byIndex.delete(byIndex.keys().next().value ?? 0);
}
