import type { Message, NodeId } from '../core/types.js';

/**
 * How a driver reaches its peers. Delivery is best effort: Raft tolerates loss, duplication
 * and reordering, so a transport may drop a message instead of buffering without bound. It must
 * not throw from send, and it should refuse ids outside the cluster before they reach the core.
 */
export interface Transport {
  send(messages: readonly Message[]): void;
  /** Routes messages addressed to `id` to `handler`; returns a function that stops it. */
  listen(id: NodeId, handler: (m: Message) => void): () => void;
}

/**
 * An in-process transport for tests and examples: every member's transport is a view of one
 * hub. Messages are delivered on a later macrotask, never inside send, as over a network.
 */
export class MemoryHub {
  private readonly handlers = new Map<NodeId, (m: Message) => void>();
  /** Directed links that drop everything: `${from}->${to}`. */
  readonly cut = new Set<string>();
  delivered = 0;

  transport(): Transport {
    return {
      send: (messages) => {
        for (const m of messages) {
          setImmediate(() => {
            if (this.cut.has(`${m.from}->${m.to}`)) return;
            const h = this.handlers.get(m.to);
            if (h === undefined) return;
            this.delivered++;
            h(m);
          });
        }
      },
      listen: (id, handler) => {
        this.handlers.set(id, handler);
        return () => {
          if (this.handlers.get(id) === handler) this.handlers.delete(id);
        };
      },
    };
  }

  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }
}
