import { ShoalError } from '../errors.js';
import { parseConstraint } from '../constraints.js';
import { cidrContains, cidrsOverlap, parseCidr } from '../ipam/cidr.js';
import type { Cidr } from '../ipam/cidr.js';
import { ipamProblems } from '../ipam/config.js';
import { isIpv4, parseIpv4 } from '../ipam/ipv4.js';
import { NAME_PATTERN } from '../model/common.js';
import type { Resources } from '../model/common.js';
import type { NetworkDriver, NetworkSpec } from '../model/network.js';
import { NETWORK_DRIVERS } from '../model/network.js';
import type {
  ContainerSpec,
  Healthcheck,
  NetworkMode,
  Placement,
  Port,
  RestartPolicy,
  ServiceMode,
  ServiceNetwork,
  ServiceSpec,
  UpdateConfig,
} from '../model/service.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG, MAX_REPLICAS, RESTART_CONDITIONS } from '../model/service.js';
import type { StackNetwork, StackSpec } from '../model/stack.js';
import { StackSpecSchema } from '../model/stack.js';
import type { Diagnostic, Path } from './diagnostics.js';
import { Reporter, formatDiagnostic, isRecord } from './diagnostics.js';
import type { Env } from './interpolate.js';
import { interpolateTree } from './interpolate.js';
import type { ComposeFile } from './load.js';
import { loadComposeFile } from './load.js';
import type { Tree } from './merge.js';
import { mergeTrees, normaliseForms } from './merge.js';
import { parseExpose, parseShortPort } from './ports.js';
import { parseBytes, parseCpus } from './units.js';
import type { Obj } from './reader.js';
import { Reader, describe } from './reader.js';

export interface ComposeOptions {
  /** The stack's name: services and networks are named `<stack>_<key>`. */
  stackName: string;
  /** Variables for `${VAR}`; the caller passes the shell environment (or a .env file's). */
  env?: Env;
}

export interface ComposeResult {
  /** Present only when there are no errors. */
  stack: StackSpec | undefined;
  errors: Diagnostic[];
  warnings: Diagnostic[];
}


const TOP_KEYS = ['version', 'name', 'services', 'networks'];
const TOP_IGNORED: Record<string, string> = {
  volumes: 'top-level volumes are not supported by Shoal yet; ignored',
  secrets: 'secrets are not supported by Shoal yet; ignored',
  configs: 'configs are not supported by Shoal yet; ignored',
  include: 'include is not supported; pass each file with -f',
};

const SERVICE_KEYS = [
  'image', 'command', 'entrypoint', 'environment', 'hostname', 'labels', 'healthcheck',
  'network_mode', 'networks', 'ports', 'expose', 'deploy',
];
const SERVICE_IGNORED: Record<string, string> = {
  build: 'build is ignored: Shoal deploys images, it does not build them',
  container_name: 'container_name is ignored: a service may run many containers',
  depends_on: 'depends_on is ignored, as docker stack deploy does: services start in any order',
  restart: 'restart is ignored; use deploy.restart_policy',
  env_file: 'env_file is ignored: Shoal reads no files; put the variables under environment',
  links: 'links is ignored: services find each other by name on a shared network',
  cpus: 'cpus is ignored by stacks; use deploy.resources.limits.cpus',
  mem_limit: 'mem_limit is ignored by stacks; use deploy.resources.limits.memory',
  mem_reservation: 'mem_reservation is ignored by stacks; use deploy.resources.reservations.memory',
  pids_limit: 'pids_limit is ignored by stacks; use deploy.resources.limits.pids',
  extends: 'extends is not supported; merge files with -f instead',
};
/** Compose keys Shoal knows of but does not honour yet; a warning, not "unknown". */
const SERVICE_UNSUPPORTED = [
  'volumes', 'secrets', 'configs', 'logging', 'ulimits', 'cap_add', 'cap_drop', 'devices', 'dns',
  'dns_search', 'extra_hosts', 'init', 'stop_grace_period', 'stop_signal', 'sysctls', 'tmpfs',
  'user', 'working_dir', 'privileged', 'read_only', 'stdin_open', 'tty', 'isolation', 'platform',
  'pull_policy', 'profiles', 'security_opt', 'shm_size', 'userns_mode', 'cgroup_parent',
  'domainname', 'ipc', 'pid', 'mac_address', 'external_links', 'gpus', 'group_add', 'scale',
  'runtime', 'develop', 'annotations', 'attach', 'blkio_config', 'cpu_count', 'cpu_percent',
  'cpu_shares', 'cpu_period', 'cpu_quota', 'cpu_rt_runtime', 'cpu_rt_period', 'cpuset',
  'mem_swappiness', 'memswap_limit', 'oom_kill_disable', 'oom_score_adj', 'storage_opt', 'uts',
  'volumes_from', 'device_cgroup_rules', 'credential_spec', 'label_file', 'post_start', 'pre_stop',
];
const DEPLOY_KEYS = [
  'mode', 'replicas', 'labels', 'placement', 'resources', 'restart_policy', 'update_config',
  'rollback_config', 'endpoint_mode',
];
const NETWORK_KEYS = ['driver', 'driver_opts', 'ipam', 'attachable', 'external', 'name', 'labels', 'internal', 'enable_ipv6'];

