import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ShoalError } from '@shoal/core';
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
   * answers 5,000 queries/s or more, so other cores help under load (see DnsServerOptions.workers).
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

/** The keys of the agent's config file (YAML or JSON), each the long form of a flag. */
const FILE_KEYS = ['cluster', 'nats', 'natsUser', 'advertise', 'underlayDevice', 'dataDir', 'labels', 'dockerSocket', 'dnsPort', 'dnsWorkers', 'nodeId'] as const;

/**
 * Reads the agent's config file: every key optional, unknown keys and wrong types refused with
 * the key's name (a typo must not silently leave a default in place). Flags override it.
 */
export function parseAgentConfigFile(text: string, file: string): Partial<AgentConfig> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ShoalError('bad_config', `${file} is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ShoalError('bad_config', `${file}: expected a mapping of settings`);
  const out: Partial<AgentConfig> = {};
  const str = (key: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') throw new ShoalError('bad_config', `${file}: ${key}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    switch (key as (typeof FILE_KEYS)[number]) {
      case 'cluster':
        out.cluster = str(key, v);
        break;
      case 'nats':
        out.natsUrls = Array.isArray(v) ? v.map((u, i) => str(`${key}[${i}]`, u)) : [str(key, v)];
        break;
      case 'natsUser':
        out.natsUser = str(key, v);
        break;
      case 'advertise':
        out.advertise = str(key, v);
        break;
      case 'underlayDevice':
        out.underlayDevice = str(key, v);
        break;
      case 'dataDir':
        out.dataDir = str(key, v);
        break;
      case 'dockerSocket':
        out.dockerSocket = str(key, v);
        break;
      case 'nodeId':
        out.nodeId = str(key, v);
        break;
      case 'dnsPort':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new ShoalError('bad_config', `${file}: dnsPort: expected a port number, got ${JSON.stringify(v)}`);
        out.dnsPort = v;
        break;
      case 'dnsWorkers':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 16) throw new ShoalError('bad_config', `${file}: dnsWorkers: expected a whole number from 0 to 16, got ${JSON.stringify(v)}`);
        out.dnsWorkers = v;
        break;
      case 'labels':
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ShoalError('bad_config', `${file}: labels: expected a mapping of label to value`);
        out.labels = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, lv]) => [k, str(`labels.${k}`, lv)]));
        break;
      default:
        throw new ShoalError('bad_config', `${file}: unknown setting "${key}"`, `the settings are ${FILE_KEYS.join(', ')}`);
    }
  }
  return out;
}
