import { describe, expect, it } from 'vitest';
import { fixedAddressProblems, loadStack, networkSpecProblems, serviceSpecProblems } from '@shoal/core';
import type { NetworkSpec, ServiceSpec } from '@shoal/core';

// A valid spec from the compose parser, so each test changes one thing.
function base(): ServiceSpec {
  const spec = loadStack({ name: 's.yml', text: 'services:\n  web:\n    image: nginx\n    ports: ["80:80"]\n' }, { stackName: 's' }).stack.services[0];
  if (!spec) throw new Error('no service');
  return spec;
}

const network = (over: Partial<NetworkSpec>): NetworkSpec => ({
  name: 'n', driver: 'overlay', driverOpts: {}, ipam: [], attachable: false, internal: false, labels: {}, ...over,
});

describe('service spec rules beyond the schema', () => {
  it('accepts what the compose parser produces', () => {
    expect(serviceSpecProblems(base())).toEqual([]);
  });

  it('holds specs sent straight to the API to the compose rules', () => {
    const spec = base();
    spec.placement.constraints = ['node.labels.zone=eu'];
    spec.placement.preferences = [{ spread: 'zone' }];
    spec.endpoint.mode = 'dnsrr';
    spec.networkMode = { kind: 'host' };
    spec.resources = { limits: { memoryBytes: 100 }, reservations: { memoryBytes: 200 } };
    expect(serviceSpecProblems(spec).map((p) => p.path)).toEqual([
      'placement.constraints[0]',
      'placement.preferences[0].spread',
      'networkMode',
      'endpoint.ports[0]',
      'resources.reservations.memoryBytes',
    ]);
  });

  it('refuses a port published twice, a network attached twice and a fixed address on many replicas', () => {
    const spec = base();
    spec.endpoint.ports.push({ target: 81, published: 80, protocol: 'tcp', mode: 'ingress' });
    spec.networks.push({ target: 's_default', aliases: [], ipv4Address: '10.0.0.5' });
    spec.mode = { kind: 'replicated', replicas: 3 };
    expect(serviceSpecProblems(spec)).toEqual([
      { path: 'endpoint.ports[1]', message: 'port 80/tcp is published twice' },
      { path: 'networks[1]', message: 'network s_default is attached twice' },
      { path: 'networks[1].ipv4Address', message: 'a fixed address fits one task; run one replica' },
    ]);
  });

  it('checks fixed addresses against the subnets the store holds', () => {
    const spec = base();
    spec.networks = [{ target: 'front', aliases: [], ipv4Address: '10.1.0.5' }, { target: 'auto', aliases: [], ipv4Address: '10.9.0.5' }];
    const subnets: Record<string, string> = { front: '10.2.0.0/24' };
    expect(fixedAddressProblems(spec, (n) => subnets[n]).map((p) => p.message)).toEqual([
      '10.1.0.5 is not inside 10.2.0.0/24, the subnet of front',
      'network auto has no subnet chosen by a person, so it takes no fixed address',
    ]);
  });
});

describe('network spec rules beyond the schema', () => {
  it('names the IPAM field that is wrong', () => {
    expect(networkSpecProblems(network({ ipam: [{ subnet: '10.0.0.0/24', gateway: '10.0.1.1' }] }))).toEqual([
      { path: 'ipam[0].gateway', message: '10.0.1.1 is not inside the subnet 10.0.0.0/24' },
    ]);
    expect(networkSpecProblems(network({ ipam: [{ subnet: '10.0.0.0/24' }] }))).toEqual([]);
  });

  it('refuses addresses on drivers that take none', () => {
    expect(networkSpecProblems(network({ driver: 'host', ipam: [{ subnet: '10.0.0.0/24' }] }))[0]?.message).toBe('the host driver takes no addresses');
  });
});
