import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { ShoalError, type TaskAssignment } from '@shoal/core';
import { LABEL_CLUSTER, LABEL_NODE, LABEL_SERVICE, LABEL_SERVICE_ID, LABEL_SPEC_VERSION, LABEL_TASK, containerName } from './labels.js';

/** The host-local bridge that gives overlay tasks their default route, NAT and published ports. */
export const GWBRIDGE = 'shoal_gwbridge';

export interface ExecutorOptions {
  docker: Docker;
  cluster: string;
  nodeId: string;
  /** Where per-task files (resolv.conf) are written; must be visible to dockerd. */
  dataDir: string;
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
}

function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/**
 * Runs tasks as containers on this host's dockerd. Docker's restart policy stays off: restarts
 * are the orchestrator's decision, made from what the agent reports.
 */
export class DockerExecutor {
  readonly docker: Docker;

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

  /** Creates the gateway bridge once per host; returns its gateway address (the DNS resolver's). */
  async ensureGwBridge(): Promise<{ gateway: string; subnet: string }> {
    const read = async (): Promise<{ gateway: string; subnet: string } | undefined> => {
      try {
        const info = (await this.docker.getNetwork(GWBRIDGE).inspect()) as { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } };
        const cfg = info.IPAM?.Config?.[0];
        return cfg?.Gateway && cfg.Subnet ? { gateway: cfg.Gateway, subnet: cfg.Subnet } : undefined;
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    };
    const found = await read();
    if (found) return found;
    await this.docker.createNetwork({
      Name: GWBRIDGE,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: { [LABEL_CLUSTER]: this.options.cluster },
      Options: {
        'com.docker.network.bridge.name': GWBRIDGE,
        // tasks talk to each other over their overlays, never through the gateway bridge
        'com.docker.network.bridge.enable_icc': 'false',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
      },
    });
    const made = await read();
    if (!made) throw new ShoalError('gwbridge_failed', `Docker made network ${GWBRIDGE} without an IPv4 subnet`);
    return made;
  }

  async list(): Promise<TaskContainer[]> {
    const summaries = await this.docker.listContainers({
      all: true,
      filters: { label: [`${LABEL_NODE}=${this.options.nodeId}`, `${LABEL_CLUSTER}=${this.options.cluster}`] },
    });
    const out: TaskContainer[] = [];
    for (const s of summaries) {
      const c = await this.inspect(s.Id);
      if (c) out.push(c);
    }
    return out;
  }

  async inspect(id: string): Promise<TaskContainer | undefined> {
    try {
      const info = await this.docker.getContainer(id).inspect();
      return {
        id: info.Id,
        taskId: info.Config.Labels[LABEL_TASK] ?? '',
        state: info.State.Status,
        running: info.State.Running,
        pid: info.State.Pid,
        exitCode: info.State.ExitCode,
        startedAt: info.State.StartedAt,
        specVersion: Number(info.Config.Labels[LABEL_SPEC_VERSION] ?? 0),
        gwAddress: info.NetworkSettings.Networks[GWBRIDGE]?.IPAddress || undefined,
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
  async create(task: TaskAssignment, dns: { nameserver: string } | undefined): Promise<string> {
    const c = task.container;
    const name = containerName(task.serviceName, task.slot ?? this.options.nodeId, task.taskId);
    const mode = task.networkMode;
    let networkMode: string = GWBRIDGE;
    if (mode?.kind === 'host' || mode?.kind === 'none') networkMode = mode.kind;
    else if (mode?.kind === 'container') networkMode = `container:${mode.container}`;
    const binds: string[] = [];
    if (dns && networkMode === GWBRIDGE) {
      const dir = join(this.options.dataDir, 'tasks', task.taskId);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'resolv.conf'), `nameserver ${dns.nameserver}\noptions ndots:0\n`);
      binds.push(`${join(dir, 'resolv.conf')}:/etc/resolv.conf:ro`);
    }
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of task.hostPorts) {
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
      ...(c.hostname && networkMode !== 'host' ? { Hostname: c.hostname } : {}),
      Labels: {
        ...c.labels,
        [LABEL_TASK]: task.taskId,
        [LABEL_SERVICE_ID]: task.serviceId,
        [LABEL_SERVICE]: task.serviceName,
        [LABEL_NODE]: this.options.nodeId,
        [LABEL_CLUSTER]: this.options.cluster,
        [LABEL_SPEC_VERSION]: String(task.specVersion),
      },
      ExposedPorts: exposed,
      HostConfig: {
        NetworkMode: networkMode,
        PortBindings: bindings,
        Binds: binds,
        RestartPolicy: { Name: 'no' },
        ...(task.limits.nanoCpus ? { NanoCpus: task.limits.nanoCpus } : {}),
        ...(task.limits.memoryBytes ? { Memory: task.limits.memoryBytes } : {}),
      },
    });
    return created.id;
  }

  async start(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (statusCode(err) !== 304) throw err; // 304: already started
    }
  }

  async stop(id: string, graceSeconds = 10): Promise<void> {
    try {
      await this.docker.getContainer(id).stop({ t: graceSeconds });
    } catch (err) {
      const code = statusCode(err);
      if (code !== 304 && code !== 404) throw err;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
}
