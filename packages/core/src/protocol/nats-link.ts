/**
 * How every Shoal process holds its NATS link: the same options in the coordinator, the agent
 * and the CLI, so a dead server costs each of them the same couple of seconds.
 *
 * - A server whose host died answers nothing: no FIN, no RST. Only missed pings show it. A ping
 *   every 750 ms with at most 2 unanswered makes the link stale 1.5–2.25 s after the last pong.
 *   (A stalled event loop cannot fake this: the ping timer fires once after a stall and the
 *   pongs that came meanwhile are read before it fires again.)
 * - Each dial gives up after 2 s, so a reconnect that tries the dead server first loses 2 s on
 *   it, not nats.js's default 20 s.
 * - Servers are tried in the order given (`noRandomize`): the caller puts its own host's server
 *   first, since it fails only with the caller itself, and shuffles the rest. The list stays the
 *   one given (`ignoreClusterUpdates`): the servers' gossip would add every cluster member to it,
 *   this host's own server to an agent's second link among them.
 */
export const NATS_PING_INTERVAL_MS = 750;
export const NATS_MAX_PINGS_OUT = 2;
export const NATS_DIAL_TIMEOUT_MS = 2000;

export interface NatsLinkOptions {
  servers: string[];
  noRandomize: true;
  pingInterval: number;
  maxPingOut: number;
  timeout: number;
  reconnectTimeWait: number;
  reconnectJitter: number;
  maxReconnectAttempts: number;
  waitOnFirstConnect: true;
  ignoreClusterUpdates: true;
}

/** The host part of a NATS URL (`nats://10.0.0.1:4222`, `[::1]:4222`, `host`), lower-cased. */
export function natsUrlHost(url: string): string {
  const rest = url.replace(/^[a-z]+:\/\//i, '').replace(/^[^@/]*@/, '');
  const bracketed = /^\[([^\]]+)\]/.exec(rest);
  if (bracketed) return (bracketed[1] ?? '').toLowerCase();
  return (rest.split(/[:/]/)[0] ?? '').toLowerCase();
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/;

/**
 * The servers on this host (a loopback address or one of `localAddresses`) and the others,
 * shuffled with `random` so that a thousand agents do not all land on the first of the list.
 */
export function splitNatsServers(urls: readonly string[], localAddresses: readonly string[], random: () => number = Math.random): { local: string[]; remote: string[] } {
  const mine = new Set(localAddresses.map((a) => a.toLowerCase()));
  const isLocal = (u: string): boolean => {
    const h = natsUrlHost(u);
    return LOOPBACK.test(h) || mine.has(h);
  };
  const local = urls.filter(isLocal);
  const remote = urls.filter((u) => !isLocal(u));
  for (let i = remote.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [remote[i], remote[j]] = [remote[j] as string, remote[i] as string];
  }
  return { local, remote };
}

/** The servers in the order to try them: this host's first, then the others shuffled. */
export function orderNatsServers(urls: readonly string[], localAddresses: readonly string[], random: () => number = Math.random): string[] {
  const { local, remote } = splitNatsServers(urls, localAddresses, random);
  return [...local, ...remote];
}

/** The connect options of a daemon's link: reconnects forever, to the servers in `servers`' order. */
export function natsLinkOptions(servers: readonly string[]): NatsLinkOptions {
  return {
    servers: [...servers],
    noRandomize: true,
    pingInterval: NATS_PING_INTERVAL_MS,
    maxPingOut: NATS_MAX_PINGS_OUT,
    timeout: NATS_DIAL_TIMEOUT_MS,
    reconnectTimeWait: 250,
    reconnectJitter: 100,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    ignoreClusterUpdates: true,
  };
}
