import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { ShoalError, type NetworkAssignment, type TaskAssignment } from '@shoal/core';
import { FrameReader } from '../logs.js';
import { hostsFile, splitGatewaySubnet } from './egress.js';
import { LABEL_CLUSTER, LABEL_EGRESS, LABEL_NETWORK, LABEL_NODE, LABEL_SERVICE, LABEL_SERVICE_ID, LABEL_SPEC_VERSION, LABEL_TASK, containerName } from './labels.js';

/** The host-local bridge that gives overlay tasks their default route, NAT and published ports. */
export const GWBRIDGE = 'shoal_gwbridge';

export interface ExecutorOptions {
  docker: Docker;
  cluster: string;
  nodeId: string;
  /** Where per-task files (resolv.conf) are written; must be visible to dockerd. */
  dataDir: string;
}

/** The Docker networks a task's container is created on (overlays are wired after start). */
export interface ContainerNetworks {
  /** On the gateway bridge: every task with an overlay (or no network at all) is. */
  gwbridge: boolean;
  /** Docker networks of local drivers, with the task's address on each. */
  local: { name: string; address: string | undefined; aliases: string[] }[];
  /** The resolver to write into resolv.conf; none keeps Docker's. */
  nameserver: string | undefined;
  /**
   * The task's address on the gateway bridge when the egress driver, not Docker, plugs it in:
   * the container is then made with Docker's networking disabled.
   */
  egress?: string;
}

/** A container of this node that carries task labels, as the executor sees it. */
export interface TaskContainer {
  id: string;
  taskId: string;
  state: string;
  running: boolean;
  pid: number;
  exitCode: number;
  startedAt: string;
  specVersion: number;
  /** The task's address on the gateway bridge: how the resolver knows who is asking. */
  gwAddress: string | undefined;
  /** Set when that address is the egress driver's (the container has no Docker network). */
  egress: string | undefined;
  /** Docker network name → the container's address on it. */
  addresses: Record<string, string>;
  /** The healthcheck's verdict, when the task has one. */
  health: 'starting' | 'healthy' | 'unhealthy' | undefined;
  /** The last healthcheck output, to say why a task is unhealthy. */
  healthLog: string | undefined;
  ports: { target: number; published: number; protocol: 'tcp' | 'udp'; hostIp?: string }[];
}

function healthOf(status: string | undefined): TaskContainer['health'] {
  return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : undefined;
}

/** Docker's port map ("7000/tcp" → bindings), as the ports a task reports. */
function portsOf(map: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined): TaskContainer['ports'] {
  const out: TaskContainer['ports'] = [];
  for (const [key, bindings] of Object.entries(map ?? {})) {
    const [target, protocol] = key.split('/');
    for (const b of bindings ?? []) {
      // Docker lists an IPv4 and an IPv6 binding for one publish; IPv4 is the one Shoal uses
      if (b.HostIp.includes(':')) continue;
      out.push({ target: Number(target), published: Number(b.HostPort), protocol: protocol === 'udp' ? 'udp' : 'tcp', ...(b.HostIp && b.HostIp !== '0.0.0.0' ? { hostIp: b.HostIp } : {}) });
    }
  }
  return out;
}

const MS = 1_000_000; // Docker takes durations in nanoseconds

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/**
 * Runs tasks as containers on this host's dockerd. Docker's restart policy stays off: restarts
 * are the orchestrator's decision, made from what the agent reports.
 */
export class DockerExecutor {
  readonly docker: Docker;
  /** The last inspect of each container, with the list state it was made in. */
  readonly #seen = new Map<string, { mark: string; container: TaskContainer }>();

  constructor(private readonly options: ExecutorOptions) {
    this.docker = options.docker;
  }

