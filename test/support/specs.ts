import { DEFAULT_RESTART_POLICY, DEFAULT_UPDATE_CONFIG, type Network, type Service } from '@shoal/core';

/** Objects as a writer builds them before the store stamps their meta. */
export const META = { version: 0, createdAt: '', updatedAt: '' };

/** The test service: busybox answering its hostname on :7000, stopping at once on SIGTERM. */
export function testService(id: string, name: string, replicas: number, networks: string[], mode: 'vip' | 'dnsrr' = 'vip'): Service {
  return {
    id,
    meta: META,
    vips: [],
    ports: [],
    spec: {
      name,
      labels: {},
      container: { image: 'shoal/busybox', command: ['sh', '-c', 'trap "exit 0" TERM; nc -ll -p 7000 -e hostname & wait'], env: {}, labels: {}, expose: [] },
      mode: { kind: 'replicated', replicas },
      placement: { constraints: [], preferences: [] },
      resources: { limits: {}, reservations: {} },
      restartPolicy: DEFAULT_RESTART_POLICY,
      update: DEFAULT_UPDATE_CONFIG,
      rollback: DEFAULT_UPDATE_CONFIG,
      networks: networks.map((target) => ({ target, aliases: [] })),
      endpoint: { mode, ports: [] },
    },
  };
}

export function overlayNetwork(id: string, name: string): Network {
  return { id, meta: META, spec: { name, driver: 'overlay', driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {} } };
}
