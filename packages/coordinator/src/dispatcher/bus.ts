import { DebugEvents, Events, type NatsConnection } from 'nats';

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
  /**
   * Since when (ms since the epoch) this process's link has been up without a break; undefined
   * while it is down. The leader judges nodes' silence only over that span: heartbeats it could
   * not hear are not missed. A bus without it (in-process tests) is always up.
   */
  linkUpSince?(): number | undefined;
  /** Whether a round trip to the server completes within `timeoutMs` (the link works now). */
  probe?(timeoutMs: number): Promise<boolean>;
}

export function natsBus(nc: NatsConnection, now: () => number = Date.now): Bus {
  // connected when made: the daemons wait on the first connect
  let upSince: number | undefined = now();
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === Events.Disconnect || s.type === DebugEvents.StaleConnection || s.type === DebugEvents.Reconnecting) upSince = undefined;
      else if (s.type === Events.Reconnect) upSince = now();
    }
  })();
  return {
    linkUpSince: () => (nc.isClosed() ? undefined : upSince),
    probe: (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)));
      return Promise.race([nc.flush().then(() => true, () => false), late]).finally(() => clearTimeout(timer));
    },
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
