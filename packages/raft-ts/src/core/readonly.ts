import type { NodeId } from './types.js';

export interface ReadRequest {
  /** Leader-local key carried by the heartbeat round that confirms leadership for this read. */
  readonly key: string;
  readonly index: number;
  readonly context: string;
  readonly from: NodeId;
  readonly acks: Map<NodeId, boolean>;
}

/**
 * ReadIndex requests waiting for a heartbeat round to confirm that the leader was still the
 * leader when it recorded their commit index. A quorum for a later request also confirms every
 * earlier one, so they are released in order.
 */
export class ReadOnlyQueue {
  private readonly byKey = new Map<string, ReadRequest>();
  private readonly queue: string[] = [];

  add(req: ReadRequest): void {
    this.byKey.set(req.key, req);
    this.queue.push(req.key);
  }

  recvAck(from: NodeId, key: string): ReadRequest | undefined {
    const req = this.byKey.get(key);
    req?.acks.set(from, true);
    return req;
  }

  /** Removes and returns the requests up to and including `key`. */
  advance(key: string): ReadRequest[] {
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const out: ReadRequest[] = [];
    for (const k of this.queue.splice(0, at + 1)) {
      const req = this.byKey.get(k);
      this.byKey.delete(k);
      if (req !== undefined) out.push(req);
    }
    return out;
  }

  get size(): number {
    return this.queue.length;
  }

  reset(): void {
    this.byKey.clear();
    this.queue.length = 0;
  }
}
