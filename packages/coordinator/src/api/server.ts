import { ShoalError, apiWildcard, decodeApiRequest, errorResponse, isLeaderVerb, isRetriableWrite, isWriteVerb, okResponse, parseSubject, type ApiResponse } from '@shoal/core';
import type { Bus, BusMessage } from '../dispatcher/bus.js';
import { handle, type ApiBackend } from './handlers.js';
import { InFlight, requestKey } from './once.js';
import { coordinatorStatusSubject } from './status.js';

const enc = new TextEncoder();
/** How long a write waits for a leader to be elected before it is refused. */
const LEADER_WAIT_MS = 8000;
/**
 * A forwarded write's answer: longer than any write takes (the slowest waits up to 8 s for tasks
 * to let go of a network), short enough that one sent to a leader that just died fails soon.
 */
const FORWARD_TIMEOUT_MS = 12_000;
/** How often a forwarded write looks whether the leader it went to was replaced. */
const LEADER_WATCH_MS = 50;
/** How long a replaced leader has to answer its status subject before it counts as gone. */
const LEADER_PROBE_MS = 1000;
const dec = new TextDecoder();
/** Far above any real request (a stack of hundreds of services); parsing more is only a cost. */
export const MAX_REQUEST_BYTES = 4 * 2 ** 20;

/** Where a follower forwards a write; only the leader listens on it. */
export function leaderApiSubject(cluster: string): string {
  return `shoal.${cluster}.leader.api`;
}

/**
 * One coordinator's own subject, outside the queue group, for reads only: a check that every
 * coordinator holds the same store (chaos, operators) must be able to ask each one in turn.
 */
export function memberApiSubject(cluster: string, member: number | string): string {
  return `shoal.${cluster}.member.${member}.api`;
}

export interface ApiServerOptions {
  cluster: string;
  /** This coordinator's Raft member id: it also answers reads on its own subject. */
  member?: number;
  bus: Bus;
  backend: ApiBackend;
  leading: () => boolean;
  /**
   * The Raft member this coordinator knows as leader now (0 or undefined: none known). A write
   * forwarded to one leader fails as soon as another is known and the first is gone, instead of
   * waiting out the forward's timeout for an answer that a dead leader will never send.
   */
  leaderId?: () => number | undefined;
  /** Resolves once this coordinator's store reflects every write committed before the call. */
  readBarrier?: () => Promise<void>;
  /**
   * A subject prefix this coordinator alone also serves the API on (`<prefix>.<verb>`), so one
   * can ask a given coordinator: a read there shows that coordinator's own store.
   */
  direct?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The API over NATS request/reply. Every coordinator serves it (one per request, by queue
 * group): reads from its own store, writes through the leader — forwarded when it is not the
 * leader. Every request is validated; every error has a stable code and a sentence to act on.
 */
export class ApiServer {
  #unsubs: (() => void)[] = [];
  #leaderUnsub: (() => void) | undefined;
  readonly #writing = new InFlight();

  constructor(private readonly o: ApiServerOptions) {}

