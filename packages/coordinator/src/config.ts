import { parse as parseYaml } from 'yaml';
import { ShoalError } from '@shoal/core';
import type { Endpoint, NodeId } from 'raft-ts';

/** Everything a coordinator process is started with: its config file, overridden by its flags. */
export interface CoordinatorConfig {
  cluster: string;
  /** This coordinator's Raft member id: a positive whole number, never reused in a cluster. */
  id: NodeId;
  /** Where this coordinator takes Raft messages from the others. */
  listen?: Endpoint | undefined;
  /** The founding members (this one included): a new cluster's first configuration. */
  peers?: Map<NodeId, Endpoint> | undefined;
  /** Members of a running cluster to join through (this coordinator is then added to it). */
  join?: Map<NodeId, Endpoint> | undefined;
  /** Join as a standby (a learner that copies the store) until `node promote`, not as a voter. */
  standby: boolean;
  /** The name `node promote` / `node demote` know this coordinator by; the hostname by default. */
  name?: string | undefined;
  dataDir: string;
  natsUrls: string[];
  natsUser?: string | undefined;
  heartbeatMs: number;
  /**
   * How long followers wait without hearing from the leader before electing another (the real
   * timeout is drawn from [electionMs, 2 × electionMs)). Short means fast failover; it must stay
   * well above the longest pause of the leader's event loop, or leadership flaps.
   */
  electionMs: number;
}

export const COORDINATOR_DEFAULTS = {
  dataDir: '/var/lib/shoal/coordinator',
  natsUrls: ['nats://127.0.0.1:4222'],
  heartbeatMs: 1000,
  electionMs: 500,
  standby: false,
} as const;

function bad(what: string, todo?: string): ShoalError {
  return new ShoalError('bad_config', what, todo);
}

/** `HOST:PORT`, the host an IPv4 address or a name. */
export function parseEndpoint(value: string, where: string): Endpoint {
  const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw bad(`${where}: expected HOST:PORT, got ${JSON.stringify(value)}`, 'e.g. 10.1.0.1:7100');
  return { host: m[1] ?? '', port };
}

export function parseMemberId(value: unknown, where: string): NodeId {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw bad(`${where}: expected a whole number ≥ 1, got ${JSON.stringify(value)}`);
  return n;
}

/** `ID=HOST:PORT,…` (a list in the file may also be a mapping of id to HOST:PORT). */
export function parseMembers(value: unknown, where: string): Map<NodeId, Endpoint> {
  const out = new Map<NodeId, Endpoint>();
  const add = (id: NodeId, ep: Endpoint, part: string): void => {
    if (out.has(id)) throw bad(`${where}: member ${id} is listed twice`, `list each member once (${part})`);
    out.set(id, ep);
  };
  if (typeof value === 'string') {
    for (const part of value.split(',')) {
      const m = /^\s*([^=]+)=(.+)$/.exec(part);
      if (!m) throw bad(`${where}: expected ID=HOST:PORT[,…], got ${JSON.stringify(part)}`, 'e.g. 1=10.1.0.1:7100,2=10.1.0.2:7100');
      add(parseMemberId(m[1], where), parseEndpoint(m[2] ?? '', where), part);
    }
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v !== 'string') throw bad(`${where}.${k}: expected HOST:PORT, got ${JSON.stringify(v)}`);
      add(parseMemberId(k, where), parseEndpoint(v, `${where}.${k}`), k);
    }
  } else {
    throw bad(`${where}: expected ID=HOST:PORT[,…] or a mapping of id to HOST:PORT`);
  }
  if (out.size === 0) throw bad(`${where}: no member given`);
  return out;
}

const FILE_KEYS = ['cluster', 'id', 'listen', 'peers', 'join', 'standby', 'name', 'dataDir', 'nats', 'natsUser', 'heartbeatMs', 'electionMs'] as const;

/**
 * Reads the coordinator's config file (YAML or JSON): every key optional and the long form of a
 * flag; unknown keys and wrong types refused with the key's name, so a typo never leaves a
 * default silently in place.
 */
