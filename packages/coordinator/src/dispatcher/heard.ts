import { nodeWildcard, parseSubject } from '@shoal/core';
import type { Bus } from './bus.js';

/**
 * When each node was last heard from (a heartbeat or a task report), kept by every coordinator,
 * leader or not, from its own NATS subscription. A leader that takes over after its predecessor's
 * host died then knows how long each node has really been silent, as heard by itself over a
 * working link, instead of waiting a whole deadline more for nodes it never stopped hearing and
 * for the dead host's node alike. Only the subject is read: NATS lets a node's user publish only
 * on its own subjects, and the dispatcher checks every message's body before acting on it.
 */
export class HeardNodes {
  readonly #last = new Map<string, number>();
  readonly #now: () => number;
  #since: number | undefined;
  #unsubs: (() => void)[] = [];

  constructor(
    private readonly bus: Bus,
    private readonly cluster: string,
    now: () => number = Date.now,
  ) {
    this.#now = now;
  }

  start(): void {
    this.#since = this.#now();
    const note = (subject: string): void => {
      const s = parseSubject(subject);
      if (s?.kind === 'node') this.#last.set(s.nodeId, this.#now());
    };
    for (const channel of ['hb', 'status'] as const) this.#unsubs.push(this.bus.subscribe(nodeWildcard(this.cluster, channel), (m) => note(m.subject)));
  }

  stop(): void {
    for (const u of this.#unsubs) u();
    this.#unsubs = [];
  }

  /** Since when this coordinator has been listening (undefined: not started). */
  get since(): number | undefined {
    return this.#since;
  }

  lastHeard(nodeId: string): number | undefined {
    return this.#last.get(nodeId);
  }
}
