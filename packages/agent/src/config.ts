import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ShoalError, parseSettingsFile, setting } from '@shoal/core';
import type { Kernel } from './kernel.js';

export interface AgentConfig {
  cluster: string;
  natsUrls: string[];
  natsUser?: string | undefined;
  natsPassword?: string | undefined;
  /** Underlay address other hosts reach this one at (the VXLAN endpoint). */
  advertise?: string | undefined;
  /** The interface that address is on; found from the address when not given. */
  underlayDevice?: string | undefined;
  dataDir: string;
  labels: Record<string, string>;
  dockerSocket: string;
  dnsPort: number;
  /**
   * Processes answering DNS besides the agent's own: they share its UDP socket while the agent
   * answers 15,000 queries/s or more, so other cores help under load (see DnsServerOptions.workers).
   * Default: one per core beyond the first, at most 3.
   */
  dnsWorkers?: number | undefined;
  /** What a DNS worker process runs: the agent's own entry (bin.js, or the bundle). None: no workers. */
  dnsWorkerScript?: string | undefined;
  nodeId?: string | undefined;
}

export const AGENT_DEFAULTS = {
  natsUrls: ['nats://127.0.0.1:4222'],
  dataDir: '/var/lib/shoal/agent',
  dockerSocket: '/var/run/docker.sock',
  dnsPort: 53,
} as const;

/**
 * The address other hosts reach this one at: the given one, or the first IPv4 address of the
 * interface the default route leaves by (as Swarm's --advertise-addr does when left out).
 */
export async function detectUnderlay(kernel: Kernel, advertise: string | undefined): Promise<{ address: string; device: string }> {
  const addrs = JSON.parse(await kernel.run(['ip', '-j', '-4', 'addr', 'show'])) as { ifname: string; addr_info: { local: string }[] }[];
  if (advertise) {
    const dev = addrs.find((a) => a.addr_info.some((i) => i.local === advertise));
    if (!dev) throw new ShoalError('bad_advertise', `no interface of this host has the address ${advertise}`, 'pass one of its own addresses with --advertise');
    return { address: advertise, device: dev.ifname };
  }
  const routes = JSON.parse(await kernel.run(['ip', '-j', '-4', 'route', 'show', 'default'])) as { dev?: string }[];
  const dev = routes[0]?.dev;
  const address = addrs.find((a) => a.ifname === dev)?.addr_info[0]?.local;
  if (!dev || !address) {
    throw new ShoalError('no_advertise', 'cannot tell this host\'s address: it has no default route with an IPv4 address', 'pass --advertise ADDRESS');
  }
  return { address, device: dev };
}

/** A node keeps its id across restarts: it is generated once and kept in the data directory. */
export async function loadNodeId(dataDir: string, given: string | undefined): Promise<string> {
  const file = join(dataDir, 'node-id');
  if (given) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, `${given}\n`);
    return given;
  }
  try {
    const id = (await readFile(file, 'utf8')).trim();
    if (id) return id;
  } catch {
    // first start
  }
  const id = randomBytes(8).toString('hex');
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${id}\n`);
  return id;
}

/**
 * Reads the agent's config file (YAML or JSON): every key optional and the long form of a flag;
 * unknown keys and wrong types refused with the key's name. Flags override it.
 */
export function parseAgentConfigFile(text: string, file: string): Partial<AgentConfig> {
  return parseSettingsFile<AgentConfig>(text, file, {
    cluster: (v, where, out) => (out.cluster = setting.string(v, where)),
    nats: (v, where, out) => (out.natsUrls = setting.strings(v, where)),
    natsUser: (v, where, out) => (out.natsUser = setting.string(v, where)),
    advertise: (v, where, out) => (out.advertise = setting.string(v, where)),
    underlayDevice: (v, where, out) => (out.underlayDevice = setting.string(v, where)),
    dataDir: (v, where, out) => (out.dataDir = setting.string(v, where)),
    labels: (v, where, out) => (out.labels = setting.stringMap(v, where)),
    dockerSocket: (v, where, out) => (out.dockerSocket = setting.string(v, where)),
    dnsPort: (v, where, out) => (out.dnsPort = setting.integer(v, where, 1, 65535, 'a port number')),
    dnsWorkers: (v, where, out) => (out.dnsWorkers = setting.integer(v, where, 0, 16)),
    nodeId: (v, where, out) => (out.nodeId = setting.string(v, where)),
  });
}
