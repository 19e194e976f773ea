import { describe, expect, it } from 'vitest';
import type { Command } from '@shoal/coordinator';
import { Allocator, allocatePass } from '@shoal/coordinator';
import { cidrsOverlap, isTerminalTaskState, parseCidr } from '@shoal/core';
import { network, service, task } from './fixtures.js';
import { Log, rng } from './harness.js';

/** What the store says is held; every address must appear once, and only once. */
function heldInStore(log: Log): { addresses: string[]; subnets: string[]; vnis: number[] } {
  const addresses: string[] = [];
  for (const t of log.store.list('task')) {
    if (isTerminalTaskState(t.status.state)) continue;
    for (const a of t.attachments) addresses.push(`${a.networkId} ${a.address.split('/')[0] ?? ''}`);
  }
  for (const s of log.store.list('service')) for (const v of s.vips) addresses.push(`${v.networkId} ${v.address}`);
  const allocs = log.store.list('network').flatMap((n) => (n.allocation ? [n.allocation] : []));
  return { addresses, subnets: allocs.map((a) => a.subnet), vnis: allocs.flatMap((a) => (a.vni === undefined ? [] : [a.vni])) };
}

function checkInvariants(log: Log, allocator: Allocator): void {
  const held = heldInStore(log);
  expect(new Set(held.addresses).size).toBe(held.addresses.length);
  expect(new Set(held.vnis).size).toBe(held.vnis.length);
  const overlaps = held.subnets.flatMap((a, i) => held.subnets.slice(i + 1).filter((b) => cidrsOverlap(parseCidr(a), parseCidr(b))).map((b) => `${a} ${b}`));
  expect(overlaps).toEqual([]);
  const ports = log.store.list('service').flatMap((sv) => sv.ports.filter((p) => p.mode === 'ingress').map((p) => `${p.published ?? '?'}/${p.protocol}`));
  expect(new Set(ports).size).toBe(ports.length);
  // No leak: the allocator holds exactly what the store records.
  expect(allocator.usage()).toEqual({ networks: held.subnets.length, addresses: held.addresses.length, ports: ports.length });
}

describe('allocator under random create/scale/delete', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`never hands out an address, subnet or VNI twice and never leaks one (seed ${seed})`, () => {
      const random = rng(seed);
      const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
      const log = new Log();
      // Small pools and subnets so exhaustion and reuse happen within a few hundred steps.
      const config = { pools: ['10.0.0.0/22'], subnetPrefix: 28 };
      let allocator = new Allocator(config);
      let ids = 0;
      const id = (p: string): string => `${p}${++ids}`;
      const tryPropose = (c: Command): void => {
        try {
          log.propose(c);
        } catch {
          // Refused by the store (a network still in use): the property is about what was accepted.
        }
      };
      for (let step = 0; step < 300; step++) {
        const r = random();
        const networks = log.store.list('network');
        const services = log.store.list('service');
        if (r < 0.12) {
          const fixed = random() < 0.3 ? [{ subnet: `10.${Math.floor(random() * 4)}.${Math.floor(random() * 4) * 16}.0/28` }] : [];
          tryPropose({ op: 'create', kind: 'network', object: network(id('n'), id('net'), { ipam: fixed }) });
        } else if (r < 0.2 && networks.length > 0) {
          const n = pick(networks);
          if (n) tryPropose({ op: 'delete', kind: 'network', id: n.id });
        } else if (r < 0.35 && networks.length > 0) {
          const targets = networks.filter(() => random() < 0.5).map((n) => ({ target: n.spec.name, aliases: [] }));
          const mode = random() < 0.5 ? 'vip' : 'dnsrr';
          // Ingress ports too, some fixed from a small range so that two services ask for one.
          const ports = mode === 'vip' && random() < 0.5 ? [{ target: 80, protocol: 'tcp' as const, mode: 'ingress' as const, ...(random() < 0.5 ? { published: 8000 + Math.floor(random() * 4) } : {}) }] : [];
          tryPropose({ op: 'create', kind: 'service', object: service(id('s'), id('svc'), { networks: targets, endpoint: { mode, ports } }) });
        } else if (r < 0.6 && services.length > 0) {
          const s = pick(services);
          const n = Math.floor(random() * 4) + 1;
          if (s) for (let i = 0; i < n; i++) tryPropose({ op: 'create', kind: 'task', object: task(id('t'), s.id) });
        } else if (r < 0.75) {
          const t = pick(log.store.list('task'));
          if (t) tryPropose({ op: 'delete', kind: 'task', id: t.id });
        } else if (r < 0.82) {
          const t = pick(log.store.list('task').filter((x) => x.status.state === 'pending'));
          if (t) tryPropose({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, state: 'rejected', message: 'no' } } });
        } else if (r < 0.88 && services.length > 0) {
          const s = pick(services);
          if (s) {
            for (const t of log.store.tasksOfService(s.id)) tryPropose({ op: 'delete', kind: 'task', id: t.id });
            tryPropose({ op: 'delete', kind: 'service', id: s.id });
          }
        } else if (r < 0.93) {
          // A leader change: the new allocator knows only the store.
          allocator = Allocator.rebuild({ networks: log.store.list('network'), services: log.store.list('service'), tasks: log.store.list('task') }, config);
          expect(allocator.rebuildProblems).toEqual([]);
        } else {
          // A pass whose proposal is lost: its decisions must not leak.
          allocatePass(log.store, allocator, log.now);
        }
        const pass = allocatePass(log.store, allocator, log.now);
        try {
          log.batch(pass.commands);
        } catch {
          // A write raced the pass (not in this single-threaded run, but keep the shape honest).
        }
        checkInvariants(log, allocator);
      }
    });
  }
});
