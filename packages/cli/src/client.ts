import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { ShoalError, apiRequest, decodeApiResponse, unwrapResponse, type ApiRequestBody, type ApiVerb } from '@shoal/core';

export interface ClusterTarget {
  natsUrl: string;
  cluster: string;
}

/** Where the cluster is: flags first, then the environment. */
export function clusterTarget(opts: { nats?: string; cluster?: string }): ClusterTarget {
  const natsUrl = opts.nats ?? process.env.SHOAL_NATS_URL;
  const cluster = opts.cluster ?? process.env.SHOAL_CLUSTER;
  if (!natsUrl || !cluster) {
    throw new ShoalError('no_cluster', 'no cluster to talk to', 'pass --nats URL and --cluster ID (or set SHOAL_NATS_URL and SHOAL_CLUSTER)');
  }
  return { natsUrl, cluster };
}

/** One connection to the cluster's API for the life of a command. */
export class ApiClient {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly cluster: string,
  ) {}

  static async open(target: ClusterTarget): Promise<ApiClient> {
    try {
      return new ApiClient(await connect({ servers: target.natsUrl, timeout: 5000, name: 'shoal-cli' }), target.cluster);
    } catch (err) {
      throw new ShoalError('unreachable', `cannot reach NATS at ${target.natsUrl}`, 'check the address and that the cluster runs', { cause: err });
    }
  }

  async call<V extends ApiVerb>(verb: V, body: ApiRequestBody<V>, timeoutMs = 20_000): Promise<unknown> {
    const req = apiRequest(randomBytes(6).toString('hex'), verb, body);
    let data: Uint8Array;
    try {
      data = (await this.nc.request(`shoal.${this.cluster}.api.${verb}`, new TextEncoder().encode(JSON.stringify(req)), { timeout: timeoutMs })).data;
    } catch (err) {
      throw new ShoalError('no_answer', `no coordinator of cluster ${this.cluster} answered`, 'check that the coordinators run and the cluster id is right', { cause: err });
    }
    return unwrapResponse(decodeApiResponse(JSON.parse(new TextDecoder().decode(data))));
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