  /** The image is on the host, or pulled; otherwise a task error that says which and why. */
  async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      throw new ShoalError(
        'image_unavailable',
        `image ${image} is not on this host and could not be pulled: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
        'load it on every host (docker load / docker import) or fix the image name',
      );
    }
  }

  /**
   * Creates the gateway bridge once per host; returns its gateway address (the DNS resolver's),
   * its subnet and, when Docker hands out only the lower half of it, the upper half, which
   * Shoal's egress driver hands out itself. A bridge made before that split keeps Docker's way.
   */
  async ensureGwBridge(): Promise<{ gateway: string; subnet: string; shoalRange: string | undefined }> {
    const read = async (): Promise<{ gateway: string; subnet: string; ipRange: string | undefined; containers: number } | undefined> => {
      try {
        const info = (await this.docker.getNetwork(GWBRIDGE).inspect()) as { IPAM?: { Config?: { Gateway?: string; Subnet?: string; IPRange?: string }[] }; Containers?: Record<string, unknown> };
        const cfg = info.IPAM?.Config?.[0];
        return cfg?.Gateway && cfg.Subnet ? { gateway: cfg.Gateway, subnet: cfg.Subnet, ipRange: cfg.IPRange || undefined, containers: Object.keys(info.Containers ?? {}).length } : undefined;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    };
    const shoalRange = (n: { subnet: string; ipRange: string | undefined }): string | undefined => {
      const split = splitGatewaySubnet(n.subnet);
      return split && n.ipRange === split.docker ? split.shoal : undefined;
    };
    const found = await read();
    if (found) return { gateway: found.gateway, subnet: found.subnet, shoalRange: shoalRange(found) };
    const create = (ipam?: { Subnet: string; Gateway: string; IPRange: string }): Promise<unknown> =>
      this.docker.createNetwork({
        Name: GWBRIDGE,
        Driver: 'bridge',
        CheckDuplicate: true,
        Labels: { [LABEL_CLUSTER]: this.options.cluster },
        ...(ipam ? { IPAM: { Driver: 'default', Config: [ipam] } } : {}),
        Options: {
          'com.docker.network.bridge.name': GWBRIDGE,
          // tasks talk to each other over their overlays, never through the gateway bridge
          'com.docker.network.bridge.enable_icc': 'false',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
        },
      });
    // Docker picks a free subnet; made again at once, empty, with Docker kept to its lower half
    await create();
    const first = await read();
    if (!first) throw new ShoalError('gwbridge_failed', `Docker made network ${GWBRIDGE} without an IPv4 subnet`);
    const split = splitGatewaySubnet(first.subnet);
    if (!split || first.containers > 0) return { gateway: first.gateway, subnet: first.subnet, shoalRange: undefined };
    await this.docker.getNetwork(GWBRIDGE).remove();
    await create({ Subnet: first.subnet, Gateway: first.gateway, IPRange: split.docker });
    const made = await read();
    if (!made) throw new ShoalError('gwbridge_failed', `Docker made network ${GWBRIDGE} without an IPv4 subnet`);
    return { gateway: made.gateway, subnet: made.subnet, shoalRange: shoalRange(made) };
  }

  /**
   * A network of a local driver (bridge, macvlan, ipvlan) is Docker's own, made on each host
   * that runs one of its tasks, with the cluster's subnet and gateway so addresses mean the same
   * everywhere. A Docker network of that name that is not Shoal's is never taken over.
   */
  async ensureLocalNetwork(n: NetworkAssignment): Promise<void> {
    try {
      const info = (await this.docker.getNetwork(n.name).inspect()) as { Labels?: Record<string, string> | null };
      if (info.Labels?.[LABEL_NETWORK] === n.networkId) return;
      throw new ShoalError('network_name_taken', `a Docker network named ${n.name} already exists on this host and is not Shoal's`, 'remove or rename it on this host');
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    try {
      await this.docker.createNetwork({
        Name: n.name,
        Driver: n.driver,
        CheckDuplicate: true,
        Options: n.driverOpts,
        IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
        Labels: { [LABEL_NETWORK]: n.networkId, [LABEL_CLUSTER]: this.options.cluster },
      });
    } catch (err) {
      throw new ShoalError(
        'network_create_failed',
        `this host cannot make ${n.driver} network ${n.name}: ${err instanceof Error ? err.message.replace(/^\(HTTP code \d+\)\s*\S+\s*-\s*/, '').trim() : String(err)}`,
        n.driver === 'macvlan' || n.driver === 'ipvlan' ? 'check the parent interface (-o parent=…) exists on every host' : 'check the subnet is free on this host',
      );
    }
  }

  /** Local networks of this cluster on this host, to remove those no task uses any more. */
  async localNetworks(): Promise<{ name: string; networkId: string }[]> {
    const nets = (await this.docker.listNetworks({ filters: { label: [`${LABEL_CLUSTER}=${this.options.cluster}`, LABEL_NETWORK] } })) as {
      Name: string;
      Labels?: Record<string, string> | null;
    }[];
    return nets.map((n) => ({ name: n.Name, networkId: n.Labels?.[LABEL_NETWORK] ?? '' }));
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(name).remove();
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }

  /**
   * The cluster's containers on this node. One list call; a container is inspected again only
   * when its state or health changed since it was last seen (or an event said it did): a
   * converge pass looks at every container, and an inspect each made passes cost O(containers)
   * requests to a dockerd busy starting them.
   */
  async list(): Promise<TaskContainer[]> {
    const summaries = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_NODE}=${this.options.nodeId}`, `${LABEL_CLUSTER}=${this.options.cluster}`] },
    });
    const out: TaskContainer[] = [];
    const seen = new Set<string>();
    for (const s of summaries) {
      seen.add(s.Id);
      const mark = `${s.State}|${/\((healthy|unhealthy|health: starting)\)/.exec(s.Status)?.[1] ?? ''}`;
      const known = this.#seen.get(s.Id);
      const c = known && known.mark === mark ? known.container : await this.inspect(s.Id);
      if (!c) continue;
      if (s.State === 'running' || s.State === 'exited') this.#seen.set(s.Id, { mark, container: c });
      out.push(c);
    }
    for (const id of this.#seen.keys()) if (!seen.has(id)) this.#seen.delete(id);
    return out;
  }

  /** The container changed behind the list's back (an event said so): inspect it again. */
  forget(id: string): void {
    this.#seen.delete(id);
  }

  /** Events were missed (dockerd was away): inspect every container again. */
  forgetAll(): void {
    this.#seen.clear();
  }

  async inspect(id: string): Promise<TaskContainer | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      const egress = info.Config.Labels[LABEL_EGRESS] || undefined;
      return {
        id: info.Id,
        taskId: info.Config.Labels[LABEL_TASK] ?? '',
        state: info.State.Status,
        running: info.State.Running,
        pid: info.State.Pid,
        exitCode: info.State.ExitCode,
        startedAt: info.State.StartedAt,
        specVersion: Number(info.Config.Labels[LABEL_SPEC_VERSION] ?? 0),
        gwAddress: egress ?? (info.NetworkSettings.Networks[GWBRIDGE]?.IPAddress || undefined),
        egress,
        addresses: {
          ...Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([k, v]) => [k, v.IPAddress])),
          ...(egress ? { [GWBRIDGE]: egress } : {}),
        },
        health: healthOf(info.State.Health?.Status),
        healthLog: info.State.Health?.Log?.at(-1)?.Output?.trim(),
        ports: portsOf(info.NetworkSettings.Ports),
      };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Creates the task's container. Overlay tasks sit on the gateway bridge (default route, NAT,
   * published ports) and get their overlay interfaces from the overlay driver after start; their
   * resolv.conf points at the host's resolver. Other modes are Docker's own.
   */
  async create(task: TaskAssignment, plan: ContainerNetworks): Promise<string> {
    const c = task.container;
    const name = containerName(task.serviceName, task.slot ?? this.options.nodeId, task.taskId);
    const mode = task.networkMode;
    const dockerNets = [...(plan.gwbridge ? [{ name: GWBRIDGE, address: undefined, aliases: [] }] : []), ...plan.local];
    let networkMode: string = dockerNets[0]?.name ?? GWBRIDGE;
    if (mode?.kind === 'host' || mode?.kind === 'none') networkMode = mode.kind;
    else if (mode?.kind === 'container') networkMode = `container:${await this.resolveContainer(mode.container)}`;
    const dns = plan.nameserver === undefined ? undefined : { nameserver: plan.nameserver };
    const binds: string[] = [];
    const dir = join(this.options.dataDir, 'tasks', task.taskId);
    if ((dns || plan.egress) && !mode) await mkdir(dir, { recursive: true });
    if (dns && !mode) {
      await writeFile(join(dir, 'resolv.conf'), `nameserver ${dns.nameserver}\noptions ndots:0\n`);
      binds.push(`${join(dir, 'resolv.conf')}:/etc/resolv.conf:ro`);
    }
    // with no Docker network there is no /etc/hosts from Docker: the same lines come from here
    const egress = plan.egress !== undefined && !mode ? plan.egress : undefined;
    if (egress !== undefined) {
      await writeFile(join(dir, 'hosts'), hostsFile(egress, c.hostname ?? name));
      binds.push(`${join(dir, 'hosts')}:/etc/hosts:ro`);
    }
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of mode?.kind === 'container' ? [] : task.hostPorts) {
      const key = `${p.target}/${p.protocol}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.hostIp ?? '', HostPort: p.published === undefined ? '' : String(p.published) });
    }
    const created = await this.docker.createContainer({
      name,
      Image: c.image,
      ...(c.command ? { Cmd: c.command } : {}),
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      Env: Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      // host and container:NAME modes take the other stack's hostname and ports, as docker run does
      ...(c.hostname && !mode ? { Hostname: c.hostname } : {}),
      Labels: {
        ...c.labels,
        [LABEL_TASK]: task.taskId,
        [LABEL_SERVICE_ID]: task.serviceId,
        [LABEL_SERVICE]: task.serviceName,
        [LABEL_NODE]: this.options.nodeId,
        [LABEL_CLUSTER]: this.options.cluster,
        [LABEL_SPEC_VERSION]: String(task.specVersion),
        ...(egress !== undefined ? { [LABEL_EGRESS]: egress } : {}),
      },
      ...(egress !== undefined ? { NetworkDisabled: true } : {}),
      ExposedPorts: exposed,
      ...(c.healthcheck
        ? {
            Healthcheck: {
              Test: c.healthcheck.test,
              ...(c.healthcheck.intervalMs !== undefined ? { Interval: c.healthcheck.intervalMs * MS } : {}),
              ...(c.healthcheck.timeoutMs !== undefined ? { Timeout: c.healthcheck.timeoutMs * MS } : {}),
              ...(c.healthcheck.retries !== undefined ? { Retries: c.healthcheck.retries } : {}),
              ...(c.healthcheck.startPeriodMs !== undefined ? { StartPeriod: c.healthcheck.startPeriodMs * MS } : {}),
            },
          }
        : {}),
      HostConfig: {
        ...(egress !== undefined ? {} : { NetworkMode: networkMode }),
        PortBindings: bindings,
        Binds: binds,
        RestartPolicy: { Name: 'no' },
        ...(task.limits.nanoCpus ? { NanoCpus: task.limits.nanoCpus } : {}),
        ...(task.limits.memoryBytes ? { Memory: task.limits.memoryBytes } : {}),
      },
      ...(mode || egress !== undefined
        ? {}
        : {
            NetworkingConfig: {
              EndpointsConfig: Object.fromEntries(
                dockerNets.slice(0, 1).map((n) => [n.name, { Aliases: n.aliases, ...(n.address ? { IPAMConfig: { IPv4Address: n.address } } : {}) }]),
              ),
            },
          }),
    });
    if (egress !== undefined && !c.hostname) await writeFile(join(dir, 'hosts'), hostsFile(egress, created.id.slice(0, 12)));
    // Docker creates a container on one network; the others are connected before it starts.
    if (!mode && egress === undefined) {
      for (const n of dockerNets.slice(1)) {
        await this.docker.getNetwork(n.name).connect({ Container: created.id, EndpointConfig: { Aliases: n.aliases, ...(n.address ? { IPAMConfig: { IPv4Address: n.address } } : {}) } });
      }
    }
    return created.id;
  }

  /**
   * `container:NAME` joins another container's network stack: NAME is a container on this host,
   * or a service of the cluster with a running task here (the one a person would mean).
   */
  async resolveContainer(name: string): Promise<string> {
    const running = await this.docker.listContainers({ filters: { label: [`${LABEL_SERVICE}=${name}`, `${LABEL_NODE}=${this.options.nodeId}`], status: ['running'] } });
    if (running[0]) return running[0].Id;
    try {
      return (await this.docker.getContainer(name).inspect()).Id;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    throw new ShoalError('container_not_found', `network mode container:${name} names no container and no running task of a service on this host`, `run ${name} on the same host first (a placement constraint can pin both)`);
  }

  async start(id: string): Promise<void> {
    this.forget(id);
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (statusCode(err) !== 304) throw err; // 304: already started
    }
  }

  async stop(id: string, graceSeconds = 10): Promise<void> {
    this.forget(id);
    try {
      await this.docker.getContainer(id).stop({ t: graceSeconds });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 304 && code !== 404) throw err;
    }
  }

  /** The last line a container wrote (stdout or stderr), for a task's exit report; undefined if none or gone. */
  async lastLogLine(id: string): Promise<string | undefined> {
    try {
      const buf = await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: 1, follow: false });
      const text = new FrameReader()
        .push(buf)
        .map((f) => f.data)
        .join('');
      const line = text.trimEnd().split('\n').pop()?.trim();
      return line ? line.slice(0, 200) : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(id: string): Promise<void> {
    this.forget(id);
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}
