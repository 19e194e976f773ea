import type { NetworkAssignment, Service } from '@shoal/core';
import type { StoreChange } from '../store/changes.js';
import type { Store } from '../store/store.js';
import { networkAssignment } from './assignment.js';

interface CachedNetwork {
  value: NetworkAssignment;
  json: string;
  /** Bumped whenever the network's assignment really changes: sessions compare versions, not JSON. */
  version: number;
}

/**
 * What the dispatcher sends, kept from one round to the next. A network's assignment (every
 * peer endpoint, DNS name and VIP on it) is the same for every node on it and can be large; it
 * is recomputed only when a change touched it, once for all nodes, and a node is sent it again
 * only when its version moved. Nodes whose own tasks did not change are not looked at.
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
        const json = JSON.stringify(value);
        const old = this.#networks.get(id);
        if (old?.json === json) continue;
        this.#networks.set(id, { value, json, version: (old?.version ?? 0) + 1 });
      }
    }
    this.#dirtyNetworks = new Set();
    this.#allNetworks = false;
  }

  network(id: string): CachedNetwork | undefined {
    return this.#networks.get(id);
  }
}
