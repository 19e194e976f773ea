import { ShoalError, serviceSpecProblems, type ApiRequestBody } from '@shoal/core';
import type { ApiBackend } from './backend.js';
import { findNetwork, findService, refuse } from './lookup.js';

/**
 * A service joins an overlay network without new tasks: the allocator gives each running task an
 * address on it and the agents plug the running containers in (and out on disconnect). Only
 * overlays: a local driver's network is Docker's, made per host as tasks land.
 */
export async function networkConnect(b: ApiBackend, body: ApiRequestBody<'network.connect'>, key: string): Promise<unknown> {
  const n = findNetwork(b.store, body.network);
  const s = findService(b.store, body.service);
  if (s.spec.networkMode) throw new ShoalError('network_mode', `service ${s.spec.name} uses network mode ${s.spec.networkMode.kind}`, 'such a service joins no network');
  if (n.spec.driver !== 'overlay') {
    throw new ShoalError('not_supported', `network ${n.spec.name} is a ${n.spec.driver} network: only overlays can be connected to a running service`, `use shoal service update --network-add ${n.spec.name} to roll the tasks onto it`);
  }
  if (s.spec.networks.some((x) => x.target === n.spec.name)) {
    throw new ShoalError('already_connected', `service ${s.spec.name} is already on network ${n.spec.name}`, 'disconnect it first to change its aliases');
  }
  const spec = { ...s.spec, networks: [...s.spec.networks, { target: n.spec.name, aliases: body.aliases ?? [] }] };
  const problems = serviceSpecProblems(spec);
  if (problems.length > 0) refuse('bad_service', problems, `service ${s.spec.name} cannot join network ${n.spec.name}`);
  return b.propose({ op: 'update', kind: 'service', object: { ...s, spec } }, { key, answer: { service: s.spec.name, network: n.spec.name, aliases: body.aliases ?? [] } });
}

export async function networkDisconnect(b: ApiBackend, body: ApiRequestBody<'network.disconnect'>, key: string): Promise<unknown> {
  const n = findNetwork(b.store, body.network);
  const s = findService(b.store, body.service);
  if (!s.spec.networks.some((x) => x.target === n.spec.name)) {
    throw new ShoalError('not_connected', `service ${s.spec.name} is not on network ${n.spec.name}`, `see shoal service inspect ${s.spec.name}`);
  }
  const spec = { ...s.spec, networks: s.spec.networks.filter((x) => x.target !== n.spec.name) };
  return b.propose({ op: 'update', kind: 'service', object: { ...s, spec } }, { key, answer: { service: s.spec.name, network: n.spec.name } });
}
