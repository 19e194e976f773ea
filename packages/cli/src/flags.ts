import {
  DEFAULT_RESTART_POLICY,
  DEFAULT_UPDATE_CONFIG,
  NETWORK_DRIVERS,
  ShoalError,
  parseBytes,
  parseConstraint,
  parseCpus,
  parseShortPort,
  type NetworkSpec,
  type Port,
  type ServiceNetwork,
  type ServiceSpec,
} from '@shoal/core';

/**
 * The flags of `docker service create` and `docker network create`, turned into specs. Pure:
 * every mistake is a ShoalError naming the flag and the value, raised before anything is sent.
 */

function usage(what: string, todo: string): ShoalError {
  return new ShoalError('bad_flag', what, todo);
}

/** `key=value` (or a bare `key`, for labels, as Docker takes it). */
export function parseKeyValue(flag: string, text: string, { valueRequired = true } = {}): [string, string] {
  const at = text.indexOf('=');
  if (at === 0 || (at < 0 && valueRequired)) throw usage(`${flag} ${JSON.stringify(text)} is not KEY=VALUE`, `e.g. ${flag} zone=eu`);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

export function keyValues(flag: string, list: readonly string[] = [], opts?: { valueRequired?: boolean }): Record<string, string> {
  return Object.fromEntries(list.map((t) => parseKeyValue(flag, t, opts)));
}

/** `512M`, `1.5G`, `1024`: as Docker reads --limit-memory. */
export function memoryFlag(flag: string, text: string): number {
  const n = parseBytes(text);
  if (n === undefined || n <= 0) throw usage(`${flag} ${JSON.stringify(text)} is not a memory size`, `e.g. ${flag} 512M or ${flag} 1.5G`);
  return n;
}

/** `0.5`, `2`: CPUs, as Docker reads --limit-cpu. */
export function cpuFlag(flag: string, text: string): number {
  const n = parseCpus(text);
  if (n === undefined) throw usage(`${flag} ${JSON.stringify(text)} is not a number of CPUs`, `e.g. ${flag} 0.5`);
  return n;
}

const PORT_KEYS = new Set(['target', 'published', 'protocol', 'mode', 'host_ip']);

/**
 * `-p 8080:80`, `-p 80`, `-p 127.0.0.1:8080:80/udp`, or the long syntax
 * `-p published=8080,target=80,protocol=udp,mode=host`.
 */
export function portFlag(text: string): Port[] {
  if (text.includes('=')) {
    const fields = Object.fromEntries(
      text.split(',').map((part) => {
        const [k, v] = parseKeyValue('--publish', part.trim());
        if (!PORT_KEYS.has(k)) throw usage(`--publish ${JSON.stringify(text)}: unknown field ${k}`, 'use target, published, protocol, mode or host_ip');
        return [k, v];
      }),
    );
    const number = (k: string): number | undefined => {
      const v = fields[k];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 65_535) throw usage(`--publish ${k}=${v} is not a port number`, 'use a whole number from 1 to 65535');
      return n;
    };
    const target = number('target');
    if (target === undefined) throw usage(`--publish ${JSON.stringify(text)} has no target`, 'e.g. --publish published=8080,target=80');
    const protocol = fields.protocol ?? 'tcp';
    const mode = fields.mode ?? 'ingress';
    if (protocol !== 'tcp' && protocol !== 'udp') throw usage(`--publish protocol=${protocol} is not tcp or udp`, 'use protocol=tcp or protocol=udp');
    if (mode !== 'ingress' && mode !== 'host') throw usage(`--publish mode=${mode} is not ingress or host`, 'use mode=host or mode=ingress');
    const published = number('published');
    return [{ target, protocol, mode, ...(published !== undefined ? { published } : {}), ...(fields.host_ip ? { hostIp: fields.host_ip } : {}) }];
  }
  const ports = parseShortPort(text);
  if ('error' in ports) throw usage(`--publish ${JSON.stringify(text)}: ${ports.error}`, 'e.g. -p 8080:80, -p 80 or -p 127.0.0.1:8080:80/udp');
  return ports;
}

