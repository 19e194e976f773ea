import { ShoalError, isShoalError } from '../errors.js';
import type { Cidr } from './cidr.js';
import { cidrContains, cidrFirst, cidrInside, cidrLast, firstUsable, formatCidr, parseCidr } from './cidr.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';

/** As a person writes it (compose `ipam.config`, `shoal network create`). */
export interface IpamInput {
  subnet: string;
  ipRange?: string | undefined;
  gateway?: string | undefined;
}

/** Checked and with defaults filled in; serialisable as it stands. */
export interface IpamConfig {
  subnet: string;
  ipRange?: string;
  gateway: string;
}

export interface IpamProblem {
  field: 'subnet' | 'ipRange' | 'gateway';
  message: string;
}

/** A subnet must hold a gateway and at least one task: /30 is the smallest. */
export const MAX_SUBNET_PREFIX = 30;

function reason(err: unknown): string {
  return isShoalError(err) ? (err.todo ? `${err.what} (${err.todo})` : err.what) : String(err);
}

/**
 * Every problem of an IPAM config, each naming its field, so a compose file with a wrong
 * ip_range and a wrong gateway gets both errors at once.
 */
export function ipamProblems(input: IpamInput): IpamProblem[] {
  const problems: IpamProblem[] = [];
  let subnet: Cidr;
  try {
    subnet = parseCidr(input.subnet);
  } catch (err) {
    return [{ field: 'subnet', message: reason(err) }];
  }
  if (subnet.prefix > MAX_SUBNET_PREFIX) {
    problems.push({ field: 'subnet', message: `${input.subnet} is too small for a gateway and a task; use /${MAX_SUBNET_PREFIX} or larger` });
  }
  let range: Cidr | undefined;
  if (input.ipRange !== undefined) {
    try {
      range = parseCidr(input.ipRange);
      if (!cidrInside(range, subnet)) {
        problems.push({ field: 'ipRange', message: `${input.ipRange} is not inside the subnet ${input.subnet}` });
      }
    } catch (err) {
      problems.push({ field: 'ipRange', message: reason(err) });
    }
  }
  if (input.gateway !== undefined) {
    try {
      const gw = parseIpv4(input.gateway);
      if (!cidrContains(subnet, gw)) {
        problems.push({ field: 'gateway', message: `${input.gateway} is not inside the subnet ${input.subnet}` });
      } else if (subnet.prefix < 31 && (gw === cidrFirst(subnet) || gw === cidrLast(subnet))) {
        const which = gw === cidrFirst(subnet) ? 'network' : 'broadcast';
        problems.push({ field: 'gateway', message: `${input.gateway} is the ${which} address of ${input.subnet}` });
      }
    } catch (err) {
      problems.push({ field: 'gateway', message: reason(err) });
    }
  }
  return problems;
}

/** Check an IPAM config and fill in the gateway (first usable address, as Docker does). */
export function resolveIpam(input: IpamInput): IpamConfig {
  const problems = ipamProblems(input);
  const first = problems[0];
  if (first) {
    throw new ShoalError('bad_ipam', problems.map((p) => `${p.field}: ${p.message}`).join('; '), `fix the ${first.field} of the network`);
  }
  const subnet = parseCidr(input.subnet);
  return {
    subnet: formatCidr(subnet),
    ...(input.ipRange === undefined ? {} : { ipRange: input.ipRange }),
    gateway: input.gateway ?? formatIpv4(firstUsable(subnet)),
  };
}
