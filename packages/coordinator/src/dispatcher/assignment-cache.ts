import { diffNetwork, type NetworkAssignment, type Service } from '@shoal/core';
import type { StoreChange } from '../store/changes.js';
import type { Store } from '../store/store.js';
import { networkAssignment } from './assignment.js';

interface CachedNetwork {
  value: NetworkAssignment;
  /** The whole network as JSON, made when first asked for. */
  json: string | undefined;
  /** Bumped whenever the network's assignment really changes: sessions compare versions, not JSON. */
  version: number;
  /** The patches that led to `version`, oldest first: `log[i]` takes version `to - 1` to `to`. */
  log: { to: number; json: string }[];
  logBytes: number;
}

/** Patches kept per network, at most: a node further behind is sent the network whole. */
const LOG_MAX = 128;
const LOG_MAX_BYTES = 512 * 1024;

/**
 * What the dispatcher sends, kept from one round to the next. A network's assignment (every
 * peer endpoint, DNS name and VIP on it) is the same for every node on it and can be large; it
 * is recomputed only when a change touched it, once for all nodes, and each change is kept as a
 * patch (made once, as JSON, for all nodes): a node holding an older version is sent the patches
 * since, or the network whole if that is shorter or it is too far behind. Nodes whose own tasks
 * did not change are not looked at.
 */
export class AssignmentCache {
  readonly #networks = new Map<string, CachedNetwork>();
  #dirtyNetworks = new Set<string>();
  #dirtyNodes = new Set<string>();
  #allNetworks = true;
  #allNodes = true;

  constructor(private readonly store: Store) {}

  /** Marks what a batch of store changes may have altered. */
  note(changes: readonly StoreChange[]): void {
    for (const c of changes) {
      switch (c.kind) {
        case 'task':
          for (const t of [c.action === 'remove' ? undefined : c.object, c.action === 'create' ? undefined : c.previous]) {
            if (!t) continue;
            for (const a of t.attachments) this.#dirtyNetworks.add(a.networkId);
            if (t.nodeId) this.#dirtyNodes.add(t.nodeId);
          }
          break;
        case 'service':
          for (const s of [c.action === 'remove' ? undefined : c.object, c.action === 'create' ? undefined : c.previous]) {
            if (!s) continue;
            this.serviceTouched(s);
          }
          break;
        case 'node': {
          // its address is every peer entry of its tasks' networks
          const id = c.action === 'remove' ? c.previous.id : c.object.id;
          this.#dirtyNodes.add(id);
          for (const t of this.store.tasksOnNode(id)) for (const a of t.attachments) this.#dirtyNetworks.add(a.networkId);
          break;
        }
        default:
          // networks and stacks change rarely: start over
          this.#allNetworks = true;
          this.#allNodes = true;
      }
    }
  }

  private serviceTouched(s: Service): void {
    for (const n of s.spec.networks) {
      const net = this.store.networkByName(n.target);
      if (net) this.#dirtyNetworks.add(net.id);
    }
    for (const v of s.vips) this.#dirtyNetworks.add(v.networkId);
    for (const t of this.store.tasksOfService(s.id)) {
      for (const a of t.attachments) this.#dirtyNetworks.add(a.networkId);
      if (t.nodeId) this.#dirtyNodes.add(t.nodeId);
    }
  }

  /** The nodes whose tasks may have changed since the last call (undefined: any node may have). */
  takeDirtyNodes(): ReadonlySet<string> | undefined {
    const nodes = this.#allNodes ? undefined : this.#dirtyNodes;
    this.#dirtyNodes = new Set();
    this.#allNodes = false;
    return nodes;
  }

  /** Recomputes the networks touched since the last refresh. */
  refresh(): void {
    const everything = this.#allNetworks;
    const dirty = everything ? new Set(this.store.list('network').map((n) => n.id)) : this.#dirtyNetworks;
    if (everything) for (const id of this.#networks.keys()) if (!this.store.get('network', id)) this.#networks.delete(id);
    if (dirty.size > 0) {
      // which services can matter to each network: one look at every task, not one per network
      const candidates = new Map<string, Set<string>>();
      const mark = (networkId: string, serviceId: string): void => {
        if (!dirty.has(networkId)) return;
        let set = candidates.get(networkId);
        if (!set) candidates.set(networkId, (set = new Set()));
        set.add(serviceId);
      };
      const services = this.store.list('service');
      for (const s of services) {
        for (const n of s.spec.networks) {
          const net = this.store.networkByName(n.target);
          if (net) mark(net.id, s.id);
        }
        for (const t of this.store.tasksOfService(s.id)) for (const a of t.attachments) mark(a.networkId, s.id);
      }
      for (const id of dirty) {
        const net = this.store.get('network', id);
        if (!net?.allocation) {
          this.#networks.delete(id);
          continue;
        }
        const set = candidates.get(id);
        const value = networkAssignment(this.store, net, services.filter((s) => set?.has(s.id)));
        const old = this.#networks.get(id);
        if (!old) {
          this.#networks.set(id, { value, json: undefined, version: 1, log: [], logBytes: 0 });
          continue;
        }
        const patch = diffNetwork(old.value, value);
        if (patch === undefined) continue;
        old.value = value;
        old.json = undefined;
        old.version += 1;
        if (patch === 'whole') {
          // its identity changed: every node is sent it whole
          old.log = [];
          old.logBytes = 0;
          continue;
        }
        const json = JSON.stringify(patch);
        old.log.push({ to: old.version, json });
        old.logBytes += json.length;
        while (old.log.length > LOG_MAX || old.logBytes > LOG_MAX_BYTES) old.logBytes -= old.log.shift()?.json.length ?? 0;
      }
    }
    this.#dirtyNetworks = new Set();
    this.#allNetworks = false;
  }

  /** The network's current version, undefined if it is not (or no longer) allocated. */
  version(id: string): number | undefined {
    return this.#networks.get(id)?.version;
  }

  /** The network whole, as JSON. */
  json(id: string): string | undefined {
    const n = this.#networks.get(id);
    if (!n) return undefined;
    n.json ??= JSON.stringify(n.value);
    return n.json;
  }

  /**
   * The patches (as JSON, in order) that take a node holding version `from` to the current
   * one, or undefined when it must be sent the network whole: its version is older than the
   * patches kept, or they add up to more than the whole network.
   */
  patchesSince(id: string, from: number): string[] | undefined {
    const n = this.#networks.get(id);
    if (!n || from > n.version) return undefined;
    if (from === n.version) return [];
    const first = n.log[0];
    if (!first || first.to > from + 1) return undefined;
    const out = n.log.slice(from + 1 - first.to);
    const bytes = out.reduce((sum, p) => sum + p.json.length, 0);
    // the whole network's size is known only once made: a few patches are surely shorter
    if (out.length > 4 && bytes > (this.json(id)?.length ?? 0)) return undefined;
    return out.map((p) => p.json);
  }
}
