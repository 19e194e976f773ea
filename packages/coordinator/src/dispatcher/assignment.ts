import { canonicalNetwork, type Network, type NetworkAssignment, type Service, type Task, type TaskAssignment } from '@shoal/core';
import type { Store } from '../store/store.js';

/** What one node must run and know: the tasks placed on it and the networks they are on. */
export interface NodeAssignment {
  tasks: TaskAssignment[];
  networks: NetworkAssignment[];
}

/** The store as the dispatcher reads it. */
export type AssignmentView = Pick<Store, 'get' | 'list' | 'tasksOnNode' | 'tasksOfService' | 'networkByName'>;

function plain(address: string): string {
  return address.split('/')[0] ?? address;
}

/**
 * A task the node should be running: scheduled there, wanted, not yet ended. A global task names
 * its node from birth, but until the scheduler assigns it (after the allocator gave it its
 * addresses) it is not the node's to run: sent earlier, its container started with no network
 * and no resolver, and kept running so.
 */
function wantedOn(task: Task, nodeId: string): boolean {
  return task.nodeId === nodeId && task.desiredState === 'running' && !['new', 'pending', 'complete', 'failed', 'shutdown', 'rejected', 'orphaned'].includes(task.status.state);
}

/** Serves names and VIP backends: only a task that runs (and passed its healthcheck) does. */
function serving(task: Task): boolean {
  return task.desiredState === 'running' && task.status.state === 'running';
}

/** Holds its address on the wire: placed and not ended, so peers can reach it as it starts. */
function placed(task: Task): boolean {
  return task.nodeId !== undefined && task.desiredState === 'running' && !['complete', 'failed', 'shutdown', 'rejected', 'orphaned'].includes(task.status.state);
}

export function taskName(service: Service, task: Task): string {
  return `${service.spec.name}.${task.slot ?? task.nodeId ?? ''}.${task.id}`;
}

/**
 * The assignment of one node, from the store alone: every task placed on it, and for each
 * network those tasks are on, the other hosts' endpoints (static FDB and neighbour entries), the
 * names its resolver answers and the VIPs with their backends. Pure: the dispatcher diffs two
 * of these to send deltas.
 */
export function assignmentFor(view: AssignmentView, nodeId: string): NodeAssignment {
  const { tasks, networkIds } = tasksFor(view, nodeId);
  const networks: NetworkAssignment[] = [];
  for (const id of networkIds) {
    const net = view.get('network', id);
    if (net?.allocation) networks.push(networkAssignment(view, net));
  }
  return { tasks, networks };
}

/** The tasks placed on one node, and the networks they are on (sorted). */
export function tasksFor(view: AssignmentView, nodeId: string): { tasks: TaskAssignment[]; networkIds: string[] } {
  const tasks: TaskAssignment[] = [];
  const networkIds = new Set<string>();
  for (const task of view.tasksOnNode(nodeId)) {
    if (!wantedOn(task, nodeId)) continue;
    const service = view.get('service', task.serviceId);
    if (!service) continue;
    const spec = service.spec;
    const aliasesOn = (networkId: string): string[] => {
      const net = view.get('network', networkId);
      return spec.networks.find((n) => n.target === net?.spec.name)?.aliases ?? [];
    };
    tasks.push({
      taskId: task.id,
      serviceId: service.id,
      serviceName: spec.name,
      ...(service.stack !== undefined ? { stack: service.stack } : {}),
      ...(task.slot !== undefined ? { slot: task.slot } : {}),
      desiredState: task.desiredState,
      specVersion: task.specVersion,
      container: spec.container,
      limits: spec.resources.limits,
      ...(spec.networkMode ? { networkMode: spec.networkMode } : {}),
      attachments: task.attachments.map((a) => ({ networkId: a.networkId, address: a.address, mac: a.mac, aliases: aliasesOn(a.networkId) })),
      hostPorts: spec.endpoint.ports.filter((p) => p.mode === 'host'),
    });
    for (const a of task.attachments) networkIds.add(a.networkId);
  }
  return { tasks, networkIds: [...networkIds].sort() };
}

/**
 * One network as every node with a task on it is sent it. `services`, when given, are the only
 * services that can matter (those on the network or with a task attached to it): the caller
 * indexed them once for many networks, rather than each network looking at every service.
 */
export function networkAssignment(view: AssignmentView, net: Network, services?: readonly Service[]): NetworkAssignment {
  const alloc = net.allocation;
  if (!alloc) throw new Error(`network ${net.id} is not allocated`);
  const peers = new Map<string, { address: string; mac: string }[]>();
  const names = new Map<string, string[]>();
  const add = (name: string, address: string): void => {
    const list = names.get(name) ?? [];
    if (!list.includes(address)) list.push(address);
    names.set(name, list);
  };
  const vips: NetworkAssignment['vips'] = [];
  for (const service of services ?? view.list('service')) {
    const onNet = service.spec.networks.find((n) => view.networkByName(n.target)?.id === net.id);
    const tasks = view.tasksOfService(service.id);
    const backends: string[] = [];
    for (const task of tasks) {
      const att = task.attachments.find((a) => a.networkId === net.id);
      if (!att) continue;
      const address = plain(att.address);
      if (placed(task) && task.nodeId !== undefined) {
        peers.set(task.nodeId, [...(peers.get(task.nodeId) ?? []), { address, mac: att.mac }]);
      }
      if (!serving(task)) continue;
      backends.push(address);
      add(`tasks.${service.spec.name}`, address);
      // as Swarm: a stack's service answers tasks.<short name> too (its alias), not only tasks.<stack_name>
      for (const alias of onNet?.aliases ?? []) add(`tasks.${alias}`, address);
      add(taskName(service, task), address);
      if (service.spec.container.hostname) add(service.spec.container.hostname, address);
    }
    if (!onNet && backends.length === 0) continue;
    const vip = service.vips.find((v) => v.networkId === net.id)?.address;
    // vip mode: the name is the VIP, spread by the agents' DNAT; dnsrr: every task, rotated
    const front = service.spec.endpoint.mode === 'vip' && vip !== undefined ? [vip] : backends;
    if (service.spec.endpoint.mode === 'vip' && vip !== undefined) vips.push({ address: vip, backends: [...backends] });
    for (const address of front) {
      add(service.spec.name, address);
      for (const alias of onNet?.aliases ?? []) add(alias, address);
    }
  }
  // in the one order a patched copy keeps (see canonicalNetwork): agents hold exactly this
  return canonicalNetwork({
    networkId: net.id,
    name: net.spec.name,
    driver: net.spec.driver,
    driverOpts: net.spec.driverOpts,
    ...(alloc.vni !== undefined ? { vni: alloc.vni } : {}),
    subnet: alloc.subnet,
    gateway: alloc.gateway,
    peers: [...peers].flatMap(([nodeId, endpoints]) => {
      const node = view.get('node', nodeId);
      return node ? [{ nodeId, underlay: node.address, endpoints }] : [];
    }),
    dns: [...names].map(([name, addresses]) => ({ name, addresses })),
    vips,
  });
}
