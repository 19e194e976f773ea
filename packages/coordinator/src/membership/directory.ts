import type { Endpoint, NodeId } from 'raft-ts';

/**
 * What the cluster knows of one coordinator besides its Raft id: where to reach it, the name
 * `node promote`/`demote` know it by, and what the leader should make of it. Written to the Raft
 * log (so every member, and any member added later, learns it by replication).
 */
export interface MemberRecord {
  id: NodeId;
  host: string;
  port: number;
  name: string;
  /** The leader promotes this member to voter once it is caught up (false: a standby). */
  wantVoter: boolean;
  /** On its way out: it stops serving the API when it applies this, before it is removed. */
  leaving: boolean;
}

/** Checks a record read from the log or the wire; undefined if it is not one. */
export function asMemberRecord(input: unknown): MemberRecord | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const r = input as Record<string, unknown>;
  const ok =
    typeof r.id === 'number' &&
    Number.isSafeInteger(r.id) &&
    r.id > 0 &&
    typeof r.host === 'string' &&
    /^[A-Za-z0-9.-]{1,253}$/.test(r.host) &&
    typeof r.port === 'number' &&
    Number.isInteger(r.port) &&
    r.port >= 1 &&
    r.port <= 65535 &&
    typeof r.name === 'string' &&
    r.name.length >= 1 &&
    r.name.length <= 128 &&
    typeof r.wantVoter === 'boolean' &&
    typeof r.leaving === 'boolean';
  return ok ? { id: r.id as number, host: r.host as string, port: r.port as number, name: r.name as string, wantVoter: r.wantVoter as boolean, leaving: r.leaving as boolean } : undefined;
}

/**
 * Every coordinator's record, as applied from the log, over the endpoints the process was
 * started with (a founding member's --peers are not in the log). The Raft transport reads its
 * peers from `endpoints`, so a member added by the log becomes reachable the moment it applies.
 */
export class MemberDirectory {
  readonly #records = new Map<NodeId, MemberRecord>();
  /** The transport's view: kept up to date in place. */
  readonly endpoints: Map<NodeId, Endpoint>;
  #listener: ((r: MemberRecord) => void) | undefined;

  constructor(initial: ReadonlyMap<NodeId, Endpoint>) {
    this.endpoints = new Map(initial);
  }

  onChange(listener: (r: MemberRecord) => void): void {
    this.#listener = listener;
  }

  apply(record: MemberRecord): void {
    this.#records.set(record.id, record);
    this.endpoints.set(record.id, { host: record.host, port: record.port });
    this.#listener?.(record);
  }

  /** Endpoints learnt outside the log (a join reply): only fills gaps, never overrides the log. */
  learn(id: NodeId, ep: Endpoint): void {
    if (!this.#records.has(id)) this.endpoints.set(id, ep);
  }

  /** The records applied from the log, by id: what a snapshot must carry. */
  records(): MemberRecord[] {
    return [...this.#records.values()].sort((a, b) => a.id - b.id);
  }

  get(id: NodeId): MemberRecord | undefined {
    return this.#records.get(id);
  }

  /** The record, or one made up from the endpoint a founding member was started with. */
  describe(id: NodeId): MemberRecord | undefined {
    const r = this.#records.get(id);
    if (r) return r;
    const ep = this.endpoints.get(id);
    return ep ? { id, host: ep.host, port: ep.port, name: `coordinator-${id}`, wantVoter: true, leaving: false } : undefined;
  }

  /** A member by its id ("4") or its name. */
  find(ref: string): MemberRecord | undefined {
    if (/^\d+$/.test(ref)) {
      const byId = this.describe(Number(ref));
      if (byId) return byId;
    }
    for (const id of this.endpoints.keys()) {
      const r = this.describe(id);
      if (r?.name === ref) return r;
    }
    return undefined;
  }

  list(): MemberRecord[] {
    return [...this.endpoints.keys()].sort((a, b) => a - b).flatMap((id) => this.describe(id) ?? []);
  }
}
