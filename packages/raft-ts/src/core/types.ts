// The vocabulary of the protocol. Everything here is plain data so that a transport can encode
// it and a simulator can copy, drop, duplicate or reorder it without touching the core.

/** A member id. Ids are positive integers; NONE (0) means "nobody". */
export type NodeId = number;
export const NONE: NodeId = 0;

export type ConfChangeType = 'addVoter' | 'addLearner' | 'removeNode';

/** One membership change: this library changes one server at a time (see README). */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface NormalEntry {
  readonly kind: 'normal';
  readonly term: number;
  readonly index: number;
  readonly data: Uint8Array;
}

export interface ConfEntry {
  readonly kind: 'conf';
  readonly term: number;
  readonly index: number;
  readonly change: ConfChange;
  readonly data: Uint8Array;
}

export type Entry = NormalEntry | ConfEntry;

/** What must survive a crash besides the log: the current term, the vote cast in it, and commit. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The membership as of `index`. */
  readonly conf: ConfState;
  /** Byte length and CRC-32 of `data`, checked after the last chunk arrives. */
  readonly size: number;
  readonly checksum: number;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export interface SnapshotChunk {
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export type MessageType =
  | 'app'
  | 'appResp'
  | 'vote'
  | 'voteResp'
  | 'preVote'
  | 'preVoteResp'
  | 'heartbeat'
  | 'heartbeatResp'
  | 'snap'
  | 'snapResp'
  | 'prop'
  | 'readIndex'
  | 'readIndexResp'
  | 'transferLeader'
  | 'timeoutNow';

/**
 * One wire message. A single flat shape (rather than one interface per type) keeps encoders and
 * the validator simple; fields a type does not use are zero/empty.
 *
 * Field use by type:
 * - app: index/logTerm = the entry preceding `entries`; commit = leader's commit.
 * - appResp: index = last index matched (or, rejected, the probed index); rejectHint/logTerm = hint.
 * - vote/preVote: index/logTerm = candidate's last entry; context 'transfer' skips the lease.
 * - heartbeat: commit; context carries a ReadIndex round. heartbeatResp echoes context.
 * - snap: snapshot = one chunk. snapResp: index = snapshot index, rejectHint = next offset wanted.
 * - readIndex: context = request id; readIndexResp: index = read index.
 * - transferLeader: index = the transferee.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly context: string;
  readonly snapshot: SnapshotChunk | undefined;
}

/** A linearizable read that can be served once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * One batch of work for the application. Handle it in this order, then call `advance()`:
 * 1. persist `snapshot` (if any), then `entries`, then `hardState` — and fsync if `mustSync`;
 * 2. send `messages` (never before step 1: a follower's acknowledgement and a vote promise
 *    durability) — except those for which `sendableBeforePersist` holds, which may leave first;
 * 3. apply `snapshot` and then `committedEntries` to the state machine; serve `readStates` once
 *    their index is applied.
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  readonly mustSync: boolean;
}

export type RejectReason =
  | 'malformed'
  | 'oversized'
  | 'wrongRecipient'
  | 'unknownMember'
  | 'staleTerm'
  | 'badSnapshot'
  | 'confChangePending'
  | 'invalidConfChange'
  | 'droppedProposal';

/** Builds a message with every unused field zeroed. */
export function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: '',
    snapshot: undefined,
    ...fields,
  };
}

export function entrySize(e: Entry): number {
  // A fixed overhead keeps empty entries from being free for flow control.
  return e.data.byteLength + 16;
}

export function entriesSize(es: readonly Entry[]): number {
  let n = 0;
  for (const e of es) n += entrySize(e);
  return n;
}

/**
 * Whether a message may be sent before the Ready carrying it is persisted. Only what a leader
 * sends to followers qualifies: it promises nothing about the leader's own disk, because the
 * leader counts its own copy of an entry toward commit only after advance() (so any commit index
 * it sends counts persisted copies only). Sending appends while the leader's fsync runs overlaps
 * the leader's and the followers' disk writes (Raft thesis, §10.2.1).
 */
export function sendableBeforePersist(m: Message): boolean {
  return m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeoutNow';
}
