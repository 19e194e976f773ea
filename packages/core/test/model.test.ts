import { describe, expect, it } from 'vitest';
import { NetworkSpecSchema, ServiceSchema, TaskSchema, loadStack, networkScope } from '@shoal/core';
import type { Service, Task } from '@shoal/core';

const meta = { version: 3, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:01Z' };

describe('stored objects', () => {
  it('round-trips a service through JSON and its schema unchanged', () => {
    const spec = loadStack({ name: 's.yml', text: 'services:\n  web:\n    image: nginx\n    ports: ["80"]\n' }, { stackName: 's' }).stack.services[0];
    if (!spec) throw new Error('no service');
    const service: Service = {
      id: 'svc1',
      meta,
      stack: 's',
      spec,
      vips: [{ networkId: 'net1', address: '10.0.0.2' }],
      ports: [{ target: 80, published: 30_000, protocol: 'tcp', mode: 'ingress' }],
      updateStatus: { state: 'paused', startedAt: meta.createdAt, message: 'task s_web.1 failed its health check' },
    };
    expect(ServiceSchema.parse(JSON.parse(JSON.stringify(service)))).toEqual(service);
  });

  it('refuses a second IPAM pool on a network', () => {
    const spec = { name: 'n', driver: 'overlay', driverOpts: {}, attachable: false, internal: false, labels: {} };
    expect(NetworkSpecSchema.safeParse({ ...spec, ipam: [{ subnet: '10.0.0.0/24' }] }).success).toBe(true);
    const two = NetworkSpecSchema.safeParse({ ...spec, ipam: [{ subnet: '10.0.0.0/24' }, { subnet: '10.0.1.0/24' }] });
    expect(two.success ? '' : two.error.issues[0]?.message).toBe('Shoal supports one IPv4 pool per network');
  });

  it('holds task attachments to the MAC form the agent programs', () => {
    const task: Task = {
      id: 't1', meta, serviceId: 'svc1', slot: 1, nodeId: 'n1', desiredState: 'running', specVersion: 3,
      status: { state: 'running', message: 'started', at: meta.updatedAt, containerId: 'c0ffee' },
      attachments: [{ networkId: 'net1', address: '10.0.0.5/24', mac: '02:42:0a:00:00:05' }],
    };
    expect(TaskSchema.safeParse(task).success).toBe(true);
    const upper = { ...task, attachments: [{ networkId: 'net1', address: '10.0.0.5/24', mac: '02:42:0A:00:00:05' }] };
    expect(TaskSchema.safeParse(upper).success).toBe(false);
  });

  it('spans the cluster only with overlay networks', () => {
    expect(networkScope('overlay')).toBe('cluster');
    expect(networkScope('bridge')).toBe('local');
    expect(networkScope('macvlan')).toBe('local');
  });
});
