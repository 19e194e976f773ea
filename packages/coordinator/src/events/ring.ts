import type { ShoalEvent } from '@shoal/core';

export interface EventQuery {
  /** Events after this store index. */
  index?: number | undefined;
  /** Events at or after this moment (ISO 8601). */
  since?: string | undefined;
  limit?: number | undefined;
}

export interface EventPage {
  events: ShoalEvent[];
  /** The oldest index still held: asking from before it means some events are lost to the watcher. */
  oldest: number | undefined;
  /** The newest index held, where a watcher resumes from. */
  newest: number | undefined;
}

/** Enough for a watcher that was away a few minutes on a busy cluster, in a few MB. */
export const DEFAULT_RING_SIZE = 10_000;

/**
 * The recent events, oldest first, bounded: `events.since` replays from here so a watcher that
 * connects late, or reconnects, misses nothing that is still held.
 */
export class EventRing {
  readonly #items: ShoalEvent[] = [];

  constructor(private readonly size: number = DEFAULT_RING_SIZE) {}

  push(events: readonly ShoalEvent[]): void {
    this.#items.push(...events);
    const over = this.#items.length - this.size;
    if (over > 0) this.#items.splice(0, over);
  }

  get length(): number {
    return this.#items.length;
  }

  query(q: EventQuery): EventPage {
    const after = q.index;
    const from = q.since === undefined ? undefined : Date.parse(q.since);
    let out = this.#items.filter((e) => (after === undefined || e.seq > after) && (from === undefined || Date.parse(e.at) >= from));
    if (q.limit !== undefined && out.length > q.limit) out = out.slice(out.length - q.limit);
    return { events: out, oldest: this.#items[0]?.seq, newest: this.#items[this.#items.length - 1]?.seq };
  }
}