export function parseCoordinatorConfigFile(text: string, file: string): Partial<CoordinatorConfig> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw bad(`${file} is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, 'fix the file');
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad(`${file}: expected a mapping of settings`);
  const out: Partial<CoordinatorConfig> = {};
  const str = (key: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') throw bad(`${file}: ${key}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  };
  for (const [key, v] of Object.entries(doc as Record<string, unknown>)) {
    switch (key as (typeof FILE_KEYS)[number]) {
      case 'cluster':
        out.cluster = str(key, v);
        break;
      case 'id':
        out.id = parseMemberId(v, `${file}: id`);
        break;
      case 'listen':
        out.listen = parseEndpoint(str(key, v), `${file}: listen`);
        break;
      case 'peers':
        out.peers = parseMembers(v, `${file}: peers`);
        break;
      case 'join':
        out.join = parseMembers(v, `${file}: join`);
        break;
      case 'standby':
        if (typeof v !== 'boolean') throw bad(`${file}: standby: expected true or false, got ${JSON.stringify(v)}`);
        out.standby = v;
        break;
      case 'name':
        out.name = str(key, v);
        break;
      case 'dataDir':
        out.dataDir = str(key, v);
        break;
      case 'nats':
        out.natsUrls = Array.isArray(v) ? v.map((u, i) => str(`${key}[${i}]`, u)) : [str(key, v)];
        break;
      case 'natsUser':
        out.natsUser = str(key, v);
        break;
      case 'heartbeatMs':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 50 || v > 60_000) throw bad(`${file}: heartbeatMs: expected milliseconds between 50 and 60000, got ${JSON.stringify(v)}`);
        out.heartbeatMs = v;
        break;
      case 'electionMs':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 200 || v > 60_000) throw bad(`${file}: electionMs: expected milliseconds between 200 and 60000, got ${JSON.stringify(v)}`);
        out.electionMs = v;
        break;
      default:
        throw bad(`${file}: unknown setting "${key}"`, `the settings are ${FILE_KEYS.join(', ')}`);
    }
  }
  return out;
}

/**
 * The file's settings overridden by the flags given, defaults filled in, and the whole checked
 * once: a coordinator either founds a cluster (--peers) or joins one (--join), and knows where
 * it listens for Raft.
 */
export function resolveCoordinatorConfig(file: Partial<CoordinatorConfig>, flags: Partial<CoordinatorConfig>): CoordinatorConfig & { listen: Endpoint } {
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) as Partial<CoordinatorConfig>;
  const c = { ...COORDINATOR_DEFAULTS, natsUrls: [...COORDINATOR_DEFAULTS.natsUrls], ...file, ...defined };
  if (!c.cluster) throw new ShoalError('usage', 'no cluster id given', 'pass --cluster ID (or cluster: in the config file)');
  if (c.id === undefined) throw new ShoalError('usage', "no member id given", 'pass --id N (or id: in the config file)');
  if (c.peers && c.join) throw new ShoalError('usage', '--peers and --join were both given', 'found a new cluster with --peers, or join a running one with --join, not both');
  if (!c.peers && !c.join) throw new ShoalError('usage', 'neither --peers nor --join was given', 'found a cluster with --peers 1=HOST:PORT,… or join one with --join ID=HOST:PORT,…');
  if (c.join?.has(c.id)) throw new ShoalError('usage', `--join lists this coordinator (${c.id})`, 'list the members to join through, and give this one a new --id');
  if (c.peers && c.standby) throw new ShoalError('usage', '--standby only applies with --join', 'a founding member is always a voter');
  const listen = c.listen ?? c.peers?.get(c.id);
  if (!listen) {
    throw new ShoalError('usage', c.peers ? `--peers does not list this coordinator (--id ${c.id})` : 'no --listen address given', c.peers ? `add ${c.id}=HOST:PORT` : 'pass --listen HOST:PORT, where the other coordinators reach this one');
  }
  const mine = c.peers?.get(c.id);
  if (mine && (mine.host !== listen.host || mine.port !== listen.port)) throw new ShoalError('usage', `--listen ${listen.host}:${listen.port} differs from this coordinator's entry in --peers`, 'give one address');
  return { ...c, id: c.id, cluster: c.cluster, listen };
}
