import { parseConstraint } from '../constraints.js';
import { isShoalError } from '../errors.js';
import { cidrContains, parseCidr } from '../ipam/cidr.js';
import { ipamProblems } from '../ipam/config.js';
import { isIpv4, parseIpv4 } from '../ipam/ipv4.js';
import type { NetworkSpec } from './network.js';
import type { ServiceSpec } from './service.js';

/** A rule a well-typed spec still breaks; `path` uses the spec's own field names. */
export interface SpecProblem {
  path: string;
  message: string;
}

/**
 * The rules of a service spec that a schema cannot express. The API runs them on
 * `service.create` and `service.update`, so a spec that did not come from a compose file is
 * held to the same rules as one that did.
 */
export function serviceSpecProblems(spec: ServiceSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const add = (path: string, message: string): void => void problems.push({ path, message });
  spec.placement.constraints.forEach((c, i) => {
    try {
      parseConstraint(c);
    } catch (err) {
      add(`placement.constraints[${i}]`, isShoalError(err) ? err.message : String(err));
    }
  });
  spec.placement.preferences.forEach((p, i) => {
    if (!/^(node|engine)\.labels\.[^\s=!]+$/i.test(p.spread)) add(`placement.preferences[${i}].spread`, `expected a node label such as node.labels.zone, got ${JSON.stringify(p.spread)}`);
  });
  if (spec.networkMode && spec.networks.length > 0) add('networkMode', 'cannot be combined with networks');
  const published = new Set<string>();
  spec.endpoint.ports.forEach((p, i) => {
    if (spec.endpoint.mode === 'dnsrr' && p.mode === 'ingress') add(`endpoint.ports[${i}]`, 'ingress ports need endpoint mode vip');
    if (p.hostIp !== undefined && p.mode !== 'host') add(`endpoint.ports[${i}].hostIp`, 'needs mode host');
    if (p.published === undefined) return;
    const key = `${p.published}/${p.protocol}`;
    if (published.has(key)) add(`endpoint.ports[${i}]`, `port ${key} is published twice`);
    published.add(key);
  });
  const targets = new Set<string>();
  spec.networks.forEach((n, i) => {
    if (targets.has(n.target)) add(`networks[${i}]`, `network ${n.target} is attached twice`);
    targets.add(n.target);
    if (n.ipv4Address !== undefined && (spec.mode.kind === 'global' || spec.mode.replicas > 1)) {
      add(`networks[${i}].ipv4Address`, 'a fixed address fits one task; run one replica');
    }
  });
  const { limits, reservations } = spec.resources;
  if (limits.nanoCpus !== undefined && reservations.nanoCpus !== undefined && reservations.nanoCpus > limits.nanoCpus) {
    add('resources.reservations.nanoCpus', 'reserves more CPU than the limit');
  }
  if (limits.memoryBytes !== undefined && reservations.memoryBytes !== undefined && reservations.memoryBytes > limits.memoryBytes) {
    add('resources.reservations.memoryBytes', 'reserves more memory than the limit');
  }
  return problems;
}

/** Docker's own local drivers manage their addresses themselves, or have none. */
const NO_IPAM: ReadonlySet<string> = new Set(['host', 'none']);

export function networkSpecProblems(spec: NetworkSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  if (spec.ipam.length > 0 && NO_IPAM.has(spec.driver)) {
    problems.push({ path: 'ipam', message: `the ${spec.driver} driver takes no addresses` });
  }
  spec.ipam.forEach((pool, i) => {
    for (const p of ipamProblems(pool)) problems.push({ path: `ipam[${i}].${p.field}`, message: p.message });
  });
  return problems;
}

/** A service's fixed addresses must lie in the subnets of the networks they name. */
export function fixedAddressProblems(spec: ServiceSpec, subnetOf: (network: string) => string | undefined): SpecProblem[] {
  const problems: SpecProblem[] = [];
  spec.networks.forEach((n, i) => {
    if (n.ipv4Address === undefined) return;
    const subnet = subnetOf(n.target);
    if (!isIpv4(n.ipv4Address)) {
      problems.push({ path: `networks[${i}].ipv4Address`, message: `${JSON.stringify(n.ipv4Address)} is not an IPv4 address` });
    } else if (subnet === undefined) {
      problems.push({ path: `networks[${i}].ipv4Address`, message: `network ${n.target} has no subnet chosen by a person, so it takes no fixed address` });
    } else if (!cidrContains(parseCidr(subnet), parseIpv4(n.ipv4Address))) {
      problems.push({ path: `networks[${i}].ipv4Address`, message: `${n.ipv4Address} is not inside ${subnet}, the subnet of ${n.target}` });
    }
  });
  return problems;
}
