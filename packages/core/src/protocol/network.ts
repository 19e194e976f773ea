import { z } from 'zod';
import { CidrSchema, IdSchema, Ipv4Schema, NameSchema } from '../model/common.js';
import { NetworkDriverSchema } from '../model/network.js';

export const DnsRecordSchema = z.object({
  /** A service name, `tasks.<service>`, a task name or an alias. */
  name: z.string(),
  /** Sorted by address (the resolver rotates them on every answer). */
  addresses: z.array(Ipv4Schema),
});
export type DnsRecord = z.infer<typeof DnsRecordSchema>;

const PeerSchema = z.object({
  nodeId: IdSchema,
  underlay: Ipv4Schema,
  endpoints: z.array(z.object({ address: Ipv4Schema, mac: z.string() })),
});
export type NetworkPeer = z.infer<typeof PeerSchema>;

const VipSchema = z.object({ address: Ipv4Schema, backends: z.array(Ipv4Schema) });
export type VipAssignment = z.infer<typeof VipSchema>;

/** One network a node's tasks are on, with what the host needs for VXLAN and DNS. */
export const NetworkAssignmentSchema = z.object({
  networkId: IdSchema,
  name: NameSchema,
  driver: NetworkDriverSchema,
  driverOpts: z.record(z.string(), z.string()),
  vni: z.number().int().min(1).max(16_777_215).optional(),
  subnet: CidrSchema,
  gateway: Ipv4Schema,
  /** Other hosts' endpoints on this network (by node id): the static FDB and neighbour entries. */
  peers: z.array(PeerSchema),
  /** By name. */
  dns: z.array(DnsRecordSchema),
  /** The virtual IPs on this network (by address) and the task addresses behind each (sorted). */
  vips: z.array(VipSchema),
});
export type NetworkAssignment = z.infer<typeof NetworkAssignmentSchema>;

/**
 * What changed in a network a node already holds: a network of a few hundred endpoints changes
 * with every task that starts anywhere on it, and each of its nodes is sent only the change.
 * Peers (one host's endpoints) are replaced whole; DNS records and VIP backends gain and lose
 * single addresses. Its name, driver, VNI, subnet or gateway never change by patch: a network
 * whose identity changed is sent whole.
 */
export const NetworkPatchSchema = z.object({
  networkId: IdSchema,
  /** New or changed hosts, whole. */
  peersSet: z.array(PeerSchema),
  /** Hosts with no endpoint on the network any more. */
  peersRemove: z.array(IdSchema),
  /** Addresses added to a name (the record is created if it is new). */
  dnsAdd: z.array(DnsRecordSchema),
  /** Addresses taken from a name (the record goes when it has none left). */
  dnsRemove: z.array(DnsRecordSchema),
  /** Backends added to a VIP (a VIP is created, possibly with none, if it is new). */
  vipsAdd: z.array(VipSchema),
  /** Backends taken from a VIP. */
  vipsRemove: z.array(VipSchema),
  /** VIPs gone from the network. */
  vipsDrop: z.array(Ipv4Schema),
});
export type NetworkPatch = z.infer<typeof NetworkPatchSchema>;

function ipv4Number(address: string): number {
  let n = 0;
  let octet = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + octet;
      octet = 0;
    } else octet = octet * 10 + (c - 48);
  }
  return n * 256 + octet;
}

