import { ShoalError, apiRequest, decodeApiResponse, unwrapResponse } from '@shoal/core';
import { RaftError, type ConfChange, type NodeId, type Status } from 'raft-ts';
import type { Bus } from '../dispatcher/bus.js';
import { asMemberRecord, type MemberDirectory, type MemberRecord } from './directory.js';
import { checkJoin, planDemote, planPromote } from './plan.js';

/** What membership needs of its coordinator. */
export interface MembershipHost {
  readonly id: NodeId;
  readonly cluster: string;
  readonly bus: Bus;
  readonly directory: MemberDirectory;
  status(): Status;
  /** Commits a member record (every coordinator applies it to its directory). */
  proposeRecord(record: MemberRecord): Promise<void>;
  confChange(change: ConfChange): Promise<void>;
  /** Commits an empty entry; resolves with its index. */
  barrier(): Promise<number>;
  transferLeader(to: NodeId): void;
  /** Throws the refusal if `token` is not the cluster's current manager join token. */
  checkJoinToken(token: string | undefined): void;
  log?: ((msg: string, fields?: Record<string, unknown>) => void) | undefined;
}

export interface JoinRequest {
  kind: 'coordinator.join';
  id: NodeId;
  host: string;
  port: number;
  name: string;
  standby: boolean;
  /** The manager join token; a member already in the configuration (re-announcing itself) needs none. */
  token?: string;
}

export type JoinReply = { ok: true; members: { id: NodeId; host: string; port: number }[] } | { ok: false; error: { code: string; message: string; todo?: string } };

