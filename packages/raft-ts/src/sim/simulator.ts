import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '../core/node.js';
import { SeededRng } from '../core/rng.js';
import type { ConfChange, Entry, HardState, Message, NodeId, Ready } from '../core/types.js';
import { sendableBeforePersist } from '../core/types.js';
import { bootstrap } from '../storage/bootstrap.js';
import { FileStorage } from '../storage/file.js';
import { MemoryStorage } from '../storage/memory.js';
import type { Storage, StorageWriter } from '../storage/storage.js';
import type { HistoryOp } from './history.js';
import { InvariantViolation, Invariants, type LogView } from './invariants.js';
import { checkLinearizable } from './linearizability.js';
import { SimNetwork } from './network.js';
import { KvStateMachine, decodeOp, encodeOp, type KvOp } from './state-machine.js';

export interface SimConfig {
  readonly seed: number;
  /** Number of voters (3 or 5 in CI). */
  readonly size: number;
  /** Ticks of faults before the network heals. */
  readonly chaosTicks?: number;
  /** After healing: ticks within which a leader must emerge and every pending operation finish. */
  readonly livenessTicks?: number;
  readonly clients?: number;
  /**
   * Serve gets from the contacted member's local state instead of through ReadIndex. Not
   * linearizable: it exists so that tests can show the checker catching stale reads.
   */
  readonly unsafeLocalReads?: boolean;
  /**
   * 'file' runs every member on the WAL (FileStorage, in a temporary directory). A crash then
   * tears the open segment at a random point after the last sync, as a power cut would.
   */
  readonly storage?: 'memory' | 'file';
  /** Called with progress lines (for a replay by hand); silent when absent. */
  readonly trace?: (line: string) => void;
}

export interface SimStats {
  ticks: number;
  messages: number;
  dropped: number;
  crashes: number;
  partitions: number;
  transfers: number;
  confChanges: number;
  maxTerm: number;
  committed: number;
  opsCompleted: number;
  snapshotsInstalled: number;
  rejected: number;
  tornTails: number;
}

export interface SimReport {
  readonly seed: number;
  readonly size: number;
  readonly ok: boolean;
  /** What failed, with the seed, so that the run replays with runSimulation({ seed, size }). */
  readonly failure: string | undefined;
  readonly stats: SimStats;
  readonly history: readonly HistoryOp[];
}

const SUBTICKS = 10;
const ELECTION_TICK = 10;
const KEYS = ['a', 'b', 'c'];
const CLIENT_TIMEOUT = 3 * ELECTION_TICK * SUBTICKS;

type SimStorage = Storage & StorageWriter & { hardState(): HardState };

interface Member {
  readonly id: NodeId;
  storage: SimStorage;
  /** FileStorage only: how far the open segment was written at the last sync. */
  synced: { segment: number; size: number } | undefined;
  node: RaftNode | undefined;
  sm: KvStateMachine;
  /** Ticks every `period` sub-ticks: members' clocks run at different rates. */
  readonly period: number;
  readonly phase: number;
  waitingReads: { index: number; context: string }[];
  /** Stopped for good because the cluster removed it (until it is added back). */
  retired: boolean;
  /** A Ready whose write is in flight, and the sub-tick it completes. */
  writing: { rd: Ready; doneAt: number } | undefined;
  /** Term of the entry at sm.applied: a snapshot may be taken there only once storage holds that entry. */
  appliedTerm: number;
}

interface Client {
  readonly id: number;
  seq: number;
  target: NodeId;
  op: KvOp | undefined;
  record: HistoryOp | undefined;
  sentAt: number;
}

function viewOf(m: Member, node: RaftNode): LogView {
  const st = node.status();
  return {
    id: m.id,
    firstIndex: st.firstIndex,
    lastIndex: st.lastIndex,
    term: (i) => node.term(i),
    entry: (i) => node.entries(i, i + 1)[0],
  };
}

/**
 * A deterministic simulation of a cluster under faults. Every choice comes from one seeded RNG,
 * so a seed replays exactly. It runs a chaos phase (loss, duplication, reordering, delay,
 * partitions, crashes that lose unpersisted state, leadership transfers, members ticking at
 * different rates), heals, and then demands liveness. Safety is checked after every sub-tick.
 */
