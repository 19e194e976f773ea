import { describe, expect, it } from 'vitest';
import { applyAssignment, applyNetworkPatch, canonicalNetwork, decodeAssignment, diffNetwork } from '@shoal/core';
import type { AssignmentMessage, NetworkAssignment, NetworkPatch } from '@shoal/core';

function net(over: Partial<NetworkAssignment> = {}): NetworkAssignment {
  return canonicalNetwork({
    networkId: 'net1',
    name: 'front',
    driver: 'overlay',
    driverOpts: {},
    vni: 4096,
    subnet: '10.0.1.0/24',
    gateway: '10.0.1.1',
    peers: [],
    dns: [],
    vips: [],
    ...over,
  });
}

const peer = (nodeId: string, ...addresses: string[]): NetworkAssignment['peers'][number] => ({
  nodeId,
  underlay: `192.168.0.${nodeId.length}`,
  endpoints: addresses.map((address) => ({ address, mac: `02:42:${address}` })),
});

/** A small deterministic generator, so a failing case can be run again. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomNet(r: () => number): NetworkAssignment {
  const pick = (n: number): number => Math.floor(r() * n);
  const addresses = (k: number): string[] => [...new Set(Array.from({ length: k }, () => `10.0.1.${pick(40) + 2}`))];
  const peers = [...new Set(Array.from({ length: pick(5) }, () => `n${pick(6)}`))].map((id) => ({ ...peer(id, ...addresses(pick(3) + 1)), underlay: `192.168.0.${pick(3) + 1}` }));
  const dns = [...new Set(Array.from({ length: pick(6) }, () => `name${pick(8)}`))].map((name) => ({ name, addresses: addresses(pick(4) + 1) }));
  const vips = [...new Set(Array.from({ length: pick(3) }, () => `10.0.1.${200 + pick(4)}`))].map((address) => ({ address, backends: addresses(pick(4)) }));
  return net({ peers, dns, vips });
}

const delta = (seq: number, patches: NetworkPatch[], upsert: NetworkAssignment[] = []): AssignmentMessage => ({
  v: 1, kind: 'assign.delta', nodeId: 'n1', sessionId: 's1', seq, upsertTasks: [], removeTasks: [], upsertNetworks: upsert, removeNetworks: [], patchNetworks: patches,
});

describe('network patches', () => {
  it('carry only what changed: one endpoint started elsewhere is one peer and its addresses', () => {
    const before = net({ peers: [peer('n2', '10.0.1.2')], dns: [{ name: 'web', addresses: ['10.0.1.2'] }], vips: [{ address: '10.0.1.250', backends: ['10.0.1.2'] }] });
    const after = net({ peers: [peer('n2', '10.0.1.2'), peer('n3', '10.0.1.10')], dns: [{ name: 'web', addresses: ['10.0.1.10', '10.0.1.2'] }], vips: [{ address: '10.0.1.250', backends: ['10.0.1.2', '10.0.1.10'] }] });
    const patch = diffNetwork(before, after);
    expect(patch).toEqual({
      networkId: 'net1',
      peersSet: [peer('n3', '10.0.1.10')],
      peersRemove: [],
      dnsAdd: [{ name: 'web', addresses: ['10.0.1.10'] }],
      dnsRemove: [],
      vipsAdd: [{ address: '10.0.1.250', backends: ['10.0.1.10'] }],
      vipsRemove: [],
      vipsDrop: [],
    });
    if (patch === undefined || patch === 'whole') throw new Error('expected a patch');
    expect(applyNetworkPatch(before, patch)).toEqual(after);
  });

  it('are nothing when nothing changed, and the whole network when its identity did', () => {
    const a = net({ peers: [peer('n2', '10.0.1.2')] });
    expect(diffNetwork(a, net({ peers: [peer('n2', '10.0.1.2')] }))).toBeUndefined();
    expect(diffNetwork(a, { ...a, vni: 4097 })).toBe('whole');
    expect(diffNetwork(a, { ...a, gateway: '10.0.1.254' })).toBe('whole');
    expect(diffNetwork(a, { ...a, driverOpts: { mtu: '9000' } })).toBe('whole');
  });

  it('keep a VIP that lost its last backend, and drop one that is gone', () => {
    const a = net({ vips: [{ address: '10.0.1.250', backends: ['10.0.1.2'] }, { address: '10.0.1.251', backends: ['10.0.1.3'] }] });
    const b = net({ vips: [{ address: '10.0.1.250', backends: [] }] });
    const patch = diffNetwork(a, b);
    if (patch === undefined || patch === 'whole') throw new Error('expected a patch');
    expect(patch.vipsDrop).toEqual(['10.0.1.251']);
    expect(applyNetworkPatch(a, patch)).toEqual(b);
    // and a VIP new with no backend yet is announced
    const back = diffNetwork(b, a);
    if (back === undefined || back === 'whole') throw new Error('expected a patch');
    expect(applyNetworkPatch(b, back)).toEqual(a);
    const empty = diffNetwork(net(), b);
    if (empty === undefined || empty === 'whole') throw new Error('expected a patch');
    expect(applyNetworkPatch(net(), empty)).toEqual(b);
  });

  it('turn any network into any other with the same identity (1,000 random pairs)', () => {
    const r = rng(7);
    for (let i = 0; i < 1000; i++) {
      const a = randomNet(r);
      const b = randomNet(r);
      const patch = diffNetwork(a, b);
      const got = patch === undefined ? a : patch === 'whole' ? b : applyNetworkPatch(a, patch);
      expect(got, `pair ${i}`).toEqual(b);
    }
  });

  it('chain: a node holding version k reaches the newest by applying every patch since, in order', () => {
    const r = rng(11);
    const versions = Array.from({ length: 30 }, () => randomNet(r));
    const patches = versions.slice(1).map((v, i) => diffNetwork(versions[i] as NetworkAssignment, v));
    let held = versions[0] as NetworkAssignment;
    for (const p of patches) if (p !== undefined && p !== 'whole') held = applyNetworkPatch(held, p);
    expect(held).toEqual(versions.at(-1));
  });
});

describe('assignment deltas with network patches', () => {
  const base = (): AssignmentMessage => ({ v: 1, kind: 'assign.full', nodeId: 'n1', sessionId: 's1', seq: 4, tasks: [], networks: [net({ dns: [{ name: 'web', addresses: ['10.0.1.2'] }] })] });

  it('patch the held network in sequence, and survive the trip through the decoder', () => {
    const held = applyAssignment(undefined, base()).set;
    const patch: NetworkPatch = { networkId: 'net1', peersSet: [], peersRemove: [], dnsAdd: [{ name: 'web', addresses: ['10.0.1.3'] }], dnsRemove: [], vipsAdd: [], vipsRemove: [], vipsDrop: [] };
    const out = applyAssignment(held, decodeAssignment(JSON.parse(JSON.stringify(delta(5, [patch])))));
    expect(out.kind).toBe('applied');
    expect(out.set?.networks.net1?.dns).toEqual([{ name: 'web', addresses: ['10.0.1.2', '10.0.1.3'] }]);
    expect(out.set?.seq).toBe(5);
  });

  it('call a patch of a network not held a gap, and change nothing', () => {
    const held = applyAssignment(undefined, base()).set;
    const patch: NetworkPatch = { networkId: 'other', peersSet: [], peersRemove: [], dnsAdd: [{ name: 'db', addresses: ['10.0.2.3'] }], dnsRemove: [], vipsAdd: [], vipsRemove: [], vipsDrop: [] };
    const out = applyAssignment(held, delta(5, [patch]));
    expect(out.kind).toBe('gap');
    expect(out.set).toBe(held);
    expect(out.set?.seq).toBe(4);
    expect(Object.keys(out.set?.networks ?? {})).toEqual(['net1']);
  });

  it('refuse a malformed patch at the edge', () => {
    const bad = { ...delta(5, []), patchNetworks: [{ networkId: 'net1', dnsAdd: [{ name: 'web', addresses: ['not-an-ip'] }] }] };
    expect(() => decodeAssignment(bad)).toThrow(/patchNetworks/);
  });
});