/** Where a joining coordinator asks; only the leader listens. */
export function joinSubject(cluster: string): string {
  return `shoal.${cluster}.leader.join`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** How long promote waits for a standby to catch up and become a voter. */
const PROMOTE_WAIT_MS = 30_000;

/**
 * Coordinators join and leave by Raft membership change, driven by the leader: it adds a joiner
 * as a learner (a standby: it copies the log but does not vote), promotes it to voter once it is
 * caught up (unless it joined as a standby), and demotes or removes members on request — one
 * change at a time, and never one that would leave the cluster unable to decide.
 */
export class Membership {
  #promoter: NodeJS.Timeout | undefined;
  #promoting = false;
  #unsubJoin: (() => void) | undefined;

  constructor(private readonly h: MembershipHost) {}

  /** While leading: take join requests and promote caught-up learners that want to vote. */
  lead(on: boolean): void {
    if (on && !this.#unsubJoin) {
      this.#unsubJoin = this.h.bus.subscribe(joinSubject(this.h.cluster), (m) => {
        void this.join(m.data).then((reply) => m.respond(enc.encode(JSON.stringify(reply))));
      });
      this.#promoter = setInterval(() => void this.promoteCaughtUp(), 250);
    }
    if (!on && this.#unsubJoin) {
      this.#unsubJoin();
      this.#unsubJoin = undefined;
      clearInterval(this.#promoter);
    }
  }

  private async join(data: Uint8Array): Promise<JoinReply> {
    try {
      let raw: unknown;
      try {
        raw = JSON.parse(dec.decode(data));
      } catch {
        throw new ShoalError('bad_message', 'the join request is not JSON');
      }
      const req = raw as Partial<JoinRequest>;
      const record = asMemberRecord({ id: req.id, host: req.host, port: req.port, name: req.name, wantVoter: req.standby === false, leaving: false });
      if (req.kind !== 'coordinator.join' || !record || typeof req.standby !== 'boolean') {
        throw new ShoalError('bad_message', 'the join request is malformed', 'send {kind, id, host, port, name, standby}');
      }
      const status = this.h.status();
      const existing = this.h.directory.get(record.id);
      const verdict = checkJoin(status.conf, existing ?? this.founding(record.id), record.id, record.host, record.port);
      const taken = this.h.directory.list().find((r) => r.name === record.name && r.id !== record.id);
      if (taken) throw new ShoalError('member_exists', `another coordinator (${taken.id}) is named ${record.name}`, 'give this one another --name');
      // only a newcomer proves it may join; a member announcing its name is in the configuration already
      if (verdict !== 'already') this.h.checkJoinToken(typeof req.token === 'string' ? req.token : undefined);
      if (verdict === 'already') {
        // a member announcing itself (a founder has no record yet, or a new --name): keep its role
        if (existing?.name !== record.name) await this.h.proposeRecord({ ...record, wantVoter: existing?.wantVoter ?? status.conf.voters.includes(record.id) });
      } else {
        this.h.log?.('adding a coordinator', { id: record.id, name: record.name, standby: req.standby });
        await this.h.proposeRecord(record);
        await this.change({ type: 'addLearner', node: record.id });
      }
      return { ok: true, members: this.h.directory.list().map((r) => ({ id: r.id, host: r.host, port: r.port })) };
    } catch (err) {
      const e = err instanceof ShoalError ? err : new ShoalError('internal', 'the leader failed to add the coordinator', 'see the leader log');
      if (!(err instanceof ShoalError)) this.h.log?.('join failed', { err: err instanceof Error ? err.message : String(err) });
      return { ok: false, error: { code: e.code, message: e.what, ...(e.todo ? { todo: e.todo } : {}) } };
    }
  }

  /** A founding member has no record in the log, only the endpoint it was started with. */
  private founding(id: NodeId): MemberRecord | undefined {
    const conf = this.h.status().conf;
    return conf.voters.includes(id) || conf.learners.includes(id) ? this.h.directory.describe(id) : undefined;
  }

  private async promoteCaughtUp(): Promise<void> {
    if (this.#promoting) return;
    this.#promoting = true;
    try {
      const status = this.h.status();
      if (status.role !== 'leader') return;
      for (const id of status.conf.learners) {
        const r = this.h.directory.get(id);
        if (!r?.wantVoter || r.leaving) continue;
        try {
          await this.change({ type: 'addVoter', node: id });
          this.h.log?.('promoted a coordinator to voter', { id });
        } catch (err) {
          // not caught up yet, or another change in flight: the next round tries again
          if (!(err instanceof ShoalError)) this.h.log?.('promotion failed', { id, err: err instanceof Error ? err.message : String(err) });
        }
        return;
      }
    } finally {
      this.#promoting = false;
    }
  }

  private async change(cc: ConfChange): Promise<void> {
    try {
      await this.h.confChange(cc);
    } catch (err) {
      if (err instanceof RaftError && (err.code === 'confChangePending' || err.code === 'leaderNotReady' || err.code === 'learnerNotCaughtUp' || err.code === 'transferring')) {
        throw new ShoalError('membership_busy', `the cluster cannot change its membership right now (${err.message})`, 'try again in a few seconds', { cause: err });
      }
      if (err instanceof RaftError && err.code === 'invalidConfChange') throw new ShoalError('bad_membership_change', err.message, 'see the members with shoal node ls', { cause: err });
      throw err;
    }
  }

  /** Makes a standby a voter; resolves once it votes. */
  async promote(target: MemberRecord): Promise<{ id: NodeId; role: 'voter'; changed: boolean }> {
    if (planPromote(this.h.status().conf, target.id) === 'already') {
      if (!this.h.directory.get(target.id)?.wantVoter && this.h.directory.get(target.id)) await this.h.proposeRecord({ ...target, wantVoter: true });
      return { id: target.id, role: 'voter', changed: false };
    }
    await this.h.proposeRecord({ ...target, wantVoter: true });
    const deadline = Date.now() + PROMOTE_WAIT_MS;
    while (!this.h.status().conf.voters.includes(target.id)) {
      if (Date.now() > deadline) {
        throw new ShoalError('not_caught_up', `coordinator ${target.id} has not caught up with the log yet`, 'it becomes a voter by itself once it has; check that its process runs');
      }
      await sleep(100);
    }
    return { id: target.id, role: 'voter', changed: true };
  }

  /** Who is up: the voters that acknowledge a fresh entry within a moment (and this leader). */
  async healthy(): Promise<Set<NodeId>> {
    const index = await this.h.barrier();
    const deadline = Date.now() + 1500;
    const up = new Set<NodeId>([this.h.id]);
    for (;;) {
      for (const p of this.h.status().progress) if (p.match >= index) up.add(p.id);
      if (up.size >= this.h.status().conf.voters.length + this.h.status().conf.learners.length || Date.now() > deadline) return up;
      await sleep(50);
    }
  }

  /**
   * A voter becomes a standby; a standby leaves the cluster (it stops serving as soon as it
   * applies its `leaving` record, then it is removed). The leader hands over the lead first.
   */
  async demote(target: MemberRecord): Promise<{ id: NodeId; role: 'standby' | 'removed'; leader?: NodeId }> {
    const status = this.h.status();
    const plan = planDemote(status.conf, target.id, this.h.id, await this.healthy());
    switch (plan.kind) {
      case 'remove':
        await this.h.proposeRecord({ ...target, wantVoter: false, leaving: true });
        await this.change({ type: 'removeNode', node: target.id });
        this.h.log?.('removed a coordinator', { id: target.id });
        return { id: target.id, role: 'removed' };
      case 'toStandby':
        await this.h.proposeRecord({ ...target, wantVoter: false });
        await this.change({ type: 'addLearner', node: target.id });
        this.h.log?.('demoted a coordinator to standby', { id: target.id });
        return { id: target.id, role: 'standby' };
      case 'transfer':
        return this.handOverThenDemote(plan.to, target);
    }
  }

  private async handOverThenDemote(to: NodeId, target: MemberRecord): Promise<{ id: NodeId; role: 'standby' | 'removed'; leader?: NodeId }> {
    this.h.log?.('handing the lead over before being demoted', { to });
    this.h.transferLeader(to);
    const deadline = Date.now() + 5000;
    while (this.h.status().role === 'leader') {
      if (Date.now() > deadline) throw new ShoalError('membership_busy', `the lead did not move to coordinator ${to}`, 'try again in a few seconds');
      await sleep(50);
    }
    // The new leader decides the rest, with what it knows of who is up.
    const req = apiRequest(`demote-${target.id}-${Date.now()}`, 'node.demote', { node: String(target.id) });
    for (;;) {
      try {
        const reply = await this.h.bus.request(`shoal.${this.h.cluster}.leader.api`, enc.encode(JSON.stringify(req)), 15_000);
        return unwrapResponse(decodeApiResponse(JSON.parse(dec.decode(reply)))) as { id: NodeId; role: 'standby' | 'removed' };
      } catch (err) {
        if (err instanceof ShoalError || Date.now() > deadline + 10_000) throw err;
        await sleep(200);
      }
    }
  }
}

/**
 * The joining side: asks the leader to add this coordinator, until it answers (an election may
 * be under way). A refusal (an id taken, a name taken) is final.
 */
export async function requestJoin(bus: Bus, cluster: string, req: JoinRequest, signal: AbortSignal): Promise<{ id: NodeId; host: string; port: number }[]> {
  for (;;) {
    signal.throwIfAborted();
    try {
      const reply = JSON.parse(dec.decode(await bus.request(joinSubject(cluster), enc.encode(JSON.stringify(req)), 15_000))) as JoinReply;
      if (reply.ok) return reply.members;
      throw new ShoalError(reply.error.code, reply.error.message, reply.error.todo);
    } catch (err) {
      if (err instanceof ShoalError && err.code !== 'membership_busy' && err.code !== 'internal' && err.code !== 'not_ready') throw err;
      await sleep(500);
    }
  }
}
