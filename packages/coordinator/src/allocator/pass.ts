import type { Network, Service, Task } from '@shoal/core';
import { isShoalError, isTerminalTaskState } from '@shoal/core';
import type { ObjectCommand } from '../store/commands.js';
import type { Store } from '../store/store.js';
import type { Allocator } from './allocator.js';
import { isClusterIpam, taskOwner, vipOwner } from './allocator.js';

/** What the allocator reads of the store. */
export type AllocatorView = Pick<Store, 'list' | 'get' | 'networkByName'>;

export interface AllocationPass {
  /** Updates to propose, each against the version read. */
  commands: ObjectCommand[];
  /** Objects that could not be allocated and why, for the log and `inspect`. */
  problems: { kind: 'network' | 'service' | 'task'; id: string; message: string }[];
}

const message = (err: unknown): string => (isShoalError(err) ? err.what : String(err));

/** The overlay networks a service attaches, resolved; undefined where one is missing or unallocated. */
function overlayTargets(service: Service, view: AllocatorView): { network: Network | undefined; target: string; ipv4Address?: string | undefined }[] {
  return service.spec.networks
    .map((n) => ({ network: view.networkByName(n.target), target: n.target, ipv4Address: n.ipv4Address }))
    .filter(({ network }) => network === undefined || isClusterIpam(network));
}

/**
 * Whether a task has everything the allocator owes it: an address on each overlay network of its
 * service. The scheduler places only such tasks, so no container starts without its addresses.
 */
export function isAllocated(task: Task, service: Service, view: AllocatorView): boolean {
  if (task.status.state !== 'pending') return false;
  return overlayTargets(service, view).every(({ network }) => network !== undefined && task.attachments.some((a) => a.networkId === network.id));
}

/**
 * A task past allocation whose service joined or left an overlay since: its attachments made to
 * match (an address on each new network, the address on a left one given back), or undefined
 * when nothing changes. The task is not replaced: its agent plugs the container in or out.
 */
function liveAttachments(t: Task, service: Service, view: AllocatorView, allocator: Allocator, allocated: ReadonlySet<string>, out: AllocationPass): Task['attachments'] | undefined {
  if (t.desiredState !== 'running' || t.status.state === 'new' || t.status.state === 'pending' || isTerminalTaskState(t.status.state)) return undefined;
  const targets = overlayTargets(service, view).filter((x): x is typeof x & { network: Network } => x.network !== undefined && allocated.has(x.network.id));
  const wanted = new Set(targets.map((x) => x.network.id));
  const kept = t.attachments.filter((a) => wanted.has(a.networkId));
  for (const a of t.attachments) if (!wanted.has(a.networkId)) allocator.releaseTaskOn(t.id, a.networkId);
  const missing = targets.filter((x) => !t.attachments.some((a) => a.networkId === x.network.id));
  let added: Task['attachments'] = [];
  if (missing.length > 0) {
    try {
      added = allocator.allocateTask(t.id, missing.map(({ network, ipv4Address }) => ({ network, ipv4Address })));
    } catch (err) {
      out.problems.push({ kind: 'task', id: t.id, message: message(err) });
    }
  }
  if (added.length === 0 && kept.length === t.attachments.length) return undefined;
  return [...kept, ...added];
}

/**
 * Bring the allocator and the store into line: free what the store no longer holds, then decide
 * what is missing (networks first, since services and tasks take addresses from them; services'
 * VIPs and published ingress ports; then tasks' addresses). The
 * allocator's own state moves at once; the returned commands record the decisions, and proposing
 * them again after a loss yields the same addresses, since holders are remembered by owner.
 * `now` stamps the tasks' status changes (the leader's clock, passed in).
 */