interface DeclaredNetwork {
  stack: StackNetwork;
  subnet: Cidr | undefined;
}

class StackBuilder {
  private readonly read: Reader;
  private readonly networks = new Map<string, DeclaredNetwork>();
  private usesDefault = false;
  /** Network keys some service attaches to; only those are created. */
  private readonly used = new Set<string>();

  constructor(
    private readonly report: Reporter,
    private readonly stackName: string,
    private readonly env: Env,
  ) {
    this.read = new Reader(report);
  }

  build(root: unknown): StackSpec | undefined {
    const top = this.read.map(root, []);
    if (!top) return undefined;
    this.read.keys(top, [], TOP_KEYS, TOP_IGNORED);
    if (top.networks !== undefined && top.networks !== null) {
      const nets = this.read.map(top.networks, ['networks']);
      for (const [key, value] of Object.entries(nets ?? {})) this.network(key, value);
    }
    const services: ServiceSpec[] = [];
    const servicesObj = top.services === undefined ? this.read.expected(['services'], 'a mapping of services', undefined) : this.read.map(top.services, ['services']);
    if (servicesObj && Object.keys(servicesObj).length === 0) this.report.error(['services'], 'a stack needs at least one service');
    for (const [key, value] of Object.entries(servicesObj ?? {})) {
      const s = this.service(key, value);
      if (s) services.push(s);
    }
    if (this.usesDefault && !this.networks.has('default')) this.network('default', null);
    this.checkAcrossServices(services, servicesObj ?? {});
    this.checkNetworkModeCycles(servicesObj ?? {});
    this.checkSubnetOverlaps();
    this.checkNetworkNames();
    const spec: StackSpec = {
      name: this.stackName,
      services,
      // Declared but unused networks are not created, as docker stack deploy does.
      networks: [...this.networks.values()].map((n) => n.stack).filter((n) => this.used.has(n.key)),
    };
    if (this.report.errors.length > 0) return undefined;
    const checked = StackSpecSchema.safeParse(spec);
    if (!checked.success) {
      for (const issue of checked.error.issues) this.report.error(issue.path, `internal check failed: ${issue.message}`);
      return undefined;
    }
    return spec;
  }

  private network(key: string, value: unknown): void {
    const path = ['networks', key];
    const o = value === null || value === undefined ? {} : this.read.map(value, path);
    if (!o) return;
    this.read.keys(o, path, NETWORK_KEYS);
    let external = false;
    if (o.external !== undefined) {
      // Compose v2 files wrote `external: { name: x }`; it still appears in the wild.
      if (isRecord(o.external)) {
        external = true;
        const legacy = this.read.str(o.external.name, [...path, 'external', 'name']);
        if (legacy !== undefined && o.name === undefined) o.name = legacy;
      } else external = this.read.bool(o.external, [...path, 'external']) ?? false;
    }
    if (external) {
      for (const k of ['driver', 'driver_opts', 'ipam', 'attachable', 'internal', 'labels']) {
        if (o[k] !== undefined) this.report.error([...path, k], `cannot be set on an external network: it already exists`);
      }
    }
    let name = external ? key : `${this.stackName}_${key}`;
    if (o.name !== undefined) name = this.read.str(o.name, [...path, 'name']) ?? name;
    if (!NAME_PATTERN.test(name)) this.report.error(o.name === undefined ? path : [...path, 'name'], `network name ${JSON.stringify(name)} is not valid: use letters, digits, ".", "-" or "_" (at most 63)`);
    let driver: NetworkDriver = 'overlay';
    if (o.driver !== undefined) driver = this.read.oneOf(o.driver, [...path, 'driver'], NETWORK_DRIVERS) ?? driver;
    if (o.enable_ipv6 === true) this.report.error([...path, 'enable_ipv6'], 'IPv6 is not supported by Shoal');
    const ipam = this.ipam(o.ipam, [...path, 'ipam']);
    const spec: NetworkSpec = {
      name,
      driver,
      driverOpts: this.read.stringMap(o.driver_opts, [...path, 'driver_opts']),
      ipam: ipam ? [ipam.pool] : [],
      attachable: o.attachable === undefined ? false : (this.read.bool(o.attachable, [...path, 'attachable']) ?? false),
      internal: o.internal === undefined ? false : (this.read.bool(o.internal, [...path, 'internal']) ?? false),
      labels: this.read.stringMap(o.labels, [...path, 'labels']),
    };
    this.networks.set(key, { stack: { key, external, spec }, subnet: ipam?.subnet });
  }