  start(): void {
    if (this.#unsubs.length > 0) return;
    this.#unsubs.push(this.o.bus.subscribe(apiWildcard(this.o.cluster), (m) => void this.serve(m, false), 'shoal-coordinators'));
    const direct = this.o.direct;
    if (direct) this.#unsubs.push(this.o.bus.subscribe(`${direct}.>`, (m) => void this.serve(m, false, direct)));
    if (this.o.member !== undefined) this.#unsubs.push(this.o.bus.subscribe(memberApiSubject(this.o.cluster, this.o.member), (m) => void this.serve(m, 'member')));
  }

  /** While leading, take the writes the followers forward. */
  lead(on: boolean): void {
    if (on && !this.#leaderUnsub) this.#leaderUnsub = this.o.bus.subscribe(leaderApiSubject(this.o.cluster), (m) => void this.serve(m, true));
    if (!on && this.#leaderUnsub) {
      this.#leaderUnsub();
      this.#leaderUnsub = undefined;
    }
  }

  stop(): void {
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
    this.lead(false);
  }

  /**
   * Hands a write to the leader. An election takes a second or so: rather than fail a person's
   * command for that, wait for a leader a little while (NATS answers "no responders" at once
   * while none listens). Only a write that reached no leader is sent again here: one that may
   * have reached it is the client's to send again (see whileLeader).
   */
  private async forward(data: Uint8Array): Promise<Uint8Array> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      const sentTo = this.o.leaderId?.();
      try {
        return await this.whileLeader(this.o.bus.request(leaderApiSubject(this.o.cluster), data, FORWARD_TIMEOUT_MS), sentTo);
      } catch (err) {
        if (err instanceof ShoalError) throw err;
        if (Date.now() > deadline) {
          throw new ShoalError('no_leader', 'the cluster has no leader to take the change right now', 'try again in a few seconds; if it persists, check that a majority of coordinators run', { cause: err });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /**
   * The forwarded write's answer, or a `leader_changed` error once the leader it went to
   * (`sentTo`) has been replaced and is gone: killed, or cut off from this coordinator. Its
   * answer will never come, and it may or may not have committed the write; this is known an
   * election's time after the death (about a second) rather than after the forward's 12 s
   * timeout. The client sends the write again with the same request id, and the store answers
   * it as the first time if it was applied (isRetriableWrite).
   *
   * Why the client and not this coordinator: the client must send again anyway when the
   * coordinator it reached dies with its request (a follower, or the leader itself, which
   * answers no one), and it alone holds the request across coordinators. One loop there covers
   * this case too; a second one here would nest its time bounds inside the client's.
   *
   * A replaced leader that still answers its status subject (one that handed the lead over, say
   * to be demoted by this very write) is waited for: it answers the write itself.
   */
  private whileLeader(answer: Promise<Uint8Array>, sentTo: number | undefined): Promise<Uint8Array> {
    const leaderId = this.o.leaderId;
    if (!leaderId || !sentTo) return answer;
    return new Promise((resolve, reject) => {
      let probing = false;
      let settled = false;
      const settle = (): void => {
        settled = true;
        clearInterval(watch);
      };
      const watch = setInterval(() => {
        const now = leaderId();
        if (!now || now === sentTo || probing) return;
        probing = true;
        this.o.bus
          .request(coordinatorStatusSubject(this.o.cluster, sentTo), new Uint8Array(0), LEADER_PROBE_MS)
          .then(
            () => undefined,
            () => {
              if (settled) return;
              settle();
              reject(
                new ShoalError(
                  'leader_changed',
                  `the leader (coordinator ${sentTo}) was replaced by coordinator ${now} and is gone, while this change was on its way to it`,
                  'send it again with the same request id: it is applied once (the shoal CLI does so by itself)',
                ),
              );
            },
          )
          .finally(() => (probing = false));
      }, LEADER_WATCH_MS);
      answer.then(
        (reply) => {
          if (settled) return;
          settle();
          resolve(reply);
        },
        (err: unknown) => {
          if (settled) return;
          settle();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /**
   * `via`: true for a write a follower handed to this leader, 'member' for a read on this
   * coordinator's own read-only subject; `direct`: the prefix of its own full API subject.
   */
  private async serve(m: BusMessage, via: boolean | 'member', direct?: string): Promise<void> {
    const forwarded = via === true;
    let id = '';
    let response: ApiResponse;
    try {
      if (m.data.byteLength > MAX_REQUEST_BYTES) {
        throw new ShoalError('too_large', `the request is ${(m.data.byteLength / 2 ** 20).toFixed(1)} MiB, more than the ${MAX_REQUEST_BYTES / 2 ** 20} MiB a request may be`, 'send a smaller request (split the stack)');
      }
      const req = decodeApiRequest(JSON.parse(dec.decode(m.data)));
      id = req.id;
      const s = parseSubject(m.subject);
      if (direct !== undefined) {
        if (m.subject !== `${direct}.${req.verb}`) throw new ShoalError('bad_message', `request for ${req.verb} sent to ${m.subject}`);
      } else if (via === 'member') {
        if (isWriteVerb(req.verb)) throw new ShoalError('read_only_subject', `${req.verb} changes the cluster, and ${m.subject} answers reads only`, `send it to shoal.${this.o.cluster}.api.${req.verb}`);
      } else if (!forwarded && (s?.kind !== 'api' || s.verb !== req.verb)) throw new ShoalError('bad_message', `request for ${req.verb} sent to ${m.subject}`);
      if (isLeaderVerb(req.verb) && !this.o.leading()) {
        if (forwarded) throw new ShoalError('no_leader', 'this coordinator is no longer the leader', 'try again in a moment');
        m.respond(await this.forward(m.data));
        return;
      }
      // a read answered from this store must not miss a write acknowledged through another coordinator
      if (!isWriteVerb(req.verb)) await this.o.readBarrier?.();
      const answer = isRetriableWrite(req.verb) ? this.#writing.run(requestKey(req), () => handle(this.o.backend, req)) : handle(this.o.backend, req);
      response = okResponse(id, await answer);
    } catch (err) {
      if (!(err instanceof ShoalError)) this.o.log?.('API request failed', { err: err instanceof Error ? err.message : String(err) });
      response = errorResponse(id, err instanceof SyntaxError ? new ShoalError('bad_message', 'the request is not JSON') : err);
    }
    m.respond(enc.encode(JSON.stringify(response)));
  }
}
