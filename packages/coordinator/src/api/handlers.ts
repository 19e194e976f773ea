import { createHash } from 'node:crypto';
import {
  ShoalError,
  isShoalError,
  cidrsOverlap,
  isRetriableWrite,
  networkSpecProblems,
  parseCidr,
  planStackDeploy,
  serviceSpecProblems,
  type ApiRequest,
  type Network,
  type NetworkSpec,
  type Service,
  type ServiceSpec,
} from '@shoal/core';
import { rolledBackService, updatedService } from '../orchestrator/service-update.js';
import type { BatchCommand, ObjectCommand } from '../store/commands.js';
import type { ApiBackend } from './backend.js';
import type { Store } from '../store/store.js';
import { stackSpecProblems } from './stack-checks.js';
import { demoteCoordinator, promoteCoordinator } from './membership.js';

export type { ApiBackend } from './backend.js';
import { networkConnect, networkDisconnect } from './connect.js';
import { META, checkVersion, findNetwork, findService, newId, refuse } from './lookup.js';
import { nodeInspect, nodeRm, nodeRow, nodeUpdate } from './nodes.js';
import { clusterStatus } from './cluster-status.js';
import { clusterTokens } from './tokens.js';
import { requestKey } from './once.js';


/** A new spec for an existing service: checked as a create is, under the same name. */
function checkUpdate(store: Store, s: Service, spec: ServiceSpec): void {
  const problems = serviceSpecProblems(spec);
  if (problems.length > 0) refuse('bad_service', problems, `service ${s.spec.name} cannot be updated`);
  if (spec.name !== s.spec.name) throw new ShoalError('rename_not_supported', `service ${s.spec.name} cannot be renamed to ${spec.name}`, 'create a new service under the new name, then remove this one');
  for (const n of spec.networks) findNetwork(store, n.target);
}

/** How often a change asked for without a version is computed again after a concurrent write. */
const CONFLICT_ATTEMPTS = 8;

/**
 * Runs a change the person asked for without a version (a removal, a scale, a deploy) again when
 * a concurrent write (the orchestrator's update status, a task report) moved an object it read:
 * the conflict is the coordinator's to resolve, and `fn` reads the store afresh each time.
 */
export async function unconditional<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isShoalError(err, 'version_conflict') || attempt >= CONFLICT_ATTEMPTS) throw err;
    }
  }
}

function remove(kind: 'service' | 'network', id: string, version: number): ObjectCommand {
  return { op: 'delete', kind, id, version };
}

/** A user's subnet may not overlap another network's: named, so the person knows which. */
function checkSubnet(store: Store, spec: NetworkSpec): void {
  const wanted = spec.ipam[0]?.subnet;
  if (!wanted) return;
  const mine = parseCidr(wanted);
  for (const other of store.list('network')) {
    const theirs = other.allocation?.subnet ?? other.spec.ipam[0]?.subnet;
    if (theirs && cidrsOverlap(mine, parseCidr(theirs))) {
      throw new ShoalError('subnet_overlap', `subnet ${wanted} overlaps ${theirs} of network ${other.spec.name}`, 'choose a subnet no other network uses, or leave it out to get one from the pool');
    }
  }
}

function networkCreate(store: Store, spec: NetworkSpec, stack?: string): ObjectCommand & { op: 'create' } {
  const problems = networkSpecProblems(spec);
  if (problems.length > 0) refuse('bad_network', problems, `network ${spec.name} is invalid`);
  if (store.networkByName(spec.name)) throw new ShoalError('network_exists', `a network named ${spec.name} already exists`, 'choose another name, or remove it first');
  checkSubnet(store, spec);
  return { op: 'create', kind: 'network', object: { id: newId(), meta: META, spec, ...(stack ? { stack } : {}) } };
}

function serviceCreate(store: Store, spec: ServiceSpec, stack?: string): ObjectCommand & { op: 'create' } {
  const problems = serviceSpecProblems(spec);
  if (problems.length > 0) refuse('bad_service', problems, `service ${spec.name} is invalid`);
  if (store.serviceByName(spec.name)) throw new ShoalError('service_exists', `a service named ${spec.name} already exists`, 'choose another name, or update it');
  return { op: 'create', kind: 'service', object: { id: newId(), meta: META, spec, vips: [], ports: [], ...(stack ? { stack } : {}) } };
}

/**
 * A removed service's tasks keep their addresses until their containers have stopped (or their
 * node is known lost), and a network cannot go before that. Waits for them, within bounds.
 */