  private ipam(value: unknown, path: Path): { pool: NetworkSpec['ipam'][number]; subnet: Cidr } | undefined {
    if (value === undefined || value === null) return undefined;
    const o = this.read.map(value, path);
    if (!o) return undefined;
    this.read.keys(o, path, ['driver', 'config', 'options']);
    if (o.driver !== undefined && o.driver !== 'default') this.report.warn([...path, 'driver'], `IPAM driver ${describe(o.driver)} is ignored; Shoal allocates addresses itself`);
    if (o.config === undefined || o.config === null) return undefined;
    if (!Array.isArray(o.config)) return this.read.expected([...path, 'config'], 'a list', o.config);
    if (o.config.length === 0) return undefined;
    if (o.config.length > 1) this.report.error([...path, 'config', 1], 'Shoal supports one IPv4 pool per network');
    const cpath = [...path, 'config', 0];
    const c = this.read.map(o.config[0], cpath);
    if (!c) return undefined;
    this.read.keys(c, cpath, ['subnet', 'ip_range', 'gateway'], { aux_addresses: 'aux_addresses is not supported by Shoal; ignored' });
    const subnet = this.read.str(c.subnet, [...cpath, 'subnet'], 'a subnet such as 10.20.0.0/16');
    if (subnet === undefined) return undefined;
    const ipRange = c.ip_range === undefined ? undefined : this.read.str(c.ip_range, [...cpath, 'ip_range']);
    const gateway = c.gateway === undefined ? undefined : this.read.str(c.gateway, [...cpath, 'gateway']);
    const field = { subnet: 'subnet', ipRange: 'ip_range', gateway: 'gateway' } as const;
    const problems = ipamProblems({ subnet, ipRange, gateway });
    for (const p of problems) this.report.error([...cpath, field[p.field]], p.message);
    if (problems.some((p) => p.field === 'subnet')) return undefined;
    return {
      pool: { subnet, ...(ipRange === undefined ? {} : { ipRange }), ...(gateway === undefined ? {} : { gateway }) },
      subnet: parseCidr(subnet),
    };
  }

