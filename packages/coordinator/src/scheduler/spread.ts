import type { Failure } from './filters.js';
import type { NodeInfo } from './node-info.js';

interface Group {
  path: string[];
  /** Best first: fewest tasks of the service, then fewest overall, then the smaller id. */
  nodes: NodeInfo[];
}

/**
 * The nodes one service may use during a pass, kept in spread order so that choosing a node for
 * the next task costs a walk down the preference tree instead of a scan of every node.
 *
 * Nodes are grouped by their values of the service's spread labels (one group when it has no
 * preferences). Choosing descends level by level into the value whose nodes run the fewest tasks
 * of the service, then takes the best node of that group. Within a pass a node that cannot take
 * a task of the service never can again (free resources only shrink and its count only grows),
 * so such a node leaves its group for good, and each node is rejected at most once per service.
 */
export class Spread {
  readonly #serviceId: string;
  readonly #groups = new Map<string, Group>();
  readonly #keyOf = new Map<NodeInfo, string>();
  readonly #pathOf = new Map<NodeInfo, string[]>();
  /** Tasks of the service per path prefix (`a`, `a\0b`, ...), over every node the service may use. */
  readonly #load = new Map<string, number>();
  readonly #levels: number;

  constructor(serviceId: string, nodes: readonly NodeInfo[], pathOf: (info: NodeInfo) => string[]) {
    this.#serviceId = serviceId;
    this.#levels = nodes[0] ? pathOf(nodes[0]).length : 0;
    for (const info of nodes) {
      const path = pathOf(info);
      const key = path.join('\0');
      this.#keyOf.set(info, key);
      this.#pathOf.set(info, path);
      let group = this.#groups.get(key);
      if (!group) this.#groups.set(key, (group = { path, nodes: [] }));
      group.nodes.push(info);
      this.#addLoad(path, info.tasksOf(serviceId));
    }
    for (const g of this.#groups.values()) g.nodes.sort((a, b) => this.#compare(a, b));
  }

  #compare(a: NodeInfo, b: NodeInfo): number {
    return a.tasksOf(this.#serviceId) - b.tasksOf(this.#serviceId) || a.total - b.total || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  #addLoad(path: readonly string[], n: number): void {
    for (let k = 1; k <= path.length; k++) {
      const prefix = path.slice(0, k).join('\0');
      this.#load.set(prefix, (this.#load.get(prefix) ?? 0) + n);
    }
  }

  /** The group to take from next: the least loaded value at each level, ties to the smaller value. */
  #descend(): Group | undefined {
    let live = [...this.#groups.values()];
    if (live.length === 0) return undefined;
    for (let level = 0; level < this.#levels; level++) {
      let best: string | undefined;
      let bestLoad = Infinity;
      for (const g of live) {
        const value = g.path[level] ?? '';
        const load = this.#load.get(g.path.slice(0, level + 1).join('\0')) ?? 0;
        if (load < bestLoad || (load === bestLoad && best !== undefined && value < best)) {
          best = value;
          bestLoad = load;
        }
      }
      live = live.filter((g) => g.path[level] === best);
    }
    return live[0];
  }

  /**
   * The node for the next task: the best one that `fits` accepts. Nodes it refuses are dropped
   * for the rest of the pass and handed to `rejected`, so the caller can explain a failure.
   */
  pick(fits: (info: NodeInfo) => Failure | undefined, rejected: (f: Failure) => void): NodeInfo | undefined {
    for (;;) {
      const group = this.#descend();
      const head = group?.nodes[0];
      if (!group || !head) return undefined;
      const failure = fits(head);
      if (!failure) return head;
      rejected(failure);
      group.nodes.shift();
      if (group.nodes.length === 0) this.#groups.delete(this.#keyOf.get(head) ?? '');
    }
  }

  /** Call after a task of the service was added to `info`: moves it to its new place in line. */
  placed(info: NodeInfo): void {
    const key = this.#keyOf.get(info);
    const path = this.#pathOf.get(info);
    if (key === undefined || path === undefined) return;
    this.#addLoad(path, 1);
    const group = this.#groups.get(key);
    if (!group) return;
    const at = group.nodes.indexOf(info);
    if (at < 0) return;
    group.nodes.splice(at, 1);
    let lo = 0;
    let hi = group.nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#compare(group.nodes[mid] as NodeInfo, info) < 0) lo = mid + 1;
      else hi = mid;
    }
    group.nodes.splice(lo, 0, info);
  }
}
