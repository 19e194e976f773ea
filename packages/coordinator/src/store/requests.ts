/**
 * A write's request as its Raft entry carries it: the request's key (see requestKey) and the
 * answer the API gives once the entry applies.
 */
export interface RequestTag {
  key: string;
  answer: unknown;
}

/** A request the store applied: its key, the entry that applied it and the leader's clock then, its answer. */
export interface AppliedRequest extends RequestTag {
  index: number;
  at: string;
}

/** Far more than a client's retries need (they give up within a minute), few enough to keep in every snapshot. */
export const REQUESTS_KEPT = 10_000;
export const REQUESTS_KEPT_MS = 10 * 60_000;

const MAX_KEY_LENGTH = 128;

/** A request tag read from an entry, or undefined if the entry's tag is malformed. */
export function asRequestTag(raw: unknown): RequestTag | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.key !== 'string' || r.key.length === 0 || r.key.length > MAX_KEY_LENGTH) return undefined;
  return { key: r.key, answer: r.answer };
}

export function asAppliedRequest(raw: unknown): AppliedRequest | undefined {
  const tag = asRequestTag(raw);
  if (!tag) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.index !== 'number' || !Number.isInteger(r.index) || r.index < 1 || typeof r.at !== 'string') return undefined;
  return { ...tag, index: r.index, at: r.at };
}

/**
 * The requests the store applied lately, so that a client that lost a write's answer (its
 * leader died with it) can send it again under the same key: it is answered as the first time
 * and applies nothing. Part of the replicated state: it changes only as entries apply and is
 * forgotten by the leader's clock written in them (`at`), never a local one, so every
 * coordinator keeps the same requests; snapshots carry it.
 */
export class AppliedRequests {
  readonly #byKey = new Map<string, AppliedRequest>();

  constructor(
    private readonly kept = REQUESTS_KEPT,
    private readonly keptMs = REQUESTS_KEPT_MS,
  ) {}

  get(key: string): AppliedRequest | undefined {
    return this.#byKey.get(key);
  }

  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Remembers a request applied now, and forgets the oldest beyond the count kept or older
   * than the time kept, as the entry's `at` tells it. Oldest means first applied: the map keeps
   * that order, and a leader's clock behind its predecessor's only delays forgetting.
   */
  remember(r: AppliedRequest): void {
    this.#byKey.delete(r.key);
    this.#byKey.set(r.key, r);
    const horizon = Date.parse(r.at) - this.keptMs;
    for (const [key, old] of this.#byKey) {
      if (this.#byKey.size <= this.kept && !(Date.parse(old.at) < horizon)) break;
      this.#byKey.delete(key);
    }
  }

  /** In the order they were applied, as a snapshot keeps them. */
  list(): AppliedRequest[] {
    return [...this.#byKey.values()];
  }

  restore(list: readonly AppliedRequest[]): void {
    this.#byKey.clear();
    for (const r of list) this.#byKey.set(r.key, r);
  }
}
