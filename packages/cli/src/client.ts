import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { configPath, loadConfig, pickContext } from './config.js';
import { NATS_MAX_PINGS_OUT, NATS_PING_INTERVAL_MS, ShoalError, apiRequest, backoffMs, decodeApiResponse, isRetriableWrite, isShoalError, isWriteVerb, orderNatsServers, unwrapResponse, type ApiRequestBody, type ApiVerb } from '@shoal/core';

/**
 * How long one try of a request waits for its answer before it is sent again. A coordinator
 * killed with the request never answers, and neither does one on a host cut off (NATS keeps
 * handing it a share of the requests until its servers give up the route); nothing else says
 * so. A slow write sent again is not run twice (its leader joins the copy to the first) and a
 * read changes nothing, so this is short: an answer normally takes milliseconds.
 */
const TRY_MS = 1500;
/**
 * Errors after which a write may or may not have been applied, or was not: no leader took it
 * (an election), the leader it was forwarded to died with it, no coordinator answered.
 */
const SEND_AGAIN = new Set(['no_leader', 'leader_changed', 'no_answer']);
/** nats.js's codes for a request that got no answer (as against one the server refused). */
const SILENT = new Set(['TIMEOUT', '503', 'DISCONNECT', 'CONNECTION_CLOSED', 'CONNECTION_TIMEOUT', 'CONNECTION_REFUSED']);

export interface ClusterTarget {
  /** One or more NATS URLs, comma-separated as NATS clients take them. */
  natsUrl: string;
  cluster: string;
  user?: string | undefined;
  password?: string | undefined;
}

export interface TargetOptions {
  nats?: string;
  cluster?: string;
  context?: string;
}

/**
 * Where the cluster is: flags first, then the environment (SHOAL_NATS_URL, SHOAL_CLUSTER,
 * SHOAL_CONTEXT), then the context chosen in the config file (or its current one).
 */
