import type { NatsConnection } from 'nats';

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  /** Answers a request; a no-op for a plain publish. */
  respond(data: Uint8Array): void;
}

/** What the dispatcher needs of NATS: subscribe with a callback, publish. */
export interface Bus {
  /** With `queue`, one subscriber of the group gets each message (coordinators share the API). */
  subscribe(subject: string, handler: (msg: BusMessage) => void, queue?: string): () => void;
  publish(subject: string, data: Uint8Array): void;
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
}

export function natsBus(nc: NatsConnection): Bus {
  return {
    subscribe(subject, handler, queue) {
      const sub = nc.subscribe(subject, {
        ...(queue ? { queue } : {}),
        callback: (err, m) => {
          if (err) return;
          handler({ subject: m.subject, data: m.data, respond: (data) => void m.respond(data) });
        },
      });
      return () => sub.unsubscribe();
    },
    publish(subject, data) {
      nc.publish(subject, data);
    },
    async request(subject, data, timeoutMs) {
      return (await nc.request(subject, data, { timeout: timeoutMs })).data;
    },
  };
}
