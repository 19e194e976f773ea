import { ShoalError, cidrSize, cidrsOverlap, formatCidr, formatIpv4, parseCidr, type Cidr } from '@shoal/core';

import { hostName } from './names.js';

/** A route or address already present in the root namespace, which a lab's subnet must avoid. */
export interface TakenRange {
  cidr: Cidr;
  /** What holds it, for the error message ("route via eth0", "lab lab2"). */
  owner: string;
}

export interface HostPlan {
  name: string;
  index: number;
  address: string;
}

export interface LabPlan {
  subnet: Cidr;
  /** The root namespace's address on the underlay bridge. */
  gateway: string;
  hosts: HostPlan[];
}

// Hosts start at .11 so that h1 is x.x.x.11, h2 .12 and so on: easy to read in a table.
const FIRST_HOST_OFFSET = 10;

/** Default subnets tried in turn: private, and clear of Shoal's own 10.0.0.0/8 overlay pool. */
export function defaultSubnets(): Cidr[] {
  const out: Cidr[] = [];
  for (let third = 213; third < 256; third++) out.push(parseCidr(`192.168.${third}.0/24`));
  for (let third = 200; third < 213; third++) out.push(parseCidr(`192.168.${third}.0/24`));
  return out;
}

function fits(subnet: Cidr, hosts: number): boolean {
  // network, gateway, the reserved offset, the hosts, broadcast
  return FIRST_HOST_OFFSET + hosts + 1 < cidrSize(subnet);
}

export function planLab(hosts: number, requested: string | undefined, taken: readonly TakenRange[]): LabPlan {
  let subnet: Cidr;
  if (requested !== undefined) {
    subnet = parseCidr(requested);
    const clash = taken.find((t) => cidrsOverlap(t.cidr, subnet));
    if (clash) {
      throw new ShoalError(
        'subnet_in_use',
        `subnet ${formatCidr(subnet)} collides with ${formatCidr(clash.cidr)} (${clash.owner})`,
        'choose another --subnet, or leave it out to let the lab pick a free one',
      );
    }
    if (!fits(subnet, hosts)) {
      throw new ShoalError('subnet_too_small', `subnet ${formatCidr(subnet)} cannot hold ${hosts} hosts`, 'use a larger subnet (a /24 holds up to 244)');
    }
  } else {
    const free = defaultSubnets().find((c) => fits(c, hosts) && !taken.some((t) => cidrsOverlap(t.cidr, c)));
    if (!free) {
      throw new ShoalError('no_free_subnet', 'every default lab subnet (192.168.200-255.0/24) is in use', 'pass --subnet with a free range');
    }
    subnet = free;
  }
  return {
    subnet,
    gateway: formatIpv4(subnet.network + 1),
    hosts: Array.from({ length: hosts }, (_, i) => ({
      name: hostName(i + 1),
      index: i + 1,
      address: formatIpv4(subnet.network + FIRST_HOST_OFFSET + i + 1),
    })),
  };
}

/** The pairs of hosts that may no longer talk when the lab is split into these groups. */
export function partitionPairs(groups: readonly (readonly string[])[]): [string, string][] {
  const pairs: [string, string][] = [];
  groups.forEach((group, gi) => {
    groups.forEach((other, oi) => {
      if (gi === oi) return;
      for (const a of group) for (const b of other) pairs.push([a, b]);
    });
  });
  return pairs;
}
