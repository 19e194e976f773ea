import { createHash } from 'node:crypto';
import type { ApiRequest } from '@shoal/core';

/**
 * The key a write's request is remembered under: its id, bound to what it asks. A client that
 * sends a write again sends the same request; a different one that happens to reuse an id (a
 * script counting its requests from 1) is not taken for the first.
 */
export function requestKey(req: ApiRequest): string {
  const digest = createHash('sha256').update(JSON.stringify([req.verb, req.body])).digest('base64url').slice(0, 22);
  return `${req.id}/${digest}`;
}

/**
 * The writes this leader is answering, by request key. A copy of one that arrives meanwhile
 * (its client timed out and sent it again) waits for the same answer instead of running beside
 * it: the second run would read the store before the first applied, or after it, and answer,
 * say, "a service named web already exists" to the very client that created it.
 */
export class InFlight {
  readonly #running = new Map<string, Promise<unknown>>();

  run(key: string, work: () => Promise<unknown>): Promise<unknown> {
    const running = this.#running.get(key);
    if (running) return running;
    const p = work().finally(() => this.#running.delete(key));
    this.#running.set(key, p);
    return p;
  }
}
