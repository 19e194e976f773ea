import type { Network, NetworkSpec, Node, Service, ServiceSpec, Task } from '@shoal/core';
import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG } from '@shoal/core';

/** Objects as a writer builds them before the store stamps their meta. */
export const META = { version: 0, createdAt: '', updatedAt: '' };

export function node(id: string, extra: { labels?: Record<string, string>; cpus?: number; memoryGb?: number; state?: Node['status']['state']; availability?: Node['spec']['availability']; role?: Node['spec']['role'] } = {}): Node {
  return {
    id,
    meta: META,
    spec: { role: extra.role ?? 'worker', availability: extra.availability ?? 'active', labels: extra.labels ?? {} },
    hostname: `host-${id}`,
    address: '192.168.0.1',
    platform: { os: 'linux', arch: 'x86_64' },
    resources: { nanoCpus: (extra.cpus ?? 4) * 1e9, memoryBytes: (extra.memoryGb ?? 8) * 2 ** 30 },
    engineLabels: {},
    status: { state: extra.state ?? 'ready' },
  };
}

export function networkSpec(name: string, extra: Partial<NetworkSpec> = {}): NetworkSpec {
  return { name, driver: 'overlay', driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {}, ...extra };
}

export function network(id: string, name: string, extra: Partial<NetworkSpec> = {}, rest: Partial<Network> = {}): Network {
  return { id, meta: META, spec: networkSpec(name, extra), ...rest };
}

export function serviceSpec(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    labels: {},
    container: { image: 'nginx:1.27', env: {}, labels: {}, expose: [] },
    mode: { kind: 'replicated', replicas: 1 },
    placement: { constraints: [], preferences: [] },
    resources: { limits: {}, reservations: {} },
    restartPolicy: DEFAULT_RESTART_POLICY,
    update: DEFAULT_UPDATE_CONFIG,
    rollback: DEFAULT_UPDATE_CONFIG,
    networks: [],
    endpoint: { mode: 'vip', ports: [] },
    ...extra,
  };
}

export function service(id: string, name: string, extra: Partial<ServiceSpec> = {}, rest: Partial<Service> = {}): Service {
  return { id, meta: META, spec: serviceSpec(name, extra), vips: [], ports: [], ...rest };
}

export function task(id: string, serviceId: string, extra: Partial<Task> = {}): Task {
  return {
    id,
    meta: META,
    serviceId,
    slot: 1,
    desiredState: 'running',
    status: { state: 'new', message: 'created', at: '2026-01-01T00:00:00.000Z' },
    attachments: [],
    specVersion: 0,
    ...extra,
  };
}

/** A Raft position for tests that apply by hand: one entry per second. */
export function entry(index: number): { index: number; at: string } {
  return { index, at: new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString() };
}
