import type { Entry, Message, MessageType, RejectReason, SnapshotMeta } from './types.js';

const types = new Set<MessageType>([
  'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp',
  'snap', 'snapResp', 'prop', 'readIndex', 'readIndexResp', 'transferLeader', 'timeoutNow',
]);

export interface Invalid {
  readonly reason: RejectReason;
  readonly detail: string;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isId(v: unknown): v is number {
  return isCount(v) && v > 0;
}

function idList(v: unknown): boolean {
  return Array.isArray(v) && v.every(isId);
}

function checkEntry(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return 'entry is not an object';
  const r = e as Record<string, unknown>;
  if (!isCount(r['term']) || !isCount(r['index'])) return 'entry term/index';
  if (!(r['data'] instanceof Uint8Array)) return 'entry data is not bytes';
  if (r['kind'] === 'normal') return undefined;
  if (r['kind'] !== 'conf') return 'entry kind';
  const cc = r['change'] as Record<string, unknown> | undefined;
  if (typeof cc !== 'object' || cc === null) return 'conf entry without change';
  if (!isId(cc['node'])) return 'conf change node';
  if (cc['type'] !== 'addVoter' && cc['type'] !== 'addLearner' && cc['type'] !== 'removeNode') return 'conf change type';
  return undefined;
}

function checkMeta(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return 'snapshot meta';
  const r = m as Record<string, unknown>;
  if (!isCount(r['index']) || !isCount(r['term']) || !isCount(r['size']) || !isCount(r['checksum'])) return 'snapshot meta numbers';
  const conf = r['conf'] as Record<string, unknown> | undefined;
  if (typeof conf !== 'object' || conf === null || !idList(conf['voters']) || !idList(conf['learners'])) return 'snapshot conf';
  return undefined;
}

/**
 * Checks that a message received from the network has the shape and bounds the core relies on.
 * The core is then free to trust field types; semantic checks (terms, membership) come later.
 */
export function validateMessage(input: unknown, maxBytes: number): Invalid | undefined {
  const bad = (detail: string): Invalid => ({ reason: 'malformed', detail });
  if (typeof input !== 'object' || input === null) return bad('not an object');
  const m = input as Record<string, unknown>;
  if (!types.has(m['type'] as MessageType)) return bad(`unknown type ${String(m['type'])}`);
  for (const f of ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    if (!isCount(m[f])) return bad(`field ${f}`);
  }
  if (!isId(m['from']) || !isId(m['to'])) return bad('from/to');
  if (typeof m['reject'] !== 'boolean') return bad('reject');
  if (typeof m['context'] !== 'string') return bad('context');
  if (m['context'].length > 1024) return { reason: 'oversized', detail: 'context longer than 1024' };
  const entries = m['entries'];
  if (!Array.isArray(entries)) return bad('entries');
  let bytes = 0;
  const msg = input as Message;
  for (const e of entries as unknown[]) {
    const problem = checkEntry(e);
    if (problem !== undefined) return bad(problem);
    bytes += (e as Entry).data.byteLength;
  }
  if (msg.type === 'app') {
    let expect = msg.index + 1;
    let prevTerm = msg.logTerm;
    for (const e of msg.entries) {
      if (e.index !== expect) return bad('entries are not contiguous after index');
      if (e.term < prevTerm || e.term > msg.term) return bad('entry terms out of order');
      expect++;
      prevTerm = e.term;
    }
  } else if (msg.type !== 'prop' && msg.entries.length > 0) {
    return bad(`${msg.type} carries entries`);
  }
  const snap = m['snapshot'];
  if (msg.type === 'snap') {
    if (typeof snap !== 'object' || snap === null) return bad('snap without chunk');
    const c = snap as Record<string, unknown>;
    const metaProblem = checkMeta(c['meta']);
    if (metaProblem !== undefined) return bad(metaProblem);
    if (!isCount(c['offset']) || !(c['data'] instanceof Uint8Array)) return bad('snapshot chunk');
    const meta = c['meta'] as SnapshotMeta;
    if (c['offset'] + c['data'].byteLength > meta.size) return bad('chunk beyond snapshot size');
    if (meta.term > msg.term) return bad('snapshot from a future term');
    bytes += c['data'].byteLength;
  } else if (snap !== undefined) {
    return bad(`${msg.type} carries a snapshot`);
  }
  if (bytes > maxBytes) return { reason: 'oversized', detail: `${bytes} bytes > ${maxBytes}` };
  return undefined;
}