export function allocatePass(view: AllocatorView, allocator: Allocator, now: string, limit = Infinity): AllocationPass {
  const out: AllocationPass = { commands: [], problems: [] };
  const networks = view.list('network');
  const services = view.list('service');
  const tasks = view.list('task');

  const liveNetworks = new Set(networks.map((n) => n.id));
  for (const id of allocator.networkIds()) if (!liveNetworks.has(id)) allocator.releaseNetwork(id);
  const liveOwners = new Set([
    ...tasks.filter((t) => !isTerminalTaskState(t.status.state)).map((t) => taskOwner(t.id)),
    ...services.filter((s) => s.spec.endpoint.mode === 'vip').map((s) => vipOwner(s.id)),
  ]);
  const liveServices = new Set(services.map((s) => s.id));
  for (const owner of allocator.portOwners()) if (!liveServices.has(owner)) allocator.releasePorts(owner);
  for (const owner of allocator.owners()) {
    if (liveOwners.has(owner)) continue;
    if (owner.startsWith('task:')) allocator.releaseTask(owner.slice(5));
    else allocator.releaseVips(owner.slice(4));
  }

  for (const n of networks) {
    try {
      const allocation = allocator.allocateNetwork(n);
      if (allocation && !n.allocation) out.commands.push({ op: 'update', kind: 'network', object: { ...n, allocation } });
    } catch (err) {
      out.problems.push({ kind: 'network', id: n.id, message: message(err) });
    }
  }

  for (const s of services) {
    const wanted = s.spec.endpoint.mode === 'vip' ? overlayTargets(s, view).flatMap(({ network }) => (network ? [network] : [])) : [];
    const wantedIds = new Set(wanted.map((n) => n.id));
    for (const vip of s.vips) if (!wantedIds.has(vip.networkId)) allocator.releaseVip(s.id, vip.networkId);
    const vips: Service['vips'] = [];
    for (const n of wanted) {
      try {
        vips.push({ networkId: n.id, address: allocator.allocateVip(s.id, n) });
      } catch (err) {
        out.problems.push({ kind: 'service', id: s.id, message: message(err) });
      }
    }
    vips.sort((a, b) => (a.networkId < b.networkId ? -1 : 1));
    let ports = s.ports;
    try {
      ports = allocator.assignPorts(s.id, s.spec.endpoint.ports, s.ports);
    } catch (err) {
      out.problems.push({ kind: 'service', id: s.id, message: message(err) });
    }
    if (JSON.stringify(vips) !== JSON.stringify(s.vips) || JSON.stringify(ports) !== JSON.stringify(s.ports)) {
      out.commands.push({ op: 'update', kind: 'service', object: { ...s, vips, ports } });
    }
  }

  const allocated = new Set(allocator.networkIds());
  for (const t of tasks) {
    const service = view.get('service', t.serviceId);
    if (service) {
      const live = liveAttachments(t, service, view, allocator, allocated, out);
      if (live) out.commands.push({ op: 'update', kind: 'task', object: { ...t, attachments: live } });
    }
  }
  // at most `limit` new tasks a pass (see schedulePass): the commit of these starts the next
  let taken = 0;
  for (const t of tasks) {
    if (taken >= limit) break;
    if (t.desiredState !== 'running' || (t.status.state !== 'new' && t.status.state !== 'pending')) continue;
    const service = view.get('service', t.serviceId);
    if (!service || isAllocated(t, service, view)) continue;
    const targets = overlayTargets(service, view);
    let reason: string | undefined;
    let attachments: Task['attachments'] = [];
    const missing = targets.find(({ network }) => network === undefined || !allocated.has(network.id));
    const full = targets.map(({ network, ipv4Address }) => (network && ipv4Address === undefined ? allocator.exhausted(network.id) : undefined)).find((r) => r !== undefined);
    if (missing) {
      reason = `network ${missing.target} ${missing.network ? 'has no subnet yet' : 'does not exist'}`;
    } else if (full !== undefined) {
      reason = full;
    } else {
      try {
        attachments = allocator.allocateTask(t.id, targets.map(({ network, ipv4Address }) => ({ network: network as Network, ipv4Address })));
      } catch (err) {
        reason = message(err);
      }
    }
    const status = { ...t.status, state: 'pending' as const, message: reason ?? 'allocated', at: now };
    if (reason !== undefined) out.problems.push({ kind: 'task', id: t.id, message: reason });
    if (t.status.state === 'pending' && t.status.message === status.message && t.attachments.length === attachments.length) continue;
    out.commands.push({ op: 'update', kind: 'task', object: { ...t, attachments, status } });
    taken++;
  }
  return out;
}