/** `--network front` or `--network name=front,alias=web,alias=www` (Docker's long form). */
export function networkFlag(text: string): ServiceNetwork {
  if (!text.includes('=')) return { target: text, aliases: [] };
  let target: string | undefined;
  const aliases: string[] = [];
  for (const part of text.split(',')) {
    const [k, v] = parseKeyValue('--network', part.trim());
    if (k === 'name' || k === 'target') target = v;
    else if (k === 'alias') aliases.push(v);
    else throw usage(`--network ${JSON.stringify(text)}: unknown field ${k}`, 'use name=NET,alias=NAME');
  }
  if (!target) throw usage(`--network ${JSON.stringify(text)} names no network`, 'e.g. --network name=front,alias=web');
  return { target, aliases };
}

export interface ServiceFlags {
  name?: string;
  replicas?: string;
  mode?: string;
  network?: string[];
  publish?: string[];
  constraint?: string[];
  endpointMode?: string;
  env?: string[];
  label?: string[];
  containerLabel?: string[];
  hostname?: string;
  limitCpu?: string;
  limitMemory?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  maxReplicasPerNode?: string;
}

function replicasFlag(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n)) throw usage(`--replicas ${JSON.stringify(text)} is not a whole number`, 'e.g. --replicas 3');
  return n;
}

function constraintsFlag(list: readonly string[]): string[] {
  for (const c of list) parseConstraint(c); // throws a ShoalError that says what is wrong
  return [...list];
}

/** `shoal service create [flags] IMAGE [CMD...]`, as `docker service create` reads them. */
export function serviceSpecFromFlags(image: string, command: readonly string[], f: ServiceFlags): ServiceSpec {
  if (!f.name) throw usage('a service needs a name', 'pass --name NAME');
  const mode = f.mode ?? 'replicated';
  if (mode !== 'replicated' && mode !== 'global') throw usage(`--mode ${JSON.stringify(mode)} is not replicated or global`, 'use --mode replicated or --mode global');
  if (mode === 'global' && f.replicas !== undefined) throw usage('--replicas cannot go with --mode global', 'a global service runs one task per node: drop --replicas');
  const endpoint = f.endpointMode ?? 'vip';
  if (endpoint !== 'vip' && endpoint !== 'dnsrr') throw usage(`--endpoint-mode ${JSON.stringify(endpoint)} is not vip or dnsrr`, 'use --endpoint-mode vip or dnsrr');
  const limits = {
    ...(f.limitCpu !== undefined ? { nanoCpus: cpuFlag('--limit-cpu', f.limitCpu) } : {}),
    ...(f.limitMemory !== undefined ? { memoryBytes: memoryFlag('--limit-memory', f.limitMemory) } : {}),
  };
  const reservations = {
    ...(f.reserveCpu !== undefined ? { nanoCpus: cpuFlag('--reserve-cpu', f.reserveCpu) } : {}),
    ...(f.reserveMemory !== undefined ? { memoryBytes: memoryFlag('--reserve-memory', f.reserveMemory) } : {}),
  };
  const maxPerNode = f.maxReplicasPerNode === undefined ? undefined : replicasFlag(f.maxReplicasPerNode);
  return {
    name: f.name,
    labels: keyValues('--label', f.label, { valueRequired: false }),
    container: {
      image,
      ...(command.length > 0 ? { command: [...command] } : {}),
      env: keyValues('--env', f.env),
      ...(f.hostname ? { hostname: f.hostname } : {}),
      labels: keyValues('--container-label', f.containerLabel, { valueRequired: false }),
      expose: [],
    },
    mode: mode === 'global' ? { kind: 'global' } : { kind: 'replicated', replicas: f.replicas === undefined ? 1 : replicasFlag(f.replicas) },
    placement: { constraints: constraintsFlag(f.constraint ?? []), preferences: [], ...(maxPerNode ? { maxReplicasPerNode: maxPerNode } : {}) },
    resources: { limits, reservations },
    restartPolicy: DEFAULT_RESTART_POLICY,
    update: DEFAULT_UPDATE_CONFIG,
    rollback: DEFAULT_UPDATE_CONFIG,
    networks: (f.network ?? []).map(networkFlag),
    endpoint: { mode: endpoint, ports: (f.publish ?? []).flatMap(portFlag) },
  };
}

