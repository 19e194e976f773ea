import type { Service, Task } from '@shoal/core';
import type { ObjectCommand } from '../store/commands.js';

/**
 * The tasks of one pass as the steps of the orchestrator decide on them: each step sees what the
 * previous ones decided, and the pass ends with one command per task touched, written against
 * the version that was read.
 */
export class WorkingSet {
  readonly #tasks = new Map<string, Task>();
  readonly #created = new Set<string>();
  readonly #updated = new Set<string>();
  readonly #deleted = new Set<string>();
  #service: { read: Service; now: Service } | undefined;

  constructor(tasks: readonly Task[]) {
    for (const t of tasks) this.#tasks.set(t.id, t);
  }

  get tasks(): Task[] {
    return [...this.#tasks.values()];
  }

  create(task: Task): void {
    this.#tasks.set(task.id, task);
    this.#created.add(task.id);
  }

  update(task: Task): void {
    this.#tasks.set(task.id, task);
    if (!this.#created.has(task.id)) this.#updated.add(task.id);
  }

  delete(taskId: string): void {
    this.#tasks.delete(taskId);
    if (this.#created.delete(taskId)) return;
    this.#updated.delete(taskId);
    this.#deleted.add(taskId);
  }

  /** A change to the service itself (update progress, a rollback); `read` is what the store holds. */
  updateService(read: Service, now: Service): void {
    this.#service = { read: this.#service?.read ?? read, now };
  }

  service(fallback: Service): Service {
    return this.#service?.now ?? fallback;
  }

  commands(): ObjectCommand[] {
    const out: ObjectCommand[] = [];
    if (this.#service) out.push({ op: 'update', kind: 'service', object: { ...this.#service.now, meta: this.#service.read.meta } });
    for (const id of [...this.#updated].sort()) out.push({ op: 'update', kind: 'task', object: this.#tasks.get(id) as Task });
    for (const id of [...this.#created].sort()) out.push({ op: 'create', kind: 'task', object: this.#tasks.get(id) as Task });
    for (const id of [...this.#deleted].sort()) out.push({ op: 'delete', kind: 'task', id });
    return out;
  }
}
