import { describe, expect, it } from 'vitest';
import type { Task } from '@shoal/core';
import { Store, assignmentFor, diffAssignments, type Command } from '@shoal/coordinator';
import { entry, network, node, service, task } from './fixtures.js';

/** Two nodes, one overlay, web (vip, 2 replicas on different nodes) and db (dnsrr). */
function cluster(extra: { webState2?: Task['status']['state'] } = {}): Store {
  const store = new Store();
  const at = (s: Task['status']['state']): Task['status'] => ({ state: s, message: s, at: '2026-01-01T00:00:00.000Z' });
  const net = network('net1', 'front', {}, { allocation: { vni: 4096, subnet: '10.0.1.0/24', gateway: '10.0.1.1' } });
  const commands = [
    { op: 'create', kind: 'node', object: { ...node('n1'), address: '192.168.1.11' } },
    { op: 'create', kind: 'node', object: { ...node('n2'), address: '192.168.1.12' } },
    { op: 'create', kind: 'network', object: net },
    {
      op: 'create',
      kind: 'service',
      object: service('s-web', 'shop_web', { networks: [{ target: 'front', aliases: ['web'] }], endpoint: { mode: 'vip', ports: [{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }] } }, {
        stack: 'shop',
        vips: [{ networkId: 'net1', address: '10.0.1.2' }],
      }),
    },
    { op: 'create', kind: 'service', object: service('s-db', 'shop_db', { networks: [{ target: 'front', aliases: ['db'] }], endpoint: { mode: 'dnsrr', ports: [] } }, { stack: 'shop' }) },
    { op: 'create', kind: 'task', object: task('t-web1', 's-web', { slot: 1, nodeId: 'n1', status: at('running'), attachments: [{ networkId: 'net1', address: '10.0.1.3/24', mac: '02:42:0a:00:01:03' }] }) },
    { op: 'create', kind: 'task', object: task('t-web2', 's-web', { slot: 2, nodeId: 'n2', status: at(extra.webState2 ?? 'running'), attachments: [{ networkId: 'net1', address: '10.0.1.4/24', mac: '02:42:0a:00:01:04' }] }) },
    { op: 'create', kind: 'task', object: task('t-db1', 's-db', { slot: 1, nodeId: 'n2', status: at('running'), attachments: [{ networkId: 'net1', address: '10.0.1.5/24', mac: '02:42:0a:00:01:05' }] }) },
  ] as Command[];
  commands.forEach((c, i) => {
    const r = store.apply(c, entry(i + 1));
    if (!r.ok) throw r.error;
  });
  return store;
}

describe('assignmentFor', () => {
  it("sends a node only its own tasks, with the service's container, aliases and host ports", () => {
    const a = assignmentFor(cluster(), 'n1');
    expect(a.tasks.map((t) => t.taskId)).toEqual(['t-web1']);
    expect(a.tasks[0]).toMatchObject({ serviceName: 'shop_web', stack: 'shop', slot: 1, attachments: [{ networkId: 'net1', address: '10.0.1.3/24', aliases: ['web'] }] });
    expect(a.tasks[0]?.hostPorts).toEqual([{ target: 80, published: 8080, protocol: 'tcp', mode: 'host' }]);
  });

  it('lists every host with endpoints on the network as peers, by underlay address', () => {
    const [net] = assignmentFor(cluster(), 'n1').networks;
    expect(net?.vni).toBe(4096);
    expect(net?.peers).toEqual([
      { nodeId: 'n1', underlay: '192.168.1.11', endpoints: [{ address: '10.0.1.3', mac: '02:42:0a:00:01:03' }] },
      {
        nodeId: 'n2',
        underlay: '192.168.1.12',
        endpoints: [
          { address: '10.0.1.4', mac: '02:42:0a:00:01:04' },
          { address: '10.0.1.5', mac: '02:42:0a:00:01:05' },
        ],
      },
    ]);
  });

  it('names a vip-mode service and its aliases by the VIP, a dnsrr one by its tasks, tasks.<name> and tasks.<alias> by tasks', () => {
    const dns = Object.fromEntries((assignmentFor(cluster(), 'n1').networks[0]?.dns ?? []).map((r) => [r.name, r.addresses]));
    expect(dns.shop_web).toEqual(['10.0.1.2']);
    expect(dns.web).toEqual(['10.0.1.2']);
    expect(dns['tasks.shop_web']).toEqual(['10.0.1.3', '10.0.1.4']);
    // a compose file written for Swarm asks tasks.<service as named in the file>
    expect(dns['tasks.web']).toEqual(['10.0.1.3', '10.0.1.4']);
    expect(dns['tasks.db']).toEqual(['10.0.1.5']);
    expect(dns.shop_db).toEqual(['10.0.1.5']);
    expect(dns.db).toEqual(['10.0.1.5']);
    expect(dns['shop_web.1.t-web1']).toEqual(['10.0.1.3']);
  });

  it('sends a task placed on the node from birth (a global one) only once it is assigned, with its addresses', () => {
    for (const state of ['new', 'pending'] as const) expect(assignmentFor(cluster({ webState2: state }), 'n2').tasks.map((t) => t.taskId)).toEqual(['t-db1']);
    const a = assignmentFor(cluster({ webState2: 'assigned' }), 'n2');
    expect(a.tasks.map((t) => t.taskId).sort()).toEqual(['t-db1', 't-web2']);
  });

  it('keeps a task that is not running yet out of names and VIP backends, but not out of peers', () => {
    const [net] = assignmentFor(cluster({ webState2: 'starting' }), 'n1').networks;
    expect(net?.vips).toEqual([{ address: '10.0.1.2', backends: ['10.0.1.3'] }]);
    expect(net?.dns.find((r) => r.name === 'tasks.shop_web')?.addresses).toEqual(['10.0.1.3']);
    expect(net?.peers.find((p) => p.nodeId === 'n2')?.endpoints.map((e) => e.address)).toContain('10.0.1.4');
  });
});

describe('diffAssignments', () => {
  it('is undefined when nothing changed', () => {
    const s = cluster();
    expect(diffAssignments(assignmentFor(s, 'n1'), assignmentFor(s, 'n1'))).toBeUndefined();
  });

  it("carries a network whose names changed elsewhere, and none of the node's unchanged tasks", () => {
    const before = assignmentFor(cluster(), 'n1');
    const after = assignmentFor(cluster({ webState2: 'failed' }), 'n1');
    const d = diffAssignments(before, after);
    expect(d?.upsertTasks).toEqual([]);
    expect(d?.upsertNetworks.map((n) => n.networkId)).toEqual(['net1']);
    expect(d?.upsertNetworks[0]?.vips).toEqual([{ address: '10.0.1.2', backends: ['10.0.1.3'] }]);
    expect(d?.removeTasks).toEqual([]);
  });

  it('removes the tasks and networks a node no longer has', () => {
    const before = assignmentFor(cluster(), 'n2');
    const d = diffAssignments(before, { tasks: [], networks: [] });
    expect(d?.removeTasks.sort()).toEqual(['t-db1', 't-web2']);
    expect(d?.removeNetworks).toEqual(['net1']);
  });
});