export class Simulation {
  private readonly rng: SeededRng;
  private readonly net: SimNetwork;
  private readonly inv = new Invariants();
  private readonly members = new Map<NodeId, Member>();
  private readonly ids: NodeId[];
  private readonly clients: Client[] = [];
  private readonly history: HistoryOp[] = [];
  private now = 0;
  private chaos = true;
  private readonly snapshotEvery: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  readonly stats: SimStats = {
    ticks: 0, messages: 0, dropped: 0, crashes: 0, partitions: 0, transfers: 0, confChanges: 0,
    maxTerm: 0, committed: 0, opsCompleted: 0, snapshotsInstalled: 0, rejected: 0, tornTails: 0,
  };

  constructor(private readonly config: SimConfig) {
    this.rng = new SeededRng(config.seed);
    this.net = new SimNetwork(this.rng, { loss: 0.05, duplicate: 0.03, maxDelay: 2 * SUBTICKS });
    // One spare id beyond the initial voters, for membership changes.
    this.ids = Array.from({ length: config.size + 1 }, (_, i) => i + 1);
    const voters = this.ids.slice(0, config.size);
    this.snapshotEvery = 5 + this.rng.int(25);
    this.preVote = this.rng.chance(0.75);
    this.checkQuorum = this.rng.chance(0.75);
    if (config.storage === 'file') this.root = fs.mkdtempSync(join(tmpdir(), `raft-sim-${config.seed}-`));
    for (const id of this.ids) {
      const storage = this.openStorage(id);
      const spare = !voters.includes(id);
      if (!spare) bootstrap(storage, voters);
      const m: Member = {
        id,
        storage,
        node: undefined,
        sm: new KvStateMachine(),
        period: SUBTICKS - 2 + this.rng.int(5),
        phase: this.rng.int(SUBTICKS),
        waitingReads: [],
        retired: spare,
        writing: undefined,
        appliedTerm: 0,
        // The bootstrap is synced before the member first starts.
        synced: storage instanceof FileStorage ? storage.tail() : undefined,
      };
      this.members.set(id, m);
      if (!spare) this.start(m);
    }
    for (let c = 1; c <= (config.clients ?? 3); c++) {
      this.clients.push({ id: c, seq: 0, target: this.pick(voters), op: undefined, record: undefined, sentAt: 0 });
    }
  }

  private readonly root: string | undefined;

  private openStorage(id: NodeId): SimStorage {
    if (this.root === undefined) return new MemoryStorage();
    const { storage, report } = FileStorage.open(join(this.root, String(id)), { fsync: false, segmentBytes: 4096 });
    if (report.tornTail !== undefined) this.stats.tornTails++;
    return storage;
  }

  /** A power cut: the open segment keeps what was synced plus a random part of the rest. */
  private tear(m: Member): void {
    const s = m.storage;
    if (!(s instanceof FileStorage)) return;
    const tail = s.tail();
    const path = s.tailPath();
    s.close();
    // close() flushed what was buffered: whatever is beyond the last sync may or may not survive.
    const size = fs.statSync(path).size;
    const from = Math.min(m.synced?.segment === tail.segment ? m.synced.size : 0, size);
    fs.truncateSync(path, from + this.rng.int(size - from + 1));
    m.storage = this.openStorage(m.id);
    // What survived the cut is on disk now.
    m.synced = m.storage instanceof FileStorage ? m.storage.tail() : undefined;
  }

  private trace(line: string): void {
    this.config.trace?.(`[${this.now}] ${line}`);
  }

