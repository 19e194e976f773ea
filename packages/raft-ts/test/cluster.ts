// A synchronous in-process cluster for interaction tests: every message is delivered at once
// unless a link is cut, so a test reads as a sequence of protocol events.
import { MemoryStorage, RaftNode, SeededRng, bootstrap } from 'raft-ts';
import type { Entry, HardState, Message, NodeId, RaftOptions, ReadState } from 'raft-ts';

export interface Member {
  readonly id: NodeId;
  node: RaftNode;
  readonly storage: MemoryStorage;
  readonly applied: Entry[];
  readonly reads: ReadState[];
}

export interface MemberSetup {
  readonly entries?: readonly { term: number }[];
  readonly hardState?: HardState;
  readonly voters?: readonly NodeId[];
  readonly learners?: readonly NodeId[];
}

export function entry(index: number, term: number, data = ''): Entry {
  return { kind: 'normal', index, term, data: new TextEncoder().encode(data) };
}

export function text(e: Entry): string {
  return new TextDecoder().decode(e.data);
}

export class Cluster {
  readonly members = new Map<NodeId, Member>();
  /** Messages on cut links are dropped; `${from}->${to}`. */
  readonly cut = new Set<string>();
  readonly delivered: Message[] = [];
  /** If set, decides per message whether to drop it. */
  dropIf: ((m: Message) => boolean) | undefined;
  /** If set, may rewrite a message in flight (undefined drops it). */
  intercept: ((m: Message) => Message | undefined) | undefined;

  constructor(
    ids: readonly NodeId[],
    readonly options: Partial<RaftOptions> = {},
    setup: Partial<Record<NodeId, MemberSetup>> = {},
  ) {
    for (const id of ids) {
      const s = setup[id] ?? {};
      const storage = new MemoryStorage({ voters: s.voters ?? ids, learners: s.learners ?? [] });
      if (s.entries !== undefined) storage.append(s.entries.map((e, i) => entry(i + 1, e.term)));
      if (s.hardState !== undefined) storage.setHardState(s.hardState);
      this.add(id, storage);
    }
  }

  /** A cluster whose membership is in the log (as a real one is), so members can join later. */
  static bootstrapped(ids: readonly NodeId[], options: Partial<RaftOptions> = {}): Cluster {
    const c = new Cluster([], options);
    for (const id of ids) {
      const storage = new MemoryStorage();
      bootstrap(storage, ids);
      c.add(id, storage);
    }
    return c;
  }

  add(id: NodeId, storage: MemoryStorage): Member {
    const node = new RaftNode({ id, storage, rng: new SeededRng(id * 7919), ...this.options });
    const m: Member = { id, node, storage, applied: [], reads: [] };
    this.members.set(id, m);
    return m;
  }

  get(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /** Restarts a member from its storage, as after a crash. */
  restart(id: NodeId): void {
    const m = this.get(id);
    const applied = m.storage.snapshot().meta.index;
    m.node = new RaftNode({ id, storage: m.storage, rng: new SeededRng(id * 31), applied, ...this.options });
    m.applied.length = 0;
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
    this.dropIf = undefined;
    this.intercept = undefined;
  }

  /** Handles each member's Ready batches and delivers messages until nothing moves. */
  stabilize(limit = 10_000): void {
    for (let round = 0; round < limit; round++) {
      const outbox: Message[] = [];
      for (const m of this.members.values()) outbox.push(...this.drain(m));
      if (outbox.length === 0) return;
      for (const msg of outbox) this.deliver(msg);
    }
    throw new Error('cluster did not stabilize');
  }

  deliver(original: Message): void {
    if (this.cut.has(`${original.from}->${original.to}`) || this.dropIf?.(original) === true) return;
    const msg = this.intercept === undefined ? original : this.intercept(original);
    if (msg === undefined) return;
    const to = this.members.get(msg.to);
    if (to === undefined) return;
    this.delivered.push(msg);
    to.node.step(msg);
  }

  /** Processes one member's Ready and returns the messages it wants sent. */
  drain(m: Member): Message[] {
    const out: Message[] = [];
    while (m.node.hasReady()) {
      const rd = m.node.ready();
      if (rd.snapshot !== undefined) m.storage.applySnapshot(rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
      out.push(...rd.messages);
      m.applied.push(...rd.committedEntries);
      m.reads.push(...rd.readStates);
      m.node.advance();
    }
    return out;
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.stabilize();
    }
  }

  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leader(): NodeId | undefined {
    for (const m of this.members.values()) if (m.node.status().role === 'leader') return m.id;
    return undefined;
  }

  propose(id: NodeId, data: string): void {
    this.node(id).propose(new TextEncoder().encode(data));
    this.stabilize();
  }

  appliedText(id: NodeId): string[] {
    return this.get(id).applied.filter((e) => e.data.byteLength > 0).map(text);
  }
}
