import type { Node, Resources, Task } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';

/**
 * A node as the scheduler sees it during one pass: what is left of its capacity and how many
 * tasks it runs, overall and per service. Updated as tasks are placed, so the pass never puts
 * two tasks into the same free memory.
 */
export class NodeInfo {
  readonly node: Node;
  freeCpus: number;
  freeMemory: number;
  total = 0;
  readonly #byService = new Map<string, number>();

  constructor(node: Node) {
    this.node = node;
    this.freeCpus = node.resources.nanoCpus;
    this.freeMemory = node.resources.memoryBytes;
  }

  get id(): string {
    return this.node.id;
  }

  tasksOf(serviceId: string): number {
    return this.#byService.get(serviceId) ?? 0;
  }

  add(serviceId: string, reservation: Resources): void {
    this.total++;
    this.#byService.set(serviceId, this.tasksOf(serviceId) + 1);
    this.freeCpus -= reservation.nanoCpus ?? 0;
    this.freeMemory -= reservation.memoryBytes ?? 0;
  }
}

/**
 * A task occupies its node from assignment until it has ended, even while it is being shut
 * down. A pending global task names its node already but is not yet there: counting it would
 * charge the node twice once it is placed.
 */
export function occupiesNode(task: Task): boolean {
  const { state } = task.status;
  return task.nodeId !== undefined && state !== 'new' && state !== 'pending' && !isTerminalTaskState(state);
}

/** Infos for every node, loaded with the tasks already on them. */
export function nodeInfos(nodes: readonly Node[], tasks: readonly Task[], reservationOf: (task: Task) => Resources): Map<string, NodeInfo> {
  const infos = new Map(nodes.map((n) => [n.id, new NodeInfo(n)]));
  for (const t of tasks) {
    if (!occupiesNode(t)) continue;
    infos.get(t.nodeId ?? '')?.add(t.serviceId, reservationOf(t));
  }
  return infos;
}