  private pick<T>(xs: readonly T[]): T {
    const x = xs[this.rng.int(xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }

  private start(m: Member): void {
    m.sm = KvStateMachine.restore(m.storage.snapshot().data);
    m.appliedTerm = m.storage.snapshot().meta.term;
    m.waitingReads = [];
    m.node = new RaftNode({
      id: m.id,
      storage: m.storage,
      rng: new SeededRng(this.rng.int(2 ** 31)),
      electionTick: ELECTION_TICK,
      heartbeatTick: 1,
      applied: m.sm.applied,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      maxSizePerMsg: 512,
      maxInflightMsgs: 4,
      maxInflightBytes: 4096,
      snapshotChunkBytes: 64,
      promotionLag: 4,
    });
  }

  private crash(m: Member, why: string): void {
    if (m.node === undefined) return;
    this.stats.rejected += [...m.node.rejections().values()].reduce((a, b) => a + b, 0);
    m.node = undefined;
    m.writing = undefined;
    this.tear(m);
    m.waitingReads = [];
    this.inv.forgetCommitCursor(m.id);
    this.stats.crashes++;
    this.trace(`crash ${m.id} (${why})`);
  }

  private up(): Member[] {
    return [...this.members.values()].filter((m) => m.node !== undefined);
  }

  private leaders(): { m: Member; node: RaftNode; term: number }[] {
    const out: { m: Member; node: RaftNode; term: number }[] = [];
    for (const m of this.members.values()) {
      const st = m.node?.status();
      if (m.node !== undefined && st?.role === 'leader') out.push({ m, node: m.node, term: st.term });
    }
    return out;
  }

  // ------------------------------------------------------------ faults

  private injectFaults(): void {
    const r = this.rng;
    if (r.chance(0.002)) {
      const victims = this.up();
      if (victims.length > 0) this.crash(this.pick(victims), 'injected');
    }
    for (const m of this.members.values()) {
      if (m.node === undefined && !m.retired && r.chance(0.005)) {
        this.start(m);
        this.trace(`restart ${m.id}`);
      }
    }
    if (r.chance(0.002)) {
      this.stats.partitions++;
      const kind = r.int(3);
      if (kind === 0) {
        const shuffled = [...this.ids].sort(() => r.next() - 0.5);
        const cut = 1 + r.int(this.ids.length - 1);
        this.net.split(shuffled.slice(0, cut), shuffled.slice(cut));
        this.trace(`partition ${shuffled.slice(0, cut).join(',')} | ${shuffled.slice(cut).join(',')}`);
      } else if (kind === 1) {
        const leader = this.leaders()[0];
        const victim = leader?.m.id ?? this.pick(this.ids);
        this.net.isolate(victim, this.ids);
        this.trace(`isolate ${victim}`);
      } else {
        const a = this.pick(this.ids);
        const b = this.pick(this.ids.filter((x) => x !== a));
        this.net.cut.add(`${a}->${b}`);
        this.trace(`cut ${a}->${b} (asymmetric)`);
      }
    }
    if (r.chance(0.004)) {
      this.net.heal();
      this.trace('heal partitions');
    }
    if (r.chance(0.002)) this.changeMembership();
    if (r.chance(0.001)) {
      const leader = this.leaders()[0];
      if (leader !== undefined) {
        const voters = leader.node.status().conf.voters.filter((x) => x !== leader.m.id);
        if (voters.length === 0) return;
        const to = this.pick(voters);
        leader.node.transferLeader(to);
        this.stats.transfers++;
        this.trace(`transfer ${leader.m.id} -> ${to}`);
      }
    }
    if (r.chance(0.002)) {
      this.net.faults = { loss: r.int(4) * 0.05, duplicate: r.int(3) * 0.03, maxDelay: 1 + r.int(3 * SUBTICKS) };
    }
  }

  /** Latest membership action per id, by log index: a removal applied late must not undo a re-add. */
  private readonly lastMembershipAction = new Map<NodeId, number>();

  /** Every configuration ever appended, for judging durability against the committing one. */
  private readonly proposedConfs: { index: number; voters: readonly NodeId[] }[] = [];

  private changeMembership(): void {
    const leader = this.leaders().sort((a, b) => b.term - a.term)[0];
    if (leader === undefined) return;
    const conf = leader.node.status().conf;
    const outsiders = this.ids.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
    const choices: ConfChange[] = [];
    for (const id of outsiders) choices.push({ type: 'addLearner', node: id });
    for (const id of conf.learners) choices.push({ type: 'addVoter', node: id });
    if (conf.voters.length >= this.config.size) for (const id of conf.voters) choices.push({ type: 'removeNode', node: id });
    if (choices.length === 0) return;
    const cc = this.pick(choices);
    const r = leader.node.proposeConfChange(cc);
    if (r.status !== 'appended') return;
    this.stats.confChanges++;
    this.proposedConfs.push({ index: r.index, voters: leader.node.status().conf.voters });
    this.trace(`propose ${cc.type} ${cc.node} at ${r.index} on ${leader.m.id}`);
    if (cc.type === 'addLearner') {
      this.lastMembershipAction.set(cc.node, r.index);
      const m = this.members.get(cc.node);
      if (m !== undefined && m.retired) {
        m.retired = false;
        if (m.node === undefined) this.start(m);
      }
    }
  }

  /** A member whose removal committed is shut down, as an operator would. */
  private onRemovalApplied(node: NodeId, index: number): void {
    if ((this.lastMembershipAction.get(node) ?? 0) > index) return;
    this.lastMembershipAction.set(node, index);
    const m = this.members.get(node);
    if (m === undefined || m.retired) return;
    m.retired = true;
    if (m.node !== undefined) {
      this.crash(m, 'removed from the cluster');
      this.stats.crashes--;
    }
  }

  // ------------------------------------------------------------ clients

  private clientsStep(): void {
    for (const c of this.clients) {
      if (c.op === undefined) {
        if (!this.rng.chance(0.05)) continue;
        const kindRoll = this.rng.int(10);
        const key = this.pick(KEYS);
        c.seq++;
        const value = `${c.id}.${c.seq}`;
        const op: KvOp =
          kindRoll < 4
            ? { client: c.id, seq: c.seq, kind: 'put', key, value, expect: '' }
            : kindRoll < 8
              ? { client: c.id, seq: c.seq, kind: 'get', key, value: '', expect: '' }
              : { client: c.id, seq: c.seq, kind: 'cas', key, value, expect: this.rng.chance(0.3) ? '' : `${this.pick(this.clients).id}.${this.rng.int(c.seq + 1)}` };
        c.op = op;
        c.record = { client: c.id, kind: op.kind, key, value: op.value, expect: op.expect, call: this.now, ret: undefined, ok: false, output: '' };
        this.history.push(c.record);
        this.sendOp(c);
      } else if (this.now - c.sentAt > CLIENT_TIMEOUT) {
        // Timed out: the operation may or may not have happened; retry elsewhere (deduplicated).
        c.target = this.pick(this.ids);
        this.sendOp(c);
      }
    }
  }

  private sendOp(c: Client, redirected = false): void {
    const op = c.op;
    if (op === undefined) return;
    c.sentAt = this.now;
    const retrySoon = this.now - CLIENT_TIMEOUT + SUBTICKS;
    const node = this.members.get(c.target)?.node;
    if (node === undefined) {
      // Connection refused: try another member a tick from now rather than waiting out a timeout.
      c.sentAt = retrySoon;
      return;
    }
    const member = this.members.get(c.target);
    if (op.kind === 'get' && this.config.unsafeLocalReads === true && member !== undefined) {
      this.complete(c.id, op.seq, true, member.sm.kv.get(op.key) ?? '');
      return;
    }
    const result = op.kind === 'get' ? node.readIndex(`${c.id}:${op.seq}`) : node.propose(encodeOp(op));
    if (result.status === 'refused') {
      c.sentAt = retrySoon;
      // Follow the hint at once (once: the hint may be stale).
      if (result.leader !== 0 && result.leader !== c.target && !redirected) {
        c.target = result.leader;
        this.sendOp(c, true);
      }
    }
  }

  private complete(clientId: number, seq: number, ok: boolean, output: string): void {
    const c = this.clients.find((x) => x.id === clientId);
    if (c?.op === undefined || c.op.seq !== seq || c.record === undefined) return;
    c.record.ret = this.now;
    c.record.ok = ok;
    c.record.output = output;
    c.op = undefined;
    c.record = undefined;
    this.stats.opsCompleted++;
  }

  // ------------------------------------------------------------ members

  /**
   * Starts handling a Ready as the driver does: a leader's appends leave at once, and the write
   * completes some sub-ticks later, while the member keeps receiving messages and ticking.
   */
  private beginReady(m: Member, rd: Ready): void {
    for (const msg of rd.messages) if (sendableBeforePersist(msg)) this.net.send(this.now, msg);
    // Mostly quick, sometimes as slow as a network round trip or more (a slow disk).
    m.writing = { rd, doneAt: this.now + this.rng.int(this.rng.chance(0.2) ? 3 * SUBTICKS : 3) };
    // Committed entries are applied before the write completes, as the driver does (they are
    // durable on a quorum); entries that commit while it runs are taken in processReadies.
    // (Applying a removal may stop this member, which drops the write.)
    if (rd.snapshot === undefined) this.applyCommitted(m, rd.committedEntries);
  }

  private handleReady(m: Member, node: RaftNode, rd: Ready): boolean {
    // Crash before the batch is durable: everything in it is lost, as if never fsynced.
    if (this.chaos && this.rng.chance(0.001)) {
      this.crash(m, 'before persisting a ready');
      return false;
    }
    if (rd.snapshot !== undefined) m.storage.applySnapshot(rd.snapshot);
    this.inv.observePersisted(m.id, rd.entries, (i) => m.storage.term(i));
    m.storage.append(rd.entries);
    if (rd.hardState !== undefined) m.storage.setHardState(rd.hardState);
    if (rd.mustSync && m.storage instanceof FileStorage) m.synced = m.storage.tail();
    if (this.chaos && this.rng.chance(0.0005)) {
      this.crash(m, 'after persisting, before sending');
      return false;
    }
    for (const msg of rd.messages) if (!sendableBeforePersist(msg)) this.net.send(this.now, msg);
    if (rd.snapshot !== undefined) {
      m.sm = KvStateMachine.restore(rd.snapshot.data);
      this.stats.snapshotsInstalled++;
      if (m.sm.applied !== rd.snapshot.meta.index) {
        throw new InvariantViolation(`snapshot at ${rd.snapshot.meta.index} holds state applied to ${m.sm.applied}`);
      }
      this.inv.observeApplied(m.id, m.sm.applied, m.sm.digest);
    }
    if (rd.snapshot !== undefined) m.appliedTerm = rd.snapshot.meta.term;
    const removals = rd.snapshot !== undefined ? this.applyEntries(m, rd.committedEntries) : [];
    m.waitingReads.push(...rd.readStates);
    node.advance();
    this.serveReads(m);
    this.maybeSnapshot(m, node);
    for (const [id, index] of removals) this.onRemovalApplied(id, index);
    return m.node !== undefined;
  }

  private applyEntries(m: Member, entries: readonly Entry[]): [NodeId, number][] {
    const removals: [NodeId, number][] = [];
    for (const e of entries) {
      const result = m.sm.apply(e);
      m.appliedTerm = e.term;
      this.inv.observeApplied(m.id, e.index, m.sm.digest);
      if (e.kind === 'conf' && e.change.type === 'removeNode') removals.push([e.change.node, e.index]);
      if (e.kind === 'normal' && result !== undefined) {
        const op = decodeOp(e.data);
        if (op !== undefined) this.complete(op.client, op.seq, result.ok, result.value);
      }
    }
    return removals;
  }

  /** Applies committed entries outside handleReady (before or while a write is in flight). */
  private applyCommitted(m: Member, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const removals = this.applyEntries(m, entries);
    this.serveReads(m);
    for (const [id, index] of removals) this.onRemovalApplied(id, index);
  }

  private serveReads(m: Member): void {
    const still: { index: number; context: string }[] = [];
    for (const rs of m.waitingReads) {
      if (rs.index > m.sm.applied) {
        still.push(rs);
        continue;
      }
      const [client, seq] = rs.context.split(':').map(Number);
      const c = this.clients.find((x) => x.id === client);
      if (c?.op !== undefined && c.op.seq === seq && c.op.kind === 'get') this.complete(c.id, c.op.seq, true, m.sm.kv.get(c.op.key) ?? '');
    }
    m.waitingReads = still;
  }

  private maybeSnapshot(m: Member, node: RaftNode): void {
    const snapIndex = m.storage.snapshot().meta.index;
    if (m.sm.applied - snapIndex < this.snapshotEvery) return;
    // Applied ahead of the disk (entries taken while a write runs): wait until storage holds it.
    if (m.storage.term(m.sm.applied) !== m.appliedTerm) return;
    m.storage.createSnapshot(m.sm.applied, node.confStateAt(m.sm.applied), m.sm.serialize());
    // Keep a short tail so that slightly lagging followers still catch up from the log.
    const keep = this.rng.int(8);
    const compactTo = m.sm.applied - keep;
    if (compactTo >= m.storage.firstIndex()) m.storage.compact(compactTo);
  }

  private processReadies(): void {
    const order = this.up().sort(() => this.rng.next() - 0.5);
    for (const m of order) {
      for (let guard = 0; guard < 100; guard++) {
        const node = m.node;
        if (node === undefined) break;
        const w = m.writing;
        if (w !== undefined) {
          if (this.now < w.doneAt) {
            this.applyCommitted(m, node.takeCommitted());
            break;
          }
          m.writing = undefined;
          if (!this.handleReady(m, node, w.rd)) break;
          continue;
        }
        if (!node.hasReady()) break;
        this.beginReady(m, node.ready());
      }
    }
  }

  private deliver(msgs: readonly Message[]): void {
    for (const msg of msgs) this.members.get(msg.to)?.node?.step(msg);
  }

  // ------------------------------------------------------------ checks

  private check(): void {
    const up = this.up();
    for (const m of up) {
      const node = m.node;
      if (node === undefined) continue;
      const st = node.status();
      this.stats.maxTerm = Math.max(this.stats.maxTerm, st.term);
      const view = viewOf(m, node);
      this.inv.observeCommit(view, st.commit, st.term);
      if (st.role === 'leader') {
        this.inv.observeLeader(m.id, st.term);
        this.inv.checkLeaderCompleteness(view, st.term);
      }
    }
    if (this.now % 50 === 0) {
      this.inv.checkLogMatching(up.flatMap((m) => (m.node === undefined ? [] : [viewOf(m, m.node)])));
    }
  }

  /** Checks that every committed entry is still durable on a majority (or behind their snapshots). */
  private checkDurability(): void {
    const top = this.inv.maxCommitted;
    const term = this.inv.committedTermAt(top);
    // Read the configuration from a member that holds the committed entry itself.
    const witness = this.up().find((m) => m.node?.term(top) === term)?.node;
    if (top === 0 || term === undefined || witness === undefined) return;
    // A leader counts a commit against the latest configuration in its log: the one in force at
    // `top` or one appended after it (possibly known only to a member that crashed since).
    const later = this.proposedConfs.filter((c) => c.index > top).map((c) => c.voters);
    const confs = [witness.confStateAt(top).voters, ...later];
    const holds = (id: NodeId): boolean => {
      const s = this.members.get(id)?.storage;
      return s !== undefined && (s.snapshot().meta.index >= top || s.term(top) === term);
    };
    if (confs.some((voters) => voters.filter(holds).length >= Math.floor(voters.length / 2) + 1)) return;
    const where = confs.map((voters) => voters.map((id) => `${id}:${this.members.get(id)?.storage.term(top) ?? '-'}`).join(' ')).join(' / ');
    throw new InvariantViolation(`durability: committed ${top}@${term} is on no majority (${where})`);
  }

  private subtick(): void {
    this.now++;
    this.deliver(this.net.due(this.now));
    for (const m of this.members.values()) {
      if (m.node !== undefined && (this.now + m.phase) % m.period === 0) m.node.tick();
    }
    if (this.now % SUBTICKS === 0) this.stats.ticks++;
    if (this.chaos) this.injectFaults();
    this.clientsStep();
    this.processReadies();
    this.check();
    if (this.now % 25 === 0) this.checkDurability();
  }

  /** Members of the cluster as its latest leader sees it. */
  private currentMembers(): Member[] {
    const leaders = this.leaders();
    if (leaders.length === 0) return [];
    const top = leaders.reduce((a, b) => (b.term > a.term ? b : a));
    const conf = top.node.status().conf;
    return [...conf.voters, ...conf.learners].flatMap((id) => {
      const m = this.members.get(id);
      return m === undefined ? [] : [m];
    });
  }

  private agreedLeader(): NodeId | undefined {
    const leaders = this.leaders();
    if (leaders.length === 0) return undefined;
    const top = leaders.reduce((a, b) => (b.term > a.term ? b : a));
    for (const m of this.currentMembers()) {
      const st = m.node?.status();
      if (st?.leader !== top.m.id || st.term !== top.term) return undefined;
    }
    return top.m.id;
  }

  run(): SimReport {
    let failure: string | undefined;
    try {
      const chaosSubticks = (this.config.chaosTicks ?? 150) * SUBTICKS;
      while (this.now < chaosSubticks) this.subtick();
      // Heal: every member up, every link open, no loss, modest delays.
      this.chaos = false;
      this.net.heal();
      this.net.faults = { loss: 0, duplicate: 0, maxDelay: 3 };
      for (const m of this.members.values()) if (m.node === undefined && !m.retired) this.start(m);
      this.trace('healed');
      const deadline = this.now + (this.config.livenessTicks ?? 30 * ELECTION_TICK) * SUBTICKS;
      let leader: NodeId | undefined;
      while (this.now < deadline && (leader = this.agreedLeader()) === undefined) this.subtick();
      if (leader === undefined) throw new InvariantViolation(`liveness: no leader agreed on within the bound after healing`);
      this.trace(`leader ${leader} after healing`);
      // Every pending operation must finish, and a final write must reach every member.
      const marker = { client: 0, seq: 1, kind: 'put', key: 'z', value: 'end', expect: '' } as const;
      let markerIndex = 0;
      while (this.now < deadline) {
        const l = this.agreedLeader();
        if (markerIndex === 0 && l !== undefined) {
          const r = this.members.get(l)?.node?.propose(encodeOp(marker));
          if (r?.status === 'appended') markerIndex = r.index;
        }
        const pending = this.clients.some((c) => c.op !== undefined);
        const allApplied = markerIndex > 0 && this.currentMembers().every((m) => m.sm.applied >= markerIndex);
        if (!pending && allApplied) break;
        this.subtick();
      }
      const stuck = this.clients.filter((c) => c.op !== undefined).map((c) => `${c.id}:${c.op?.kind}#${c.op?.seq}`);
      if (stuck.length > 0) throw new InvariantViolation(`liveness: operations still pending after healing: ${stuck.join(' ')}`);
      if (markerIndex === 0 || !this.currentMembers().every((m) => m.sm.applied >= markerIndex)) {
        throw new InvariantViolation('liveness: a write after healing did not reach every member');
      }
      this.inv.checkLogMatching(this.up().flatMap((m) => (m.node === undefined ? [] : [viewOf(m, m.node)])));
      this.checkDurability();
      const lin = checkLinearizable(this.history);
      if (!lin.ok) throw new InvariantViolation(`linearizability: the history of key ${lin.key} has no linearization`);
    } catch (err) {
      // Anything thrown is a failure of this seed (an invariant, or the core or storage giving up).
      const what = err instanceof InvariantViolation ? err.message : `${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
      failure = `seed ${this.config.seed} (size ${this.config.size}) failed at sub-tick ${this.now}: ${what}`;
    }
    for (const m of this.up()) this.stats.rejected += [...(m.node?.rejections().values() ?? [])].reduce((a, b) => a + b, 0);
    if (this.root !== undefined) {
      for (const m of this.members.values()) if (m.storage instanceof FileStorage) m.storage.close();
      fs.rmSync(this.root, { recursive: true, force: true });
    }
    this.stats.messages = this.net.sent;
    this.stats.dropped = this.net.dropped;
    this.stats.committed = this.inv.maxCommitted;
    return { seed: this.config.seed, size: this.config.size, ok: failure === undefined, failure, stats: this.stats, history: this.history };
  }
}

export function runSimulation(config: SimConfig): SimReport {
  return new Simulation(config).run();
}
