import type { NatsConnection } from 'nats';

export interface BusMessage {
  subject: string;
  data: Uint8Array;
  /** Answers a request; a no-op for a plain publish. */
  respond(data: Uint8Array): void;
}

/** What the dispatcher needs of NATS: subscribe with a callback, publish. */
export interface Bus {
  subscribe(subject: string, handler: (msg: BusMessage) => void): () => void;
  publish(subject: string, data: Uint8Array): void;
}

export function natsBus(nc: NatsConnection): Bus {
  return {
    subscribe(subject, handler) {
      const sub = nc.subscribe(subject, {
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
  };
}
