import { ShoalError, isTerminalTaskState, type ApiRequestBody, type Node } from '@shoal/core';
import type { Store } from '../store/store.js';
import type { ApiBackend } from './backend.js';
import { checkVersion, findNode } from './lookup.js';

/** A node as `node ls` lists it. */
export function nodeRow(n: Node): Record<string, unknown> {
  return { id: n.id, hostname: n.hostname, address: n.address, role: n.spec.role, availability: n.spec.availability, state: n.status.state, labels: n.spec.labels, version: n.meta.version };
}

export function nodeInspect(store: Store, ref: string): Record<string, unknown> {
  const n = findNode(store, ref);
  const tasks = store.tasksOnNode(n.id).filter((t) => t.desiredState === 'running' && !isTerminalTaskState(t.status.state));
  return { ...n, tasks: tasks.map((t) => ({ id: t.id, serviceId: t.serviceId, slot: t.slot, state: t.status.state })) };
}

/**
 * Labels and availability, the part of a node a person sets. Drain takes effect through the
 * orchestrator, which shuts the node's tasks down so their slots are filled elsewhere; pause
 * only keeps new tasks away, as in Swarm.
 */
export async function nodeUpdate(b: ApiBackend, body: ApiRequestBody<'node.update'>, key: string): Promise<unknown> {
  const n = findNode(b.store, body.node);
  checkVersion('node', n.hostname, body.version, n.meta.version);
  const add = body.labelsAdd ?? {};
  const drop = body.labelsRemove ?? [];
  if (body.availability === undefined && Object.keys(add).length === 0 && drop.length === 0) {
    throw new ShoalError('nothing_to_update', `no change asked of node ${n.hostname}`, 'give --availability, --label-add or --label-rm');
  }
  const both = drop.filter((k) => k in add);
  if (both.length > 0) throw new ShoalError('bad_request', `label ${both.join(', ')} is both added and removed`, 'give each label once');
  const labels = { ...n.spec.labels, ...add };
  for (const k of drop) delete labels[k];
  const spec = { ...n.spec, labels, availability: body.availability ?? n.spec.availability };
  return b.propose({ op: 'update', kind: 'node', object: { ...n, spec } }, { key, answer: { id: n.id, hostname: n.hostname, availability: spec.availability, labels } });
}

/**
 * A node that still reports in is refused unless forced: its tasks would be replaced elsewhere
 * while it may well keep running them. Removed, its tasks count as lost and are replaced.
 */
export async function nodeRm(b: ApiBackend, body: ApiRequestBody<'node.rm'>, key: string): Promise<unknown> {
  const n = findNode(b.store, body.node);
  if (n.spec.role === 'manager') {
    throw new ShoalError('node_is_manager', `node ${n.hostname} is a manager`, `demote it first (shoal node demote ${n.hostname})`);
  }
  if (n.status.state === 'ready' && body.force !== true) {
    throw new ShoalError('node_ready', `node ${n.hostname} is ready: it still runs and reports its tasks`, 'stop its agent first (or drain it), or remove it anyway with --force');
  }
  return b.propose({ op: 'delete', kind: 'node', id: n.id, version: n.meta.version }, { key, answer: { id: n.id, hostname: n.hostname } });
}

/** Raft membership is another piece of work; until it lands these say so plainly. */
export function notSupported(verb: string): never {
  throw new ShoalError('not_supported', `${verb} is not supported by this coordinator yet`, 'coordinators are set when the cluster is bootstrapped for now');
}
