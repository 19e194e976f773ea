import { describe, expect, it } from 'vitest';
import { ShoalError, parseCidr } from '@shoal/core';
import { LabNames, checkHostCount, checkLabName, hostIndex, parseLdd, partitionPairs, planLab, requireRoot, type TakenRange } from '@shoal/lab';

const route = (cidr: string, owner = 'a route via eth0'): TakenRange => ({ cidr: parseCidr(cidr), owner });

describe('planLab', () => {
  it('puts the gateway on .1 and host hN on .(10+N) of the first free default subnet', () => {
    const plan = planLab(3, undefined, [route('192.0.2.0/24')]);
    expect(plan.gateway).toBe('192.168.213.1');
    expect(plan.hosts).toEqual([
      { name: 'h1', index: 1, address: '192.168.213.11' },
      { name: 'h2', index: 2, address: '192.168.213.12' },
      { name: 'h3', index: 3, address: '192.168.213.13' },
    ]);
  });

  it('skips default subnets that a route or another lab already holds', () => {
    const plan = planLab(1, undefined, [route('192.168.213.0/24', 'lab a'), route('192.168.214.5/32')]);
    expect(plan.gateway).toBe('192.168.215.1');
  });

  it('refuses a requested subnet that collides, naming what holds it', () => {
    expect(() => planLab(2, '192.168.0.0/16', [route('192.168.213.0/24', 'lab other')])).toThrowError(
      'subnet 192.168.0.0/16 collides with 192.168.213.0/24 (lab other) — choose another --subnet, or leave it out to let the lab pick a free one',
    );
  });

  it('refuses a subnet too small for the hosts, and one with host bits set', () => {
    expect(() => planLab(10, '10.9.0.0/28', [])).toThrowError(/cannot hold 10 hosts/);
    expect(planLab(3, '10.9.0.0/28', []).hosts.at(-1)?.address).toBe('10.9.0.13');
    expect(() => planLab(1, '10.9.0.1/24', [])).toThrowError(/has host bits set — did you mean 10.9.0.0\/24\?/);
    expect(() => planLab(1, 'ten/8', [])).toThrowError(ShoalError);
  });
});

describe('partitionPairs', () => {
  it('blocks every direction between groups and nothing inside a group', () => {
    const pairs = partitionPairs([['h1', 'h2'], ['h3']]);
    expect(pairs).toEqual([
      ['h1', 'h3'],
      ['h2', 'h3'],
      ['h3', 'h1'],
      ['h3', 'h2'],
    ]);
  });
});

describe('names', () => {
  it('keeps every interface name within the kernel limit of 15 bytes', () => {
    const names = new LabNames('abcdefgh');
    expect(names.bridge).toBe('slabcdefgh');
    expect(names.veth(64).length).toBeLessThanOrEqual(15);
  });

  it('refuses lab names that would not fit or could not be an interface name', () => {
    expect(() => checkLabName('toolongname')).toThrowError(/not a valid lab name/);
    expect(() => checkLabName('9lab')).toThrowError(/not a valid lab name/);
    expect(checkLabName('lab2')).toBe('lab2');
  });

  it('accepts 1 to 64 hosts only', () => {
    expect(() => checkHostCount(0)).toThrowError(/from 1 to 64, got 0/);
    expect(() => checkHostCount(65)).toThrowError(/got 65/);
    expect(() => checkHostCount(2.5)).toThrowError(/whole number/);
    expect(checkHostCount(64)).toBe(64);
  });

  it('reads host indexes from names', () => {
    expect(hostIndex('h12')).toBe(12);
    expect(hostIndex('h0')).toBeUndefined();
    expect(hostIndex('web')).toBeUndefined();
  });
});

describe('preflight', () => {
  it('tells a non-root user to use root, with a stable code', () => {
    expect(() => requireRoot(1000)).toThrowError(expect.objectContaining({ code: 'need_root', message: expect.stringContaining('run it as root') as string }) as Error);
    expect(() => requireRoot(0)).not.toThrow();
  });
});

describe('parseLdd', () => {
  it('collects the libraries and the loader a binary needs', () => {
    const out = [
      '\tlinux-vdso.so.1 (0x00007ffd)',
      '\tlibiperf.so.0 => /lib/x86_64-linux-gnu/libiperf.so.0 (0x00007f1)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)',
    ].join('\n');
    expect(parseLdd(out)).toEqual(['/lib/x86_64-linux-gnu/libiperf.so.0', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });
});