/** Orders dotted IPv4 addresses as numbers (10.0.0.9 before 10.0.0.10). */
export function compareIpv4(a: string, b: string): number {
  return ipv4Number(a) - ipv4Number(b);
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The one order of a network assignment's lists, which the coordinator builds and a patched
 * network keeps: peers by node id, records by name, VIPs by address, addresses by value. Two
 * assignments with the same content are then equal, element for element.
 */
export function canonicalNetwork(net: NetworkAssignment): NetworkAssignment {
  return {
    ...net,
    peers: [...net.peers].sort((a, b) => byString(a.nodeId, b.nodeId)).map((p) => ({ ...p, endpoints: [...p.endpoints].sort((a, b) => compareIpv4(a.address, b.address)) })),
    dns: [...net.dns].sort((a, b) => byString(a.name, b.name)).map((r) => ({ ...r, addresses: [...r.addresses].sort(compareIpv4) })),
    vips: [...net.vips].sort((a, b) => compareIpv4(a.address, b.address)).map((v) => ({ ...v, backends: [...v.backends].sort(compareIpv4) })),
  };
}

function sameIdentity(a: NetworkAssignment, b: NetworkAssignment): boolean {
  return (
    a.networkId === b.networkId &&
    a.name === b.name &&
    a.driver === b.driver &&
    a.vni === b.vni &&
    a.subnet === b.subnet &&
    a.gateway === b.gateway &&
    JSON.stringify(a.driverOpts) === JSON.stringify(b.driverOpts)
  );
}

function samePeer(a: NetworkPeer, b: NetworkPeer): boolean {
  if (a.underlay !== b.underlay || a.endpoints.length !== b.endpoints.length) return false;
  return a.endpoints.every((e, i) => e.address === b.endpoints[i]?.address && e.mac === b.endpoints[i]?.mac);
}

/** Per key, the addresses in `next` and not in `prev` (`added`) and the reverse (`removed`). */
function diffSets(
  prev: readonly { key: string; values: readonly string[] }[],
  next: readonly { key: string; values: readonly string[] }[],
): { added: { key: string; values: string[] }[]; removed: { key: string; values: string[] }[] } {
  const before = new Map(prev.map((x) => [x.key, x.values]));
  const after = new Map(next.map((x) => [x.key, x.values]));
  const added: { key: string; values: string[] }[] = [];
  const removed: { key: string; values: string[] }[] = [];
  for (const [key, values] of after) {
    const old = before.get(key);
    if (old === undefined) {
      added.push({ key, values: [...values] });
      continue;
    }
    const had = new Set(old);
    const fresh = values.filter((v) => !had.has(v));
    if (fresh.length > 0) added.push({ key, values: fresh });
  }
  for (const [key, values] of before) {
    const now = after.get(key);
    const keep = new Set(now ?? []);
    const gone = values.filter((v) => !keep.has(v));
    if (gone.length > 0) removed.push({ key, values: gone });
  }
  return { added, removed };
}

/**
 * The patch that turns `prev` into `next`, both in canonical order: undefined when they are
 * equal, 'whole' when the network's identity changed and it must be sent whole.
 * `applyNetworkPatch(prev, diffNetwork(prev, next))` equals `next`.
 */
export function diffNetwork(prev: NetworkAssignment, next: NetworkAssignment): NetworkPatch | 'whole' | undefined {
  if (!sameIdentity(prev, next)) return 'whole';
  const oldPeers = new Map(prev.peers.map((p) => [p.nodeId, p]));
  const newPeers = new Set(next.peers.map((p) => p.nodeId));
  const peersSet = next.peers.filter((p) => {
    const old = oldPeers.get(p.nodeId);
    return old === undefined || !samePeer(old, p);
  });
  const peersRemove = prev.peers.filter((p) => !newPeers.has(p.nodeId)).map((p) => p.nodeId);
  const dns = diffSets(
    prev.dns.map((r) => ({ key: r.name, values: r.addresses })),
    next.dns.map((r) => ({ key: r.name, values: r.addresses })),
  );
  const vips = diffSets(
    prev.vips.map((v) => ({ key: v.address, values: v.backends })),
    next.vips.map((v) => ({ key: v.address, values: v.backends })),
  );
  const oldVips = new Set(prev.vips.map((v) => v.address));
  const newVips = new Set(next.vips.map((v) => v.address));
  // a new VIP is announced even with no backend yet: it exists, and refuses at once
  for (const v of next.vips) if (!oldVips.has(v.address) && v.backends.length === 0) vips.added.push({ key: v.address, values: [] });
  const vipsDrop = prev.vips.filter((v) => !newVips.has(v.address)).map((v) => v.address);
  const patch: NetworkPatch = {
    networkId: next.networkId,
    peersSet,
    peersRemove,
    dnsAdd: dns.added.map((x) => ({ name: x.key, addresses: x.values })),
    dnsRemove: dns.removed.map((x) => ({ name: x.key, addresses: x.values })),
    vipsAdd: vips.added.map((x) => ({ address: x.key, backends: x.values })),
    // a dropped VIP's backends go with it
    vipsRemove: vips.removed.filter((x) => newVips.has(x.key)).map((x) => ({ address: x.key, backends: x.values })),
    vipsDrop,
  };
  const size = patch.peersSet.length + patch.peersRemove.length + patch.dnsAdd.length + patch.dnsRemove.length + patch.vipsAdd.length + patch.vipsRemove.length + patch.vipsDrop.length;
  return size === 0 ? undefined : patch;
}

/** Adds and removes values per key of a keyed list, dropping keys left empty unless `keepEmpty`. */
function patchSets<T>(
  items: readonly T[],
  key: (t: T) => string,
  values: (t: T) => readonly string[],
  make: (key: string, values: string[]) => T,
  add: readonly T[],
  remove: readonly T[],
  keepEmpty: (key: string) => boolean,
): T[] {
  const map = new Map(items.map((t) => [key(t), new Set(values(t))]));
  for (const r of remove) {
    const set = map.get(key(r));
    if (!set) continue;
    for (const v of values(r)) set.delete(v);
  }
  for (const a of add) {
    let set = map.get(key(a));
    if (!set) map.set(key(a), (set = new Set()));
    for (const v of values(a)) set.add(v);
  }
  return [...map]
    .filter(([k, set]) => set.size > 0 || keepEmpty(k))
    .map(([k, set]) => make(k, [...set].sort(compareIpv4)));
}

/**
 * Applies a patch to a held network and returns the new one, in canonical order. Pure: the
 * agent merges with it, the coordinator's tests check it against a fresh computation.
 */
export function applyNetworkPatch(net: NetworkAssignment, patch: NetworkPatch): NetworkAssignment {
  const peers = new Map(net.peers.map((p) => [p.nodeId, p]));
  for (const id of patch.peersRemove) peers.delete(id);
  for (const p of patch.peersSet) peers.set(p.nodeId, p);
  const dropped = new Set(patch.vipsDrop);
  const existing = new Set(net.vips.map((v) => v.address));
  const announced = new Set(patch.vipsAdd.map((v) => v.address));
  const dns = patchSets(
    net.dns,
    (r) => r.name,
    (r) => r.addresses,
    (name, addresses) => ({ name, addresses }),
    patch.dnsAdd,
    patch.dnsRemove,
    () => false,
  );
  const vips = patchSets(
    net.vips.filter((v) => !dropped.has(v.address)),
    (v) => v.address,
    (v) => v.backends,
    (address, backends) => ({ address, backends }),
    patch.vipsAdd,
    patch.vipsRemove,
    // a VIP lives until dropped, with or without backends
    (address) => !dropped.has(address) && (existing.has(address) || announced.has(address)),
  );
  return {
    ...net,
    peers: [...peers.values()].sort((a, b) => byString(a.nodeId, b.nodeId)),
    dns: dns.sort((a, b) => byString(a.name, b.name)),
    vips: vips.sort((a, b) => compareIpv4(a.address, b.address)),
  };
}
