import type { NetworkSpec } from './network.js';
import type { ServiceSpec } from './service.js';
import type { StackNetwork, StackSpec } from './stack.js';

/** What the store holds of a stack before a deploy. */
export interface DeployedStack {
  services: readonly ServiceSpec[];
  /** Networks the stack created (never external ones). */
  networks: readonly NetworkSpec[];
}

/**
 * The changes that make the store match a stack file, in the order to apply them: networks
 * first (services need them), services, then what is no longer wanted. `problems` non-empty
 * means nothing should be applied: the deploy is all or nothing from the user's view.
 */
export interface StackPlan {
  createNetworks: NetworkSpec[];
  /** External networks the file names: they must exist, and are never created or removed. */
  requireNetworks: string[];
  createServices: ServiceSpec[];
  updateServices: ServiceSpec[];
  unchangedServices: string[];
  /** Only with `prune`, as `docker stack deploy --prune`. */
  removeServices: string[];
  removeNetworks: string[];
  problems: string[];
}

/** JSON with sorted keys, so two specs built in a different key order compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

export function planStackDeploy(current: DeployedStack, desired: StackSpec, options: { prune?: boolean } = {}): StackPlan {
  const plan: StackPlan = {
    createNetworks: [],
    requireNetworks: [],
    createServices: [],
    updateServices: [],
    unchangedServices: [],
    removeServices: [],
    removeNetworks: [],
    problems: [],
  };
  const currentNets = new Map(current.networks.map((n) => [n.name, n]));
  const wantedNets = new Set<string>();
  for (const n of desired.networks as readonly StackNetwork[]) {
    if (n.external) {
      plan.requireNetworks.push(n.spec.name);
      continue;
    }
    wantedNets.add(n.spec.name);
    const existing = currentNets.get(n.spec.name);
    if (!existing) plan.createNetworks.push(n.spec);
    else if (canonical(existing) !== canonical(n.spec)) {
      // Tasks hold addresses from the old subnet and hosts hold its VNI: changing a network
      // under running tasks would strand them, so Docker refuses it and so does Shoal.
      plan.problems.push(`network ${n.spec.name} already exists with other settings; remove the stack first, or give the network a new name`);
    }
  }
  const currentServices = new Map(current.services.map((s) => [s.name, s]));
  const wantedServices = new Set<string>();
  for (const s of desired.services) {
    wantedServices.add(s.name);
    const existing = currentServices.get(s.name);
    if (!existing) plan.createServices.push(s);
    else if (canonical(existing) === canonical(s)) plan.unchangedServices.push(s.name);
    else plan.updateServices.push(s);
  }
  const keptServices = current.services.filter((s) => !wantedServices.has(s.name) && !options.prune);
  if (options.prune) plan.removeServices = current.services.filter((s) => !wantedServices.has(s.name)).map((s) => s.name);
  // A network may go only when no service left in the stack is attached to it.
  const stillUsed = new Set(keptServices.flatMap((s) => s.networks.map((n) => n.target)));
  plan.removeNetworks = current.networks.map((n) => n.name).filter((name) => !wantedNets.has(name) && !stillUsed.has(name));
  return plan;
}