  private service(key: string, value: unknown): ServiceSpec | undefined {
    const path = ['services', key];
    const name = `${this.stackName}_${key}`;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(key)) {
      this.report.error(path, `service name ${JSON.stringify(key)} is not valid: use letters, digits, ".", "-" or "_"`);
    } else if (!NAME_PATTERN.test(name)) {
      this.report.error(path, `service name ${JSON.stringify(name)} is longer than 63 characters`);
    }
    const o = this.read.map(value, path);
    if (!o) return undefined;
    this.read.keys(o, path, SERVICE_KEYS, SERVICE_IGNORED, SERVICE_UNSUPPORTED);
    const image = o.image === undefined
      ? void this.report.error([...path, 'image'], o.build === undefined ? 'an image is required' : 'an image is required: Shoal does not build images; push one and name it here')
      : this.read.str(o.image, [...path, 'image'], 'an image name');
    const container: ContainerSpec = {
      image: image ?? '',
      env: this.environment(o.environment, [...path, 'environment']),
      labels: this.read.stringMap(o.labels, [...path, 'labels']),
      expose: this.expose(o.expose, [...path, 'expose']),
    };
    const command = o.command === undefined || o.command === null ? undefined : this.read.command(o.command, [...path, 'command']);
    if (command) container.command = command;
    const entrypoint = o.entrypoint === undefined || o.entrypoint === null ? undefined : this.read.command(o.entrypoint, [...path, 'entrypoint']);
    if (entrypoint) container.entrypoint = entrypoint;
    if (o.hostname !== undefined) {
      const hostname = this.read.str(o.hostname, [...path, 'hostname']);
      if (hostname !== undefined) container.hostname = hostname;
    }
    if (o.healthcheck !== undefined) {
      const hc = this.healthcheck(o.healthcheck, [...path, 'healthcheck']);
      if (hc) container.healthcheck = hc;
    }
    const deploy = o.deploy === undefined || o.deploy === null ? {} : (this.read.map(o.deploy, [...path, 'deploy']) ?? {});
    const dpath = [...path, 'deploy'];
    this.read.keys(deploy, dpath, DEPLOY_KEYS);
    const networkMode = o.network_mode === undefined ? undefined : this.networkMode(o.network_mode, [...path, 'network_mode']);
    if (networkMode && o.networks !== undefined) {
      this.report.error([...path, 'network_mode'], 'cannot be combined with networks: remove one of them');
    }
    const endpointMode = deploy.endpoint_mode === undefined ? 'vip' : (this.read.oneOf(deploy.endpoint_mode, [...dpath, 'endpoint_mode'], ['vip', 'dnsrr'] as const) ?? 'vip');
    const ports = this.ports(o.ports, [...path, 'ports']);
    if (endpointMode === 'dnsrr' && ports.some((p) => p.mode === 'ingress')) {
      this.report.error([...dpath, 'endpoint_mode'], 'dnsrr cannot be used with ingress ports: publish them with mode: host, or use vip');
    }
    if (networkMode?.kind === 'host' && ports.length > 0) {
      this.report.warn([...path, 'ports'], 'ports are ignored with network_mode: host; the container uses the host\'s ports directly');
    }
    const spec: ServiceSpec = {
      name,
      labels: this.read.stringMap(deploy.labels, [...dpath, 'labels']),
      container,
      mode: this.mode(deploy, dpath),
      placement: this.placement(deploy.placement, [...dpath, 'placement']),
      resources: this.resources(deploy.resources, [...dpath, 'resources']),
      restartPolicy: this.restartPolicy(deploy.restart_policy, [...dpath, 'restart_policy']),
      update: this.updateConfig(deploy.update_config, [...dpath, 'update_config'], ['pause', 'continue', 'rollback']),
      rollback: this.updateConfig(deploy.rollback_config, [...dpath, 'rollback_config'], ['pause', 'continue']),
      networks: networkMode ? [] : this.serviceNetworks(key, o.networks, [...path, 'networks']),
      endpoint: { mode: endpointMode, ports: networkMode?.kind === 'host' ? [] : ports },
    };
    if (networkMode) spec.networkMode = networkMode;
    return spec;
  }

  /** A variable listed without a value takes the caller's value, or is left out, as in Compose. */
  private environment(value: unknown, path: Path): Record<string, string> {
    const out: Record<string, string> = {};
    if (value === undefined || value === null) return out;
    if (Array.isArray(value)) {
      this.read.expected(path, 'a mapping or a list of "KEY=VALUE" strings', value);
      return out;
    }
    for (const [k, v] of Object.entries(this.read.map(value, path) ?? {})) {
      if (v === null) {
        const fromEnv = this.env[k];
        if (fromEnv !== undefined) out[k] = fromEnv;
        continue;
      }
      const s = this.read.scalar(v, [...path, k]);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }

  private expose(value: unknown, path: Path): ContainerSpec['expose'] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.read.expected(path, 'a list of ports', value) ?? [];
    const out: ContainerSpec['expose'] = [];
    value.forEach((item, i) => {
      if (typeof item !== 'string' && typeof item !== 'number') return void this.read.expected([...path, i], 'a port such as 3000 or "53/udp"', item);
      const parsed = parseExpose(String(item));
      if ('error' in parsed) this.report.error([...path, i], parsed.error);
      else out.push(...parsed);
    });
    return out;
  }

  private healthcheck(value: unknown, path: Path): Healthcheck | undefined {
    const o = this.read.map(value, path);
    if (!o) return undefined;
    this.read.keys(o, path, ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']);
    if (o.disable !== undefined && this.read.bool(o.disable, [...path, 'disable']) === true) return { test: ['NONE'] };
    let test: string[] | undefined;
    if (typeof o.test === 'string') test = ['CMD-SHELL', o.test];
    else if (Array.isArray(o.test)) {
      test = this.read.strings(o.test, [...path, 'test']);
      if (test && !['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] ?? '')) {
        this.report.error([...path, 'test'], `a list must start with "CMD", "CMD-SHELL" or "NONE", got ${describe(test[0])}`);
      }
    } else if (o.test !== undefined) this.read.expected([...path, 'test'], 'a string or a list of strings', o.test);
    else this.report.error([...path, 'test'], 'is required unless disable: true');
    if (!test) return undefined;
    const hc: Healthcheck = { test };
    const dur = (k: string): number | undefined => (o[k] === undefined ? undefined : this.read.duration(o[k], [...path, k]));
    const interval = dur('interval');
    const timeout = dur('timeout');
    const startPeriod = dur('start_period');
    const startInterval = dur('start_interval');
    if (interval !== undefined) hc.intervalMs = interval;
    if (timeout !== undefined) hc.timeoutMs = timeout;
    if (startPeriod !== undefined) hc.startPeriodMs = startPeriod;
    if (startInterval !== undefined) hc.startIntervalMs = startInterval;
    if (o.retries !== undefined) {
      const retries = this.read.int(o.retries, [...path, 'retries'], 0);
      if (retries !== undefined) hc.retries = retries;
    }
    return hc;
  }

  private networkMode(value: unknown, path: Path): NetworkMode | undefined {
    const text = this.read.str(value, path);
    if (text === undefined) return undefined;
    if (text === 'host' || text === 'none') return { kind: text };
    if (text.startsWith('container:') && text.length > 'container:'.length) return { kind: 'container', container: text.slice('container:'.length) };
    this.read.expected(path, '"host", "none" or "container:NAME"', value);
    return undefined;
  }

  private mode(deploy: Obj, path: Path): ServiceMode {
    const mode = deploy.mode === undefined ? 'replicated' : this.read.oneOf(deploy.mode, [...path, 'mode'], ['replicated', 'global'] as const);
    if (mode === 'global') {
      if (deploy.replicas !== undefined) this.report.error([...path, 'replicas'], 'cannot be set with mode: global, which runs one task per node');
      return { kind: 'global' };
    }
    if (deploy.replicas === undefined) return { kind: 'replicated', replicas: 1 };
    const n = this.read.int(deploy.replicas, [...path, 'replicas'], 0);
    if (n !== undefined && n > MAX_REPLICAS) {
      this.report.error([...path, 'replicas'], `${n} replicas is more than Shoal allows (${MAX_REPLICAS})`);
    }
    return { kind: 'replicated', replicas: n ?? 1 };
  }

  private placement(value: unknown, path: Path): Placement {
    const out: Placement = { constraints: [], preferences: [] };
    if (value === undefined || value === null) return out;
    const o = this.read.map(value, path);
    if (!o) return out;
    this.read.keys(o, path, ['constraints', 'preferences', 'max_replicas_per_node']);
    if (o.constraints !== undefined) {
      (this.read.strings(o.constraints, [...path, 'constraints']) ?? []).forEach((text, i) => {
        try {
          parseConstraint(text);
          out.constraints.push(text);
        } catch (err) {
          this.report.error([...path, 'constraints', i], err instanceof ShoalError ? err.message : String(err));
        }
      });
    }
    if (o.preferences !== undefined) {
      if (!Array.isArray(o.preferences)) this.read.expected([...path, 'preferences'], 'a list', o.preferences);
      else {
        o.preferences.forEach((pref, i) => {
          const ppath = [...path, 'preferences', i];
          const p = this.read.map(pref, ppath);
          if (!p) return;
          this.read.keys(p, ppath, ['spread']);
          const spread = this.read.str(p.spread, [...ppath, 'spread'], 'a node label such as node.labels.zone');
          if (spread === undefined) return;
          if (!/^(node|engine)\.labels\.[^\s=!]+$/i.test(spread)) this.read.expected([...ppath, 'spread'], 'a node label such as node.labels.zone', spread);
          else out.preferences.push({ spread });
        });
      }
    }
    if (o.max_replicas_per_node !== undefined) {
      const n = this.read.int(o.max_replicas_per_node, [...path, 'max_replicas_per_node'], 1);
      if (n !== undefined) out.maxReplicasPerNode = n;
    }
    return out;
  }

  private resourceSet(value: unknown, path: Path, kind: 'limits' | 'reservations'): Resources {
    const out: Resources = {};
    if (value === undefined || value === null) return out;
    const o = this.read.map(value, path);
    if (!o) return out;
    this.read.keys(o, path, kind === 'limits' ? ['cpus', 'memory', 'pids'] : ['cpus', 'memory'], {
      generic_resources: 'generic_resources is not supported by Shoal; ignored',
      devices: 'devices is not supported by Shoal; ignored',
    });
    if (o.cpus !== undefined) {
      const cpus = typeof o.cpus === 'string' || typeof o.cpus === 'number' ? parseCpus(o.cpus) : undefined;
      if (cpus === undefined) this.read.expected([...path, 'cpus'], 'a number of CPUs above 0 such as 0.5', o.cpus);
      else out.nanoCpus = cpus;
    }
    if (o.memory !== undefined) {
      const bytes = typeof o.memory === 'string' || typeof o.memory === 'number' ? parseBytes(o.memory) : undefined;
      if (bytes === undefined) this.read.expected([...path, 'memory'], 'a size such as 512M or 2G', o.memory);
      else out.memoryBytes = bytes;
    }
    if (o.pids !== undefined) {
      const pids = this.read.int(o.pids, [...path, 'pids'], 1);
      if (pids !== undefined) out.pids = pids;
    }
    return out;
  }

  private resources(value: unknown, path: Path): ServiceSpec['resources'] {
    const o = value === undefined || value === null ? {} : (this.read.map(value, path) ?? {});
    this.read.keys(o, path, ['limits', 'reservations']);
    const limits = this.resourceSet(o.limits, [...path, 'limits'], 'limits');
    const reservations = this.resourceSet(o.reservations, [...path, 'reservations'], 'reservations');
    for (const k of ['nanoCpus', 'memoryBytes'] as const) {
      const l = limits[k];
      const r = reservations[k];
      if (l !== undefined && r !== undefined && r > l) {
        const field = k === 'nanoCpus' ? 'cpus' : 'memory';
        this.report.error([...path, 'reservations', field], `reserves more than the limit of ${describe((isRecord(o.limits) ? o.limits : {})[field])}`);
      }
    }
    return { limits, reservations };
  }

  private restartPolicy(value: unknown, path: Path): RestartPolicy {
    const out: RestartPolicy = { ...DEFAULT_RESTART_POLICY };
    if (value === undefined || value === null) return out;
    const o = this.read.map(value, path);
    if (!o) return out;
    this.read.keys(o, path, ['condition', 'delay', 'max_attempts', 'window']);
    if (o.condition !== undefined) out.condition = this.read.oneOf(o.condition, [...path, 'condition'], RESTART_CONDITIONS) ?? out.condition;
    if (o.delay !== undefined) out.delayMs = this.read.duration(o.delay, [...path, 'delay']) ?? out.delayMs;
    if (o.max_attempts !== undefined) {
      const n = this.read.int(o.max_attempts, [...path, 'max_attempts'], 0);
      if (n !== undefined) out.maxAttempts = n;
    }
    if (o.window !== undefined) {
      const w = this.read.duration(o.window, [...path, 'window']);
      if (w !== undefined) out.windowMs = w;
    }
    return out;
  }

  private updateConfig(value: unknown, path: Path, actions: readonly UpdateConfig['failureAction'][]): UpdateConfig {
    const out: UpdateConfig = { ...DEFAULT_UPDATE_CONFIG };
    if (value === undefined || value === null) return out;
    const o = this.read.map(value, path);
    if (!o) return out;
    this.read.keys(o, path, ['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order']);
    if (o.parallelism !== undefined) out.parallelism = this.read.int(o.parallelism, [...path, 'parallelism'], 0) ?? out.parallelism;
    if (o.delay !== undefined) out.delayMs = this.read.duration(o.delay, [...path, 'delay']) ?? out.delayMs;
    if (o.failure_action !== undefined) out.failureAction = this.read.oneOf(o.failure_action, [...path, 'failure_action'], actions) ?? out.failureAction;
    if (o.monitor !== undefined) out.monitorMs = this.read.duration(o.monitor, [...path, 'monitor']) ?? out.monitorMs;
    if (o.max_failure_ratio !== undefined) out.maxFailureRatio = this.read.ratio(o.max_failure_ratio, [...path, 'max_failure_ratio']) ?? out.maxFailureRatio;
    if (o.order !== undefined) out.order = this.read.oneOf(o.order, [...path, 'order'], ['stop-first', 'start-first'] as const) ?? out.order;
    return out;
  }

  private ports(value: unknown, path: Path): Port[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.read.expected(path, 'a list of ports', value) ?? [];
    const out: Port[] = [];
    value.forEach((item, i) => {
      const ipath = [...path, i];
      if (typeof item === 'string' || typeof item === 'number') {
        const parsed = parseShortPort(String(item));
        if ('error' in parsed) return void this.report.error(ipath, parsed.error);
        for (const p of parsed) {
          if (p.hostIp !== undefined) {
            this.report.warn(ipath, `host address ${p.hostIp} is ignored for an ingress port; use the long syntax with mode: host to bind one address`);
            delete p.hostIp;
          }
          out.push(p);
        }
        return;
      }
      const o = this.read.map(item, ipath);
      if (!o) return;
      this.read.keys(o, ipath, ['target', 'published', 'protocol', 'mode', 'host_ip', 'name'], { app_protocol: 'app_protocol is ignored' });
      const target = this.read.int(o.target, [...ipath, 'target'], 1, 65_535);
      const mode = o.mode === undefined ? 'ingress' : this.read.oneOf(o.mode, [...ipath, 'mode'], ['ingress', 'host'] as const);
      const protocol = o.protocol === undefined ? 'tcp' : this.read.oneOf(o.protocol, [...ipath, 'protocol'], ['tcp', 'udp'] as const);
      const published = o.published === undefined ? undefined : this.read.int(o.published, [...ipath, 'published'], 1, 65_535);
      let hostIp: string | undefined;
      if (o.host_ip !== undefined) {
        hostIp = this.read.str(o.host_ip, [...ipath, 'host_ip']);
        if (hostIp !== undefined && !isIpv4(hostIp)) hostIp = this.read.expected([...ipath, 'host_ip'], 'an IPv4 address', hostIp);
        if (hostIp !== undefined && mode === 'ingress') this.report.error([...ipath, 'host_ip'], 'needs mode: host; ingress ports listen on every node');
      }
      if (target === undefined || mode === undefined || protocol === undefined) return;
      out.push({
        target,
        protocol,
        mode,
        ...(published === undefined ? {} : { published }),
        ...(hostIp === undefined ? {} : { hostIp }),
      });
    });
    return out;
  }

  private serviceNetworks(serviceKey: string, value: unknown, path: Path): ServiceNetwork[] {
    if (value === undefined || value === null) {
      this.usesDefault = true;
      this.used.add('default');
      // A file may redefine `default`, e.g. as an external network with its own name.
      const target = this.networks.get('default')?.stack.spec.name ?? `${this.stackName}_default`;
      return [{ target, aliases: [serviceKey] }];
    }
    if (Array.isArray(value)) return this.read.expected(path, 'a list of network names or a mapping', value) ?? [];
    const o = this.read.map(value, path);
    const out: ServiceNetwork[] = [];
    for (const [key, opts] of Object.entries(o ?? {})) {
      const npath = [...path, key];
      if (key === 'default' && !this.networks.has('default')) this.usesDefault = true;
      const declared = key === 'default' && !this.networks.has('default') ? undefined : this.networks.get(key);
      if (!declared && key !== 'default') {
        this.report.error(npath, `network ${JSON.stringify(key)} is not declared under the top-level networks`);
        continue;
      }
      this.used.add(key);
      const target = declared?.stack.spec.name ?? `${this.stackName}_default`;
      // Docker makes every service reachable by its short name on each of its networks.
      const attachment: ServiceNetwork = { target, aliases: [serviceKey] };
      if (opts !== null && opts !== undefined) {
        const n = this.read.map(opts, npath);
        if (n) {
          this.read.keys(n, npath, ['aliases', 'ipv4_address'], {
            ipv6_address: 'ipv6_address is ignored: Shoal networks are IPv4',
            mac_address: 'mac_address is ignored: Shoal derives MAC addresses from IP addresses',
            priority: 'priority is ignored',
            link_local_ips: 'link_local_ips is ignored',
          });
          if (n.aliases !== undefined) {
            for (const a of this.read.strings(n.aliases, [...npath, 'aliases']) ?? []) if (!attachment.aliases.includes(a)) attachment.aliases.push(a);
          }
          if (n.ipv4_address !== undefined) {
            const ip = this.read.str(n.ipv4_address, [...npath, 'ipv4_address']);
            const apath = [...npath, 'ipv4_address'];
            if (ip !== undefined && !isIpv4(ip)) this.read.expected(apath, 'an IPv4 address', ip);
            else if (ip !== undefined) {
              const subnet = declared?.subnet;
              if (!subnet) this.report.error(apath, `needs a subnet: declare ipam.config with a subnet on network ${JSON.stringify(key)}`);
              else if (!cidrContains(subnet, parseIpv4(ip))) this.report.error(apath, `${ip} is not inside the subnet ${declared.stack.spec.ipam[0]?.subnet ?? ''} of network ${JSON.stringify(key)}`);
              else attachment.ipv4Address = ip;
            }
          }
        }
      }
      out.push(attachment);
    }
    return out;
  }

  private checkAcrossServices(services: ServiceSpec[], raw: Obj): void {
    const published = new Map<string, string>();
    const addresses = new Map<string, string>();
    const keys = Object.keys(raw);
    for (const s of services) {
      const key = keys.find((k) => `${this.stackName}_${k}` === s.name) ?? s.name;
      for (const p of s.endpoint.ports) {
        if (p.mode !== 'ingress' || p.published === undefined) continue;
        const id = `${p.published}/${p.protocol}`;
        const other = published.get(id);
        if (other === key) this.report.error(['services', key, 'ports'], `published port ${id} is published twice`);
        else if (other !== undefined) this.report.error(['services', key, 'ports'], `published port ${id} is also published by service ${JSON.stringify(other)}`);
        else published.set(id, key);
      }
      for (const n of s.networks) {
        if (n.ipv4Address === undefined) continue;
        const id = `${n.target}/${n.ipv4Address}`;
        const other = addresses.get(id);
        if (other !== undefined) this.report.error(['services', key, 'networks'], `address ${n.ipv4Address} on ${n.target} is also given to service ${JSON.stringify(other)}`);
        else addresses.set(id, key);
        if (s.mode.kind === 'global' || s.mode.replicas > 1) {
          this.report.error(['services', key, 'networks'], `a fixed ipv4_address fits one task, but the service runs ${s.mode.kind === 'global' ? 'one per node' : `${s.mode.replicas} replicas`}`);
        }
      }
    }
  }

  /** `network_mode: container:X` chains that come back on themselves can never start. */
  private checkNetworkModeCycles(raw: Obj): void {
    const next = new Map<string, string>();
    for (const [key, value] of Object.entries(raw)) {
      const mode = isRecord(value) ? value.network_mode : undefined;
      if (typeof mode === 'string' && mode.startsWith('container:')) next.set(key, mode.slice('container:'.length));
    }
    const reported = new Set<string>();
    for (const start of next.keys()) {
      const chain = [start];
      let at = next.get(start);
      while (at !== undefined && !chain.includes(at) && next.has(at)) {
        chain.push(at);
        at = next.get(at);
      }
      if (at === undefined || !chain.includes(at)) continue;
      const cycle = chain.slice(chain.indexOf(at));
      if (cycle.some((k) => reported.has(k))) continue;
      cycle.forEach((k) => reported.add(k));
      const first = cycle[0] ?? start;
      this.report.error(['services', first, 'network_mode'], `services ${[...cycle, first].join(' → ')} take each other's network in a cycle; one of them needs its own`);
    }
  }

  /** Two keys may resolve to one network name through `name:`; they would be one network. */
  private checkNetworkNames(): void {
    const byName = new Map<string, string>();
    for (const [key, n] of this.networks) {
      const other = byName.get(n.stack.spec.name);
      // Two keys for one existing network are harmless; only a network the stack makes clashes.
      const bothExternal = other !== undefined && n.stack.external && this.networks.get(other)?.stack.external === true;
      if (other !== undefined && !bothExternal) this.report.error(['networks', key, 'name'], `network name ${JSON.stringify(n.stack.spec.name)} is also the name of network ${JSON.stringify(other)}`);
      else byName.set(n.stack.spec.name, key);
    }
  }

  private checkSubnetOverlaps(): void {
    const seen: [string, Cidr][] = [];
    for (const [key, n] of this.networks) {
      if (!n.subnet) continue;
      const clash = seen.find(([, c]) => n.subnet !== undefined && cidrsOverlap(c, n.subnet));
      if (clash) this.report.error(['networks', key, 'ipam', 'config', 0, 'subnet'], `overlaps the subnet of network ${JSON.stringify(clash[0])}`);
      seen.push([key, n.subnet]);
    }
  }
}

/**
 * Parse one or more compose files (later files override earlier ones, as `docker compose -f a
 * -f b`) into a stack spec. All errors are collected, each with its path and, where known, the
 * file and line; unknown keys are warnings. Pure: variables come in through `options.env`.
 */
export function parseCompose(files: ComposeFile | readonly ComposeFile[], options: ComposeOptions): ComposeResult {
  const list: readonly ComposeFile[] = Array.isArray(files) ? files : [files as ComposeFile];
  const env = options.env ?? {};
  const errors: Diagnostic[] = [];
  const warnings: Diagnostic[] = [];
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(options.stackName)) {
    errors.push({ severity: 'error', path: '(stack name)', message: `${JSON.stringify(options.stackName)} is not a valid stack name: use lowercase letters, digits, "-" or "_" (at most 32)` });
    return { stack: undefined, errors, warnings };
  }
  const trees: Tree[] = [];
  const warnedVars = new Set<string>();
  for (const file of list) {
    const loaded = loadComposeFile(file);
    errors.push(...loaded.errors);
    if (loaded.errors.length > 0) continue;
    if (!isRecord(loaded.value)) {
      errors.push({ severity: 'error', path: '(top level)', message: loaded.value === null || loaded.value === undefined ? 'the file is empty' : `expected a mapping, got ${describe(loaded.value)}`, file: file.name });
      continue;
    }
    const report = new Reporter(loaded.locations);
    for (const p of interpolateTree(loaded.value, env)) {
      if (p.severity === 'error') report.error(p.path, p.message);
      else if (p.variable === undefined || !warnedVars.has(p.variable)) {
        if (p.variable !== undefined) warnedVars.add(p.variable);
        report.warn(p.path, p.message);
      }
    }
    errors.push(...report.errors);
    warnings.push(...report.warnings);
    const tree: Tree = { value: loaded.value, locations: loaded.locations, reset: loaded.tags.reset, override: loaded.tags.override };
    normaliseForms(tree);
    trees.push(tree);
  }
  if (trees.length < list.length) return { stack: undefined, errors, warnings };
  const merged = mergeTrees(trees);
  const report = new Reporter(merged.locations);
  const stack = new StackBuilder(report, options.stackName, env).build(merged.value);
  errors.push(...report.errors);
  warnings.push(...report.warnings);
  // In file order, then line order, as a person fixes them.
  const rank = (d: Diagnostic): number => list.findIndex((f) => f.name === d.file) * 1e7 + (d.line ?? 0);
  const byPlace = (a: Diagnostic, b: Diagnostic): number => rank(a) - rank(b);
  return { stack: errors.length === 0 ? stack : undefined, errors: errors.sort(byPlace), warnings: warnings.sort(byPlace) };
}

/** As `parseCompose`, but throws one ShoalError listing every error, for callers that stop. */
export function loadStack(files: ComposeFile | readonly ComposeFile[], options: ComposeOptions): { stack: StackSpec; warnings: Diagnostic[] } {
  const result = parseCompose(files, options);
  if (result.stack) return { stack: result.stack, warnings: result.warnings };
  const n = result.errors.length;
  throw new ShoalError(
    'compose_invalid',
    `the stack file has ${n} error${n === 1 ? '' : 's'}:\n${result.errors.map((e) => `  ${formatDiagnostic(e)}`).join('\n')}`,
    'fix them and deploy again',
  );
}
