import { createHash, createHmac } from 'node:crypto';
import { stringify as stringifyYaml } from 'yaml';
import type { Inventory, InventoryHost } from './inventory.js';
import { NATS_CLIENT_PORT, agentUser, natsConfig, natsUsers } from './nats-config.js';

/** Where Shoal lives on a host. Only these paths are Shoal's: remove-host deletes them. */
export const REMOTE = {
  etc: '/etc/shoal',
  secret: '/etc/shoal/cluster.secret',
  clusterFile: '/etc/shoal/cluster.json',
  natsConf: '/etc/shoal/nats.conf',
  agentConf: '/etc/shoal/agent.yaml',
  services: '/etc/shoal/services',
  bundleDir: '/var/lib/shoal/bundle',
  binDir: '/var/lib/shoal/bin',
  logDir: '/var/lib/shoal/log',
  run: '/run/shoal',
  coordinatorData: '/var/lib/shoal/coordinator',
  agentData: '/var/lib/shoal/agent',
} as const;

export const RAFT_PORT = 7100;

export type ServiceName = 'nats' | 'coordinator' | 'agent';

/**
 * A daemon as the host runs it. Its JSON on the host is what decides a restart: a change of
 * argv or env restarts it; a change of only `inputs` (files it can re-read) reloads it when it
 * has a `reload` signal.
 */
export interface ServiceSpec {
  name: ServiceName;
  argv: string[];
  env: Record<string, string>;
  log: string;
  inputs: Record<string, string>;
  reload?: 'SIGHUP';
}

export interface FilePlan {
  path: string;
  content: string;
  mode: number;
}

export interface HostPlan {
  host: string;
  files: FilePlan[];
  services: ServiceSpec[];
}

/** Which coordinators run, as written on every host: a re-run compares the inventory with it. */
export interface ClusterFile {
  cluster: string;
  coordinators: { name: string; address: string; id: number }[];
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every password of the cluster comes from its one secret, so only the secret is kept. */
export function derivePassword(secret: string, who: string): string {
  return createHmac('sha256', secret).update(`shoal:${who}`).digest('hex').slice(0, 40);
}

/** Raft member ids follow the names' order, so reordering the inventory changes nothing. */
export function clusterFile(inv: Inventory, addressOf: (h: InventoryHost) => string): ClusterFile {
  const coordinators = inv.hosts.filter((h) => h.role === 'coordinator').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { cluster: inv.cluster, coordinators: coordinators.map((h, i) => ({ name: h.name, address: addressOf(h), id: i + 1 })) };
}

/** The coordinators' client URLs, as agents and the CLI dial them. */
export function natsUrls(cf: ClusterFile): string[] {
  return cf.coordinators.map((c) => `nats://${c.address.includes(':') ? `[${c.address}]` : c.address}:${NATS_CLIENT_PORT}`);
}

export interface PlanInputs {
  secret: string;
  /** The bundle's path on the hosts (its name holds its hash). */
  bundlePath: string;
  /** node and nats-server on that host, as preflight found them. */
  nodePath: string;
  natsServerPath: string;
  cluster: ClusterFile;
}

/** What one host should hold and run: a pure function of the inventory, so re-runs compare cleanly. */
export function planHost(inv: Inventory, host: InventoryHost, p: PlanInputs): HostPlan {
  const files: FilePlan[] = [];
  const services: ServiceSpec[] = [];
  const urls = natsUrls(p.cluster);
  const serviceFile = (s: ServiceSpec): void => {
    services.push(s);
    files.push({ path: `${REMOTE.services}/${s.name}.json`, content: JSON.stringify(s, null, 2) + '\n', mode: 0o600 });
  };
  files.push({ path: REMOTE.clusterFile, content: JSON.stringify(p.cluster, null, 2) + '\n', mode: 0o644 });
  const me = p.cluster.coordinators.find((c) => c.name === host.name);
  if (me) {
    files.push({ path: REMOTE.secret, content: `${p.secret}\n`, mode: 0o600 });
    const users = natsUsers(
      inv.cluster,
      { admin: derivePassword(p.secret, 'admin'), coordinator: derivePassword(p.secret, 'coordinator'), agent: (id) => derivePassword(p.secret, `agent:${id}`) },
      inv.hosts.map((h) => h.name),
    );
    const conf = natsConfig({
      serverName: host.name,
      cluster: inv.cluster,
      users,
      routes: p.cluster.coordinators.length > 1 ? p.cluster.coordinators.filter((c) => c.name !== host.name).map((c) => c.address) : [],
      routePassword: derivePassword(p.secret, 'route'),
    });
    files.push({ path: REMOTE.natsConf, content: conf, mode: 0o600 });
    serviceFile({ name: 'nats', argv: [p.natsServerPath, '-c', REMOTE.natsConf], env: {}, log: `${REMOTE.logDir}/nats.log`, inputs: { [REMOTE.natsConf]: sha256(conf) }, reload: 'SIGHUP' });
    // the local server first: the coordinator still reaches the others if it is down
    const local = `nats://127.0.0.1:${NATS_CLIENT_PORT}`;
    serviceFile({
      name: 'coordinator',
      argv: [
        p.nodePath,
        p.bundlePath,
        'coordinator',
        '--cluster',
        inv.cluster,
        '--id',
        String(me.id),
        '--peers',
        p.cluster.coordinators.map((c) => `${c.id}=${c.address}:${RAFT_PORT}`).join(','),
        '--data-dir',
        REMOTE.coordinatorData,
        '--nats-user',
        'coordinator',
        ...[local, ...urls.filter((u) => !u.includes(`//${me.address}:`))].flatMap((u) => ['--nats', u]),
      ],
      env: { SHOAL_NATS_PASSWORD: derivePassword(p.secret, 'coordinator') },
      log: `${REMOTE.logDir}/coordinator.log`,
      inputs: {},
    });
  }
  const agentConf = stringifyYaml({
    cluster: inv.cluster,
    nats: urls,
    natsUser: agentUser(host.name),
    nodeId: host.name,
    dataDir: REMOTE.agentData,
    ...(host.advertise ? { advertise: host.advertise } : {}),
    ...(Object.keys(host.labels).length > 0 ? { labels: host.labels } : {}),
  });
  files.push({ path: REMOTE.agentConf, content: agentConf, mode: 0o644 });
  serviceFile({
    name: 'agent',
    argv: [p.nodePath, p.bundlePath, 'agent', '--config', REMOTE.agentConf],
    env: { SHOAL_NATS_PASSWORD: derivePassword(p.secret, `agent:${host.name}`) },
    log: `${REMOTE.logDir}/agent.log`,
    inputs: { [REMOTE.agentConf]: sha256(agentConf) },
  });
  return { host: host.name, files, services };
}

export type ServiceChange = 'unchanged' | 'reload' | 'restart' | 'start';

/** What to do to a daemon given the spec the host has (if any), the one wanted, and whether it runs. */
export function serviceChange(current: ServiceSpec | undefined, wanted: ServiceSpec, running: boolean): ServiceChange {
  if (!running) return 'start';
  if (!current) return 'restart';
  const same = (a: ServiceSpec, b: ServiceSpec): boolean => JSON.stringify({ ...a, inputs: {} }) === JSON.stringify({ ...b, inputs: {} });
  if (!same(current, wanted)) return 'restart';
  if (JSON.stringify(current.inputs) === JSON.stringify(wanted.inputs)) return 'unchanged';
  return wanted.reload ? 'reload' : 'restart';
}
