import type { StackSpec } from '@shoal/core';
import type { Store } from '../store/store.js';

/**
 * What the compose parser checks on the person's machine, checked again here: a request may
 * come from any NATS client, not only the CLI. Names are unique in a stack, every network a
 * service is on exists (in the stack or in the cluster), and `network_mode: container:X`
 * never comes back on itself. Problems are sentences; none means the spec is sound.
 */
export function stackSpecProblems(spec: StackSpec, store: Pick<Store, 'networkByName'>): string[] {
  const problems: string[] = [];
  const dup = (names: string[], what: string): void => {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) problems.push(`${what} ${n} is defined twice`);
      seen.add(n);
    }
  };
  dup(spec.services.map((s) => s.name), 'service');
  dup(spec.networks.map((n) => n.spec.name), 'network');
  const inStack = new Set(spec.networks.map((n) => n.spec.name));
  for (const s of spec.services) {
    for (const n of s.networks) {
      if (!inStack.has(n.target) && !store.networkByName(n.target)) problems.push(`service ${s.name} is on network ${n.target}, which is neither in the stack nor in the cluster`);
    }
  }
  // container:X names a service of the stack by its name in the file or its full name
  const byName = new Map(spec.services.map((s) => [s.name, s.name]));
  for (const s of spec.services) byName.set(s.name.startsWith(`${spec.name}_`) ? s.name.slice(spec.name.length + 1) : s.name, s.name);
  const next = new Map<string, string>();
  for (const s of spec.services) {
    if (s.networkMode?.kind !== 'container') continue;
    const target = byName.get(s.networkMode.container);
    if (target) next.set(s.name, target);
  }
  const reported = new Set<string>();
  for (const start of next.keys()) {
    const chain = [start];
    for (let at = next.get(start); at !== undefined; at = next.get(at)) {
      const i = chain.indexOf(at);
      if (i >= 0) {
        const cycle = chain.slice(i);
        if (!cycle.some((k) => reported.has(k))) problems.push(`services ${[...cycle, at].join(' → ')} take each other's network in a cycle; one of them needs its own`);
        cycle.forEach((k) => reported.add(k));
        break;
      }
      chain.push(at);
    }
  }
  return problems;
}