export interface ServiceUpdateFlags {
  image?: string;
  replicas?: string;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  networkAdd?: string[];
  networkRm?: string[];
  limitCpu?: string;
  limitMemory?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  endpointMode?: string;
  args?: string[];
}

/** `shoal service update`: the current spec with only what the flags name changed. */
export function applyServiceUpdate(spec: ServiceSpec, f: ServiceUpdateFlags): ServiceSpec {
  const next: ServiceSpec = structuredClone(spec);
  if (f.image) next.container.image = f.image;
  if (f.args && f.args.length > 0) next.container.command = [...f.args];
  if (f.replicas !== undefined) {
    if (next.mode.kind !== 'replicated') throw usage(`service ${spec.name} is global: it has no replica count`, 'drop --replicas');
    next.mode = { kind: 'replicated', replicas: replicasFlag(f.replicas) };
  }
  for (const k of f.envRm ?? []) delete next.container.env[k];
  Object.assign(next.container.env, keyValues('--env-add', f.envAdd));
  for (const k of f.labelRm ?? []) delete next.labels[k];
  Object.assign(next.labels, keyValues('--label-add', f.labelAdd, { valueRequired: false }));
  const dropC = new Set(f.constraintRm ?? []);
  next.placement.constraints = [...next.placement.constraints.filter((c) => !dropC.has(c)), ...constraintsFlag(f.constraintAdd ?? [])];
  const dropP = new Set((f.publishRm ?? []).map((p) => Number(p.split('/')[0]?.split(':').pop())));
  next.endpoint.ports = [...next.endpoint.ports.filter((p) => !dropP.has(p.target) && !dropP.has(p.published ?? -1)), ...(f.publishAdd ?? []).flatMap(portFlag)];
  const dropN = new Set(f.networkRm ?? []);
  next.networks = [...next.networks.filter((n) => !dropN.has(n.target)), ...(f.networkAdd ?? []).map(networkFlag)];
  if (f.limitCpu !== undefined) next.resources.limits.nanoCpus = cpuFlag('--limit-cpu', f.limitCpu);
  if (f.limitMemory !== undefined) next.resources.limits.memoryBytes = memoryFlag('--limit-memory', f.limitMemory);
  if (f.reserveCpu !== undefined) next.resources.reservations.nanoCpus = cpuFlag('--reserve-cpu', f.reserveCpu);
  if (f.reserveMemory !== undefined) next.resources.reservations.memoryBytes = memoryFlag('--reserve-memory', f.reserveMemory);
  if (f.endpointMode !== undefined) {
    if (f.endpointMode !== 'vip' && f.endpointMode !== 'dnsrr') throw usage(`--endpoint-mode ${JSON.stringify(f.endpointMode)} is not vip or dnsrr`, 'use vip or dnsrr');
    next.endpoint.mode = f.endpointMode;
  }
  return next;
}

export interface NetworkFlags {
  driver?: string;
  subnet?: string;
  ipRange?: string;
  gateway?: string;
  opt?: string[];
  attachable?: boolean;
  internal?: boolean;
  label?: string[];
}

/** `shoal network create [flags] NAME`, as `docker network create` reads them. */
export function networkSpecFromFlags(name: string, f: NetworkFlags): NetworkSpec {
  const driver = f.driver ?? 'overlay';
  if (!(NETWORK_DRIVERS as readonly string[]).includes(driver)) throw usage(`--driver ${JSON.stringify(driver)} is not one Shoal knows`, `use one of ${NETWORK_DRIVERS.join(', ')}`);
  if (!f.subnet && (f.ipRange || f.gateway)) throw usage('--ip-range and --gateway need --subnet', 'pass --subnet CIDR too');
  return {
    name,
    driver: driver as NetworkSpec['driver'],
    driverOpts: keyValues('--opt', f.opt),
    ipam: f.subnet ? [{ subnet: f.subnet, ...(f.ipRange ? { ipRange: f.ipRange } : {}), ...(f.gateway ? { gateway: f.gateway } : {}) }] : [],
    attachable: f.attachable ?? false,
    internal: f.internal ?? false,
    labels: keyValues('--label', f.label, { valueRequired: false }),
  };
}
