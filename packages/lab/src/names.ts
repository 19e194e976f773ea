import { ShoalError } from '@shoal/core';

/** Where a lab keeps its files, and where the namespace handles of its hosts are pinned. */
export const LAB_ROOT = '/var/lib/shoal-lab';
export const NS_ROOT = '/run/shoal-lab';
export const DEFAULT_LAB = 'shoal';
export const TEST_IMAGE = 'shoal/busybox:latest';
export const MAX_HOSTS = 64;

// Interface names are limited to 15 bytes; "sl" + name + "-" + index must fit.
const LAB_NAME = /^[a-z][a-z0-9]{0,7}$/;
const HOST_NAME = /^h([1-9][0-9]*)$/;

export function checkLabName(name: string): string {
  if (!LAB_NAME.test(name)) {
    throw new ShoalError(
      'bad_lab_name',
      `"${name}" is not a valid lab name`,
      'use 1 to 8 lowercase letters or digits, starting with a letter (e.g. --name lab2)',
    );
  }
  return name;
}

export function checkHostCount(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) {
    throw new ShoalError('bad_host_count', `--hosts must be a whole number from 1 to ${MAX_HOSTS}, got ${String(n)}`, 'e.g. shoal lab up --hosts 3');
  }
  return n;
}

/** Names of everything one lab creates, derived from its name alone so `down` can find leftovers. */
export class LabNames {
  constructor(readonly lab: string) {
    checkLabName(lab);
  }

  get dir(): string {
    return `${LAB_ROOT}/${this.lab}`;
  }
  get nsDir(): string {
    return `${NS_ROOT}/${this.lab}`;
  }
  get bridge(): string {
    return `sl${this.lab}`;
  }
  /** The root namespace's end of host i's underlay veth. */
  veth(index: number): string {
    return `sl${this.lab}-${index}`;
  }
  netns(host: string): string {
    return `shoal-${this.lab}-${host}`;
  }
  netnsPath(host: string): string {
    return `/run/netns/${this.netns(host)}`;
  }
  mntPath(host: string): string {
    return `${this.nsDir}/${host}.mnt`;
  }
  utsPath(host: string): string {
    return `${this.nsDir}/${host}.uts`;
  }
  hostDir(host: string): string {
    return `${this.dir}/${host}`;
  }
  /** Docker puts every container of the host under this cgroup, so `kill` finds them all. */
  cgroup(host: string): string {
    return `shoal-lab-${this.lab}-${host}`;
  }
  /** Comment on any root-namespace firewall rule the lab adds, so `down` can find it. */
  get ruleComment(): string {
    return `shoal-lab:${this.lab}`;
  }
  get nftTable(): string {
    return `shoal_lab_${this.lab}`;
  }
}

export function hostName(index: number): string {
  return `h${index}`;
}

export function hostIndex(name: string): number | undefined {
  const m = HOST_NAME.exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}