async function networksReleased(store: Store, networkIds: readonly string[], timeoutMs = 8_000): Promise<void> {
  const ids = new Set(networkIds);
  const holder = (): string | undefined => store.list('task').find((t) => t.attachments.some((a) => ids.has(a.networkId)))?.id;
  const deadline = Date.now() + timeoutMs;
  for (let t = holder(); t !== undefined; t = holder()) {
    if (Date.now() > deadline) throw new ShoalError('network_busy', `task ${t} still holds an address on the network after ${timeoutMs / 1000} s`, 'its container is still stopping (or its node is unreachable): try again in a moment');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A service as `service ls` shows it: desired and running replicas. */
function summary(store: Store, s: Service): Record<string, unknown> {
  const tasks = store.tasksOfService(s.id).filter((t) => t.desiredState === 'running');
  const desired = s.spec.mode.kind === 'replicated' ? s.spec.mode.replicas : tasks.length;
  return {
    id: s.id,
    name: s.spec.name,
    stack: s.stack,
    mode: s.spec.mode.kind,
    image: s.spec.container.image,
    desired,
    running: tasks.filter((t) => t.status.state === 'running').length,
    ports: s.ports,
    vips: s.vips,
    version: s.meta.version,
  };
}

function tasksOf(store: Store, s: Service): Record<string, unknown>[] {
  return store.tasksOfService(s.id).map((t) => ({
    id: t.id,
    service: s.spec.name,
    slot: t.slot,
    node: t.nodeId ? (store.get('node', t.nodeId)?.hostname ?? t.nodeId) : undefined,
    desired: t.desiredState,
    nodeId: t.nodeId,
    state: t.status.state,
    containerId: t.status.containerId,
    at: t.status.at,
    message: t.status.message,
    err: t.status.err,
    addresses: t.attachments.map((a) => a.address),
  }));
}

/**
 * The verbs of the API, each validated by the request schema first. Writes are proposed
 * through Raft and answered once applied; a refusal changes nothing. A write's last command
 * carries its request key and answer, so that the store remembers it: the same request sent
 * again (its client lost the answer with a leader that died) is answered from there, and an
 * entry proposed twice applies once. A write of several entries (stack.rm) carries it on its
 * last: sent again halfway, it does what is left.
 */
export async function handle(b: ApiBackend, req: ApiRequest): Promise<unknown> {
  const store = b.store;
  const key = isRetriableWrite(req.verb) ? requestKey(req) : '';
  const first = key ? b.applied?.(key) : undefined;
  if (first) return first.answer;
  switch (req.verb) {
    case 'cluster.info':
      // the digest lets a checker see that coordinators at the same index hold the same store
      return {
        nodes: store.count('node'),
        networks: store.count('network'),
        services: store.count('service'),
        tasks: store.count('task'),
        index: store.index,
        member: b.member,
        leading: b.leading,
        digest: createHash('sha256').update(JSON.stringify(store.snapshotView())).digest('hex'),
      };
    case 'cluster.tokens':
      return clusterTokens(b, req.body.rotate, key);
    case 'cluster.status':
      return clusterStatus(store, b.liveness?.() ?? new Map(), b.hostname, await b.raftView?.(req.body.members === true));
    case 'events.since': {
      if (!b.events) throw new ShoalError('not_supported', 'this coordinator keeps no events', 'ask the leader');
      return b.events.query(req.body);
    }
    case 'node.ls':
      return store.list('node').map(nodeRow);
    case 'node.inspect':
      return nodeInspect(store, req.body.node);
    case 'node.update':
      return nodeUpdate(b, req.body, key);
    case 'node.rm':
      return nodeRm(b, req.body, key);
    case 'network.connect':
      return networkConnect(b, req.body, key);
    case 'network.disconnect':
      return networkDisconnect(b, req.body, key);
    case 'service.update': {
      const s = findService(store, req.body.service);
      checkVersion('service', s.spec.name, req.body.version, s.meta.version);
      const now = new Date().toISOString();
      let next: Service;
      if (req.body.rollback === true) {
        next = rolledBackService(s, now);
      } else {
        checkUpdate(store, s, req.body.spec);
        next = updatedService(s, req.body.spec, now);
      }
      return b.propose({ op: 'update', kind: 'service', object: next }, { key, answer: { id: s.id, name: s.spec.name, rolling: next.updateStatus !== s.updateStatus } });
    }
    case 'network.ls':
      return store.list('network').map((n) => ({ id: n.id, name: n.spec.name, driver: n.spec.driver, stack: n.stack, subnet: n.allocation?.subnet, gateway: n.allocation?.gateway, vni: n.allocation?.vni }));
    case 'network.inspect':
      return findNetwork(store, req.body.network);
    case 'network.create': {
      const cmd = networkCreate(store, req.body.spec);
      return b.propose(cmd, { key, answer: { id: (cmd.object as Network).id } });
    }
    case 'network.rm': {
      const n = findNetwork(store, req.body.network);
      const users = store.list('service').filter((s) => s.spec.networks.some((x) => x.target === n.spec.name)).map((s) => s.spec.name);
      if (users.length > 0) throw new ShoalError('network_in_use', `network ${n.spec.name} is in use by ${users.join(', ')}`, 'remove or disconnect those services first');
      await networksReleased(store, [n.id]);
      return unconditional(() => {
        const now = findNetwork(store, n.id);
        return b.propose({ op: 'delete', kind: 'network', id: now.id, version: now.meta.version }, { key, answer: { id: n.id } });
      });
    }
    case 'service.create': {
      const cmd = serviceCreate(store, req.body.spec);
      for (const n of req.body.spec.networks) findNetwork(store, n.target);
      return b.propose(cmd, { key, answer: { id: (cmd.object as Service).id } });
    }
    case 'service.ls':
      return store
        .list('service')
        .filter((s) => req.body.stack === undefined || s.stack === req.body.stack)
        .map((s) => summary(store, s));
    case 'service.inspect':
      return findService(store, req.body.service);
    case 'service.ps':
      return tasksOf(store, findService(store, req.body.service));
    case 'service.scale':
      return unconditional(() => {
        const s = findService(store, req.body.service);
        if (s.spec.mode.kind !== 'replicated') throw new ShoalError('not_replicated', `service ${s.spec.name} is global: it runs one task per node`, 'only replicated services scale');
        return b.propose({ op: 'update', kind: 'service', object: { ...s, spec: { ...s.spec, mode: { kind: 'replicated', replicas: req.body.replicas } } } }, { key, answer: { id: s.id, replicas: req.body.replicas } });
      });
    case 'service.rm':
      return unconditional(() => {
        const s = findService(store, req.body.service);
        return b.propose({ op: 'delete', kind: 'service', id: s.id, version: s.meta.version }, { key, answer: { id: s.id } });
      });
    case 'stack.ls': {
      const stacks = new Map<string, number>();
      for (const s of store.list('service')) if (s.stack) stacks.set(s.stack, (stacks.get(s.stack) ?? 0) + 1);
      return [...stacks].map(([name, services]) => ({ name, services }));
    }
    case 'stack.ps':
      return store.servicesOfStack(req.body.stack).flatMap((s) => tasksOf(store, s));
    case 'stack.rm': {
      const services = store.servicesOfStack(req.body.stack);
      const networks = store.networksOfStack(req.body.stack);
      if (services.length === 0 && networks.length === 0) throw new ShoalError('no_such_stack', `there is no stack ${req.body.stack}`, 'see shoal stack ls');
      const answer = { services: services.length, networks: networks.length };
      const removeServices = (): BatchCommand => ({ op: 'batch', commands: store.servicesOfStack(req.body.stack).map((s) => remove('service', s.id, s.meta.version)) });
      // the request rides on the last entry: sent again halfway, it does what is left
      if (networks.length === 0) return unconditional(() => b.propose(removeServices(), { key, answer }));
      await unconditional(async () => {
        const batch = removeServices();
        if (batch.commands.length > 0) await b.propose(batch);
      });
      // networks go once their services' tasks have let go of their addresses (read again after
      // the wait: their versions may have moved meanwhile)
      await networksReleased(store, networks.map((n) => n.id));
      return unconditional(async () => {
        const left = store.networksOfStack(req.body.stack);
        return left.length > 0 ? b.propose({ op: 'batch', commands: left.map((n) => remove('network', n.id, n.meta.version)) }, { key, answer }) : answer;
      });
    }
    case 'stack.deploy':
      // a conflict applied nothing (one entry): plan again from the store as it is now
      return unconditional(async () => {
        const spec = req.body.spec;
        const current = { services: store.servicesOfStack(spec.name).map((s) => s.spec), networks: store.networksOfStack(spec.name).map((n) => n.spec) };
        const plan = planStackDeploy(current, spec, req.body.prune === undefined ? {} : { prune: req.body.prune });
        for (const name of plan.requireNetworks) if (!store.networkByName(name)) plan.problems.push(`external network ${name} does not exist`);
        plan.problems.push(...stackSpecProblems(spec, store));
        if (plan.problems.length > 0) throw new ShoalError('bad_stack', `stack ${spec.name} cannot be deployed: ${plan.problems.join('; ')}`, 'fix the stack file; nothing was changed');
        // one Raft entry: the whole deploy applies, or none of it does
        const commands: ObjectCommand[] = [];
        for (const n of plan.createNetworks) commands.push(networkCreate(store, n, spec.name));
        for (const s of plan.createServices) commands.push(serviceCreate(store, s, spec.name));
        for (const s of plan.updateServices) {
          const cur = findService(store, s.name);
          commands.push({ op: 'update', kind: 'service', object: { ...cur, spec: s } });
        }
        for (const name of plan.removeServices) {
          const cur = findService(store, name);
          commands.push({ op: 'delete', kind: 'service', id: cur.id, version: cur.meta.version });
        }
        const answer = { created: plan.createServices.map((s) => s.name), updated: plan.updateServices.map((s) => s.name), unchanged: plan.unchangedServices, removed: plan.removeServices, networks: plan.createNetworks.map((n) => n.name) };
        return commands.length > 0 ? b.propose({ op: 'batch', commands }, { key, answer }) : answer;
      });
    case 'node.promote':
      return promoteCoordinator(b, req.body.node);
    case 'node.demote':
      return demoteCoordinator(b, req.body.node);
    default:
      throw new ShoalError('not_implemented', `${(req as ApiRequest).verb} is not served by this coordinator yet`, 'see the issues for what is planned');
  }
}
