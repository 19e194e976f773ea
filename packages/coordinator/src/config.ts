import { ShoalError, parseSettingsFile, setting } from '@shoal/core';
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
  /** A snapshot of the store is taken, and the log behind it dropped, every this many applied entries. */
  snapshotEvery: number;
  /** Entries kept behind a snapshot, so a follower slightly behind gets entries, not a whole snapshot. */
  snapshotKeep: number;
  /** A Raft log segment is closed past this size; whole segments behind a snapshot are deleted. */
  walSegmentBytes: number;
  /** The manager join token, needed with --join (see `shoal cluster join-token coordinator`). */
  joinToken?: string | undefined;
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
  snapshotEvery: 10_000,
  snapshotKeep: 500,
  walSegmentBytes: 64 << 20,
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

/** The bounds of the whole-number settings, checked the same way for the file and the flags. */
export const COUNT_SETTINGS = {
  snapshotEvery: { min: 10, max: 10_000_000, what: 'applied entries between snapshots' },
  snapshotKeep: { min: 0, max: 10_000_000, what: 'entries kept behind a snapshot' },
  walSegmentBytes: { min: 4096, max: 1 << 30, what: 'bytes per Raft log segment' },
} as const;

/** A whole number within the bounds of one of COUNT_SETTINGS, from the file or a flag. */
export function parseCount(key: keyof typeof COUNT_SETTINGS, value: unknown, where: string): number {
  const { min, max, what } = COUNT_SETTINGS[key];
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) throw bad(`${where}: expected ${what}, a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Reads the coordinator's config file (YAML or JSON): every key optional and the long form of a
 * flag; unknown keys and wrong types refused with the key's name, so a typo never leaves a
 * default silently in place.
 */
export function parseCoordinatorConfigFile(text: string, file: string): Partial<CoordinatorConfig> {
  return parseSettingsFile<CoordinatorConfig>(text, file, {
    cluster: (v, where, out) => (out.cluster = setting.string(v, where)),
    id: (v, where, out) => (out.id = parseMemberId(v, where)),
    listen: (v, where, out) => (out.listen = parseEndpoint(setting.string(v, where), where)),
    peers: (v, where, out) => (out.peers = parseMembers(v, where)),
    join: (v, where, out) => (out.join = parseMembers(v, where)),
    standby: (v, where, out) => (out.standby = setting.boolean(v, where)),
    name: (v, where, out) => (out.name = setting.string(v, where)),
    dataDir: (v, where, out) => (out.dataDir = setting.string(v, where)),
    nats: (v, where, out) => (out.natsUrls = setting.strings(v, where)),
    natsUser: (v, where, out) => (out.natsUser = setting.string(v, where)),
    heartbeatMs: (v, where, out) => (out.heartbeatMs = setting.integer(v, where, 50, 60_000, 'milliseconds between 50 and 60000')),
    snapshotEvery: (v, where, out) => (out.snapshotEvery = parseCount('snapshotEvery', v, where)),
    snapshotKeep: (v, where, out) => (out.snapshotKeep = parseCount('snapshotKeep', v, where)),
    walSegmentBytes: (v, where, out) => (out.walSegmentBytes = parseCount('walSegmentBytes', v, where)),
    joinToken: (v, where, out) => (out.joinToken = setting.string(v, where)),
    electionMs: (v, where, out) => (out.electionMs = setting.integer(v, where, 200, 60_000, 'milliseconds between 200 and 60000')),
  });
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
  if (c.join && !c.joinToken) throw new ShoalError('usage', '--join needs the cluster\'s manager join token', 'pass --token TOKEN (print it with `shoal cluster join-token -q coordinator`)');
  if (c.peers && c.standby) throw new ShoalError('usage', '--standby only applies with --join', 'a founding member is always a voter');
  const listen = c.listen ?? c.peers?.get(c.id);
  if (!listen) {
    throw new ShoalError('usage', c.peers ? `--peers does not list this coordinator (--id ${c.id})` : 'no --listen address given', c.peers ? `add ${c.id}=HOST:PORT` : 'pass --listen HOST:PORT, where the other coordinators reach this one');
  }
  const mine = c.peers?.get(c.id);
  if (mine && (mine.host !== listen.host || mine.port !== listen.port)) throw new ShoalError('usage', `--listen ${listen.host}:${listen.port} differs from this coordinator's entry in --peers`, 'give one address');
  return { ...c, id: c.id, cluster: c.cluster, listen };
}