export async function clusterTarget(opts: TargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<ClusterTarget> {
  const flagUrl = opts.nats ?? env.SHOAL_NATS_URL;
  const flagCluster = opts.cluster ?? env.SHOAL_CLUSTER;
  const wanted = opts.context ?? env.SHOAL_CONTEXT;
  const ctx = flagUrl && flagCluster && wanted === undefined ? undefined : pickContext(await loadConfig(configPath(env)), wanted);
  const natsUrl = flagUrl ?? ctx?.nats.join(',');
  const cluster = flagCluster ?? ctx?.cluster;
  if (!natsUrl || !cluster) {
    throw new ShoalError('no_cluster', 'no cluster to talk to', 'bootstrap one (shoal cluster bootstrap), choose one with --context, or pass --nats URL and --cluster ID');
  }
  return { natsUrl, cluster, user: env.SHOAL_NATS_USER ?? ctx?.user, password: env.SHOAL_NATS_PASSWORD ?? ctx?.password };
}

/** How long the CLI waits for one NATS server to answer its connect before it tries the next. */
export const CONNECT_TIMEOUT_MS = 1500;

/** One connection to the cluster's API for the life of a command. */
export class ApiClient {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}

  static async open(target: ClusterTarget): Promise<ApiClient> {
    // One cut host must not cost the command more than a dial's time: each server is tried once,
    // in a shuffled order (so no server is always first; one on this host first), each for
    // CONNECT_TIMEOUT_MS. A long command (watch, logs -f) notices its server's death as the
    // daemons do, by missed pings, and moves to another.
    const servers = orderNatsServers(target.natsUrl.split(','), []);
    try {
      return new ApiClient(await connect({
          servers,
          noRandomize: true,
          timeout: CONNECT_TIMEOUT_MS,
          pingInterval: NATS_PING_INTERVAL_MS,
          maxPingOut: NATS_MAX_PINGS_OUT,
          name: 'shoal-cli',
          ...(target.user !== undefined ? { user: target.user, pass: target.password ?? '' } : {}),
        }), target.cluster);
    } catch (err) {
      throw new ShoalError('unreachable', `cannot reach NATS at ${target.natsUrl} (each server tried for ${CONNECT_TIMEOUT_MS / 1000} s)`, 'check the address and that the cluster runs', { cause: err });
    }
  }

  /**
   * One API request, answered within `timeoutMs`. A write whose leader dies with it (a host
   * lost, a coordinator killed) is sent again, with the same request id, until it is answered
   * or the time is up: the store answers a request it already applied as it did the first
   * time, and applies nothing twice, so the person sees the write done once and never has to
   * find out whether it was. A read is sent again the same way: it changes nothing, and the
   * coordinator NATS handed it to may be one that cannot answer (killed, or on a host cut off
   * whose subscriptions the servers still count for a while). Membership changes, which the
   * store does not remember, are sent once.
   */
  async call<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>, timeoutMs = 60_000): Promise<unknown> {
    const data = new TextEncoder().encode(JSON.stringify(apiRequest(randomBytes(12).toString('hex'), verb, body)));
    if (isWriteVerb(verb) && !isRetriableWrite(verb)) return this.send(verb, data, timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (let tries = 1; ; tries++) {
      try {
        return await this.send(verb, data, Math.max(100, Math.min(TRY_MS, deadline - Date.now())));
      } catch (err) {
        const wait = backoffMs(tries, 100, 1000);
        if (!isShoalError(err) || !SEND_AGAIN.has(err.code) || Date.now() + wait >= deadline) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  private async send(verb: ApiVerb, data: Uint8Array, timeoutMs: number): Promise<unknown> {
    let reply: Uint8Array;
    try {
      reply = (await this.nc.request(`shoal.${this.cluster}.api.${verb}`, data, { timeout: timeoutMs })).data;
    } catch (err) {
      // silence (a timeout, no one listening yet, a link being moved) is worth sending again;
      // a refusal by the server (permissions, the payload's size) is not: it would be the same
      const code = (err as { code?: string }).code;
      if (code !== undefined && !SILENT.has(code)) {
        throw new ShoalError('request_refused', `the NATS server refused the request to cluster ${this.cluster}: ${err instanceof Error ? err.message : String(err)}`, 'check the context\'s NATS user and its permissions', { cause: err });
      }
      throw new ShoalError('no_answer', `no coordinator of cluster ${this.cluster} answered`, 'check that the coordinators run and the cluster id is right', { cause: err });
    }
    return unwrapResponse(decodeApiResponse(JSON.parse(new TextDecoder().decode(reply))));
  }

  /** Messages on a subject of this cluster (`shoal.<cluster>.<rest>`), until the returned stop is called. */
  subscribe(rest: string, onMessage: (data: unknown) => void): () => void {
    const sub = this.nc.subscribe(`shoal.${this.cluster}.${rest}`, {
      callback: (_err, m) => {
        try {
          onMessage(JSON.parse(new TextDecoder().decode(m.data)));
        } catch {
          // not JSON: nothing a watcher can show
        }
      },
    });
    return () => sub.unsubscribe();
  }

  /**
   * Sends `body` on a subject of this cluster with `reply` (a full subject) as its reply subject,
   * and hands every message that comes back there to onMessage until stop is called.
   */
  stream(rest: string, body: unknown, reply: string, onMessage: (data: unknown) => void): () => void {
    const stop = this.subscribe2(reply, onMessage);
    this.nc.publish(`shoal.${this.cluster}.${rest}`, new TextEncoder().encode(JSON.stringify(body)), { reply });
    return stop;
  }

  /** A plain message on any subject (a follower's pings). */
  publishRaw(subject: string, text: string): void {
    this.nc.publish(subject, new TextEncoder().encode(text));
  }

  private subscribe2(subject: string, onMessage: (data: unknown) => void): () => void {
    const sub = this.nc.subscribe(subject, {
      callback: (_err, m) => {
        try {
          onMessage(JSON.parse(new TextDecoder().decode(m.data)));
        } catch {
          // not JSON: not ours
        }
      },
    });
    return () => sub.unsubscribe();
  }

  get clusterId(): string {
    return this.cluster;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
