import { describe, expect, it } from 'vitest';
import { loadStack, planStackDeploy } from '@shoal/core';
import type { DeployedStack, StackSpec } from '@shoal/core';

const stack = (text: string): StackSpec => loadStack({ name: 's.yml', text }, { stackName: 'shop' }).stack;
const deployed = (s: StackSpec): DeployedStack => ({
  services: s.services,
  networks: s.networks.filter((n) => !n.external).map((n) => n.spec),
});

const v1 = stack(`
services:
  web: { image: "web:1", networks: [front] }
  api: { image: "api:1", networks: [back] }
networks:
  front: {}
  back: {}
  proxy: { external: true }
`);

describe('stack deploy plans', () => {
  it('creates everything on the first deploy and only requires external networks', () => {
    const plan = planStackDeploy({ services: [], networks: [] }, v1);
    expect(plan.createNetworks.map((n) => n.name)).toEqual(['shop_front', 'shop_back']);
    expect(plan.createServices.map((s) => s.name)).toEqual(['shop_web', 'shop_api']);
    expect(plan.requireNetworks).toEqual([]);
    expect(plan.problems).toEqual([]);
  });

  it('updates only the services whose spec changed', () => {
    const v2 = stack(`
services:
  web: { image: "web:2", networks: [front] }
  api: { image: "api:1", networks: [back] }
networks:
  front: {}
  back: {}
`);
    const plan = planStackDeploy(deployed(v1), v2);
    expect(plan.updateServices.map((s) => s.name)).toEqual(['shop_web']);
    expect(plan.unchangedServices).toEqual(['shop_api']);
    expect(plan.createNetworks).toEqual([]);
  });

  it('keeps services left out of the file unless pruning, and their networks with them', () => {
    const onlyWeb = stack('services:\n  web: { image: "web:1", networks: [front] }\nnetworks:\n  front: {}\n');
    const kept = planStackDeploy(deployed(v1), onlyWeb);
    expect(kept.removeServices).toEqual([]);
    expect(kept.removeNetworks).toEqual([]);
    const pruned = planStackDeploy(deployed(v1), onlyWeb, { prune: true });
    expect(pruned.removeServices).toEqual(['shop_api']);
    expect(pruned.removeNetworks).toEqual(['shop_back']);
  });

  it('refuses to change a network in place, since tasks hold its addresses', () => {
    const moved = stack(`
services:
  web: { image: "web:1", networks: [front] }
networks:
  front: { ipam: { config: [ { subnet: 10.9.0.0/24 } ] } }
`);
    expect(planStackDeploy(deployed(v1), moved).problems).toEqual([
      'network shop_front already exists with other settings; remove the stack first, or give the network a new name',
    ]);
  });

  it('lists external networks as required, never as created', () => {
    const ext = stack('services:\n  web: { image: x, networks: [proxy] }\nnetworks:\n  proxy: { external: true, name: traefik }\n');
    const plan = planStackDeploy({ services: [], networks: [] }, ext);
    expect(plan.requireNetworks).toEqual(['traefik']);
    expect(plan.createNetworks).toEqual([]);
  });
});
