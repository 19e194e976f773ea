import { ShoalError, apiWildcard, decodeApiRequest, errorResponse, isLeaderVerb, okResponse, parseSubject, type ApiResponse } from '@shoal/core';
import type { Bus, BusMessage } from '../dispatcher/bus.js';
import { handle, type ApiBackend } from './handlers.js';

const enc = new TextEncoder();
/** How long a write waits for a leader to be elected before it is refused. */
const LEADER_WAIT_MS = 8000;
const dec = new TextDecoder();

/** Where a follower forwards a write; only the leader listens on it. */
export function leaderApiSubject(cluster: string): string {
  return `shoal.${cluster}.leader.api`;
}

export interface ApiServerOptions {
  cluster: string;
  bus: Bus;
  backend: ApiBackend;
  leading: () => boolean;
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

  constructor(private readonly o: ApiServerOptions) {}

  start(): void {
    this.#unsubs.push(this.o.bus.subscribe(apiWildcard(this.o.cluster), (m) => void this.serve(m, false), 'shoal-coordinators'));
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
   * while none listens).
   */
  private async forward(data: Uint8Array): Promise<Uint8Array> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        return await this.o.bus.request(leaderApiSubject(this.o.cluster), data, 15_000);
      } catch (err) {
        if (Date.now() > deadline) {
          throw new ShoalError('no_leader', 'the cluster has no leader to take the change right now', 'try again in a few seconds; if it persists, check that a majority of coordinators run', { cause: err });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async serve(m: BusMessage, forwarded: boolean): Promise<void> {
    let id = '';
    let response: ApiResponse;
    try {
      const req = decodeApiRequest(JSON.parse(dec.decode(m.data)));
      id = req.id;
      const s = parseSubject(m.subject);
      if (!forwarded && (s?.kind !== 'api' || s.verb !== req.verb)) throw new ShoalError('bad_message', `request for ${req.verb} sent to ${m.subject}`);
      if (isLeaderVerb(req.verb) && !this.o.leading()) {
        if (forwarded) throw new ShoalError('no_leader', 'this coordinator is no longer the leader', 'try again in a moment');
        m.respond(await this.forward(m.data));
        return;
      }
      response = okResponse(id, await handle(this.o.backend, req));
    } catch (err) {
      if (!(err instanceof ShoalError)) this.o.log?.('API request failed', { err: err instanceof Error ? err.message : String(err) });
      response = errorResponse(id, err instanceof SyntaxError ? new ShoalError('bad_message', 'the request is not JSON') : err);
    }
    m.respond(enc.encode(JSON.stringify(response)));
  }
}
