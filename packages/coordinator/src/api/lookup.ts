import { randomBytes } from 'node:crypto';
import { ShoalError, type Network, type Node, type Service, type SpecProblem } from '@shoal/core';
import type { Store } from '../store/store.js';

/** Meta of an object before the store stamps it. */
export const META = { version: 0, createdAt: '', updatedAt: '' };

export const newId = (): string => randomBytes(12).toString('hex');

export function refuse(code: string, problems: SpecProblem[], what: string): never {
  const first = problems[0];
  throw new ShoalError(code, `${what}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, first ? 'fix the spec and try again' : undefined);
}

/**
 * People name things by id, by name, or by the first characters of the id as Docker lets
 * them; a prefix that matches several is refused rather than guessed.
 */
function byPrefix<T extends { id: string }>(items: readonly T[], ref: string, kind: string): T | undefined {
  if (ref.length < 4) return undefined;
  const hits = items.filter((i) => i.id.startsWith(ref));
  if (hits.length > 1) throw new ShoalError('ambiguous', `${ref} matches ${hits.length} ${kind}s`, 'give more characters of the id, or the name');
  return hits[0];
}

export function findService(store: Store, ref: string): Service {
  const s = store.get('service', ref) ?? store.serviceByName(ref) ?? byPrefix(store.list('service'), ref, 'service');
  if (!s) throw new ShoalError('no_such_service', `there is no service ${ref}`, 'see shoal service ls');
  return s;
}

export function findNetwork(store: Store, ref: string): Network {
  const n = store.get('network', ref) ?? store.networkByName(ref) ?? byPrefix(store.list('network'), ref, 'network');
  if (!n) throw new ShoalError('no_such_network', `there is no network ${ref}`, 'see shoal network ls');
  return n;
}

export function findNode(store: Store, ref: string): Node {
  const nodes = store.list('node');
  const byName = nodes.filter((n) => n.hostname === ref);
  if (byName.length > 1) throw new ShoalError('ambiguous', `${byName.length} nodes are named ${ref}`, 'name the node by its id (see shoal node ls)');
  const n = store.get('node', ref) ?? byName[0] ?? byPrefix(nodes, ref, 'node');
  if (!n) throw new ShoalError('no_such_node', `there is no node ${ref}`, 'see shoal node ls');
  return n;
}

/** A write made from a stale read is refused before it reaches Raft, naming both versions. */
export function checkVersion(kind: string, name: string, read: number, now: number): void {
  if (read !== now) {
    throw new ShoalError('version_conflict', `${kind} ${name} changed since it was read (version ${read}, now ${now})`, `inspect the ${kind} again and retry with the current version`);
  }
}
