import type { Network, Service, Task } from '@shoal/core';
import { ShoalError, isShoalError, isTerminalTaskState } from '@shoal/core';
import type { StoreChange } from './changes.js';
import type { Command, ObjectCommand } from './commands.js';
import { MultiMap } from './multimap.js';
import type { ObjectKind, ObjectOf, StoredObject } from './objects.js';
import { OBJECT_KINDS, keyOf, nameOf } from './objects.js';
import type { StoreSnapshot } from './snapshot.js';
import { SNAPSHOT_FORMAT, decodeSnapshot } from './snapshot.js';
import { shapesTasksDifferently } from './task-shaping.js';

/** Where a command sits in the Raft log. `at` is the leader's clock written into the entry, never the local one. */
export interface EntryPosition {
  index: number;
  at: string;
}

export type ApplyResult =
  | { ok: true; index: number; changes: StoreChange[] }
  | { ok: false; index: number; error: ShoalError };

/** `at`: the leader's clock written into the entry, the same on every coordinator. */
export type ChangeListener = (changes: readonly StoreChange[], at: string) => void;

/** One undo step: what the key held before (undefined: nothing), and a service's spec version. */
interface Undo {
  kind: ObjectKind;
  key: string;
  before: StoredObject | undefined;
  specVersion: number | undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * The replicated state machine: every coordinator applies the same committed commands in the
 * same order and so holds the same objects. Nothing here reads a clock, a random source or the
 * environment; a refused command changes nothing and is refused identically everywhere.
 *
 * An object's version is the Raft index of the entry that last wrote it, so versions only grow
 * and a version names a moment of the whole cluster, as in SwarmKit.
 */
export class Store {
  readonly #objects: { [K in ObjectKind]: Map<string, ObjectOf[K]> } = {
    cluster: new Map(),
    node: new Map(),
    network: new Map(),
    service: new Map(),
    task: new Map(),
    stack: new Map(),
  };
  readonly #tasksByService = new MultiMap();
  readonly #tasksByNode = new MultiMap();
  readonly #servicesByStack = new MultiMap();
  readonly #networksByStack = new MultiMap();
  readonly #serviceByName = new Map<string, string>();
  readonly #networkByName = new Map<string, string>();
  readonly #specVersions = new Map<string, number>();
  readonly #listeners = new Set<ChangeListener>();
  #index = 0;

  /** The Raft index of the last entry applied (refused entries count: they were consumed). */
  get index(): number {
    return this.#index;
  }

  // ---- reading ----

  get<K extends ObjectKind>(kind: K, key: string): ObjectOf[K] | undefined {
    return this.#objects[kind].get(key);
  }

  /** Every object of a kind, by key, so two coordinators list them in the same order. */
  list<K extends ObjectKind>(kind: K): ObjectOf[K][] {
    const map = this.#objects[kind] as Map<string, ObjectOf[K]>;
    return [...map.keys()].sort().map((k) => map.get(k) as ObjectOf[K]);
  }

  count(kind: ObjectKind): number {
    return this.#objects[kind].size;
  }

  tasksOfService(serviceId: string): Task[] {
    return this.#tasksByService.get(serviceId).map((id) => this.#objects.task.get(id) as Task);
  }

  tasksOnNode(nodeId: string): Task[] {
    return this.#tasksByNode.get(nodeId).map((id) => this.#objects.task.get(id) as Task);
  }

  serviceByName(name: string): Service | undefined {
    const id = this.#serviceByName.get(name);
    return id === undefined ? undefined : this.#objects.service.get(id);
  }

  networkByName(name: string): Network | undefined {
    const id = this.#networkByName.get(name);
    return id === undefined ? undefined : this.#objects.network.get(id);
  }

  servicesOfStack(stack: string): Service[] {
    return this.#servicesByStack.get(stack).map((id) => this.#objects.service.get(id) as Service);
  }

  networksOfStack(stack: string): Network[] {
    return this.#networksByStack.get(stack).map((id) => this.#objects.network.get(id) as Network);
  }

  /**
   * The version at which the part of the service's spec that shapes its tasks last changed.
   * `meta.version` also moves when the allocator, a scale or an update's progress is written,
   * none of which may make every task look stale; tasks record this number as their
   * `specVersion`. (Core's Service has no such field yet.)
   */
  specVersion(serviceId: string): number | undefined {
    return this.#specVersions.get(serviceId);
  }

  /** Called after every applied command that changed something; not for refused ones. */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  // ---- applying ----

  /**
   * Apply one committed entry. Entries at or below the applied index are a driver bug (Raft
   * hands each entry over once, after the snapshot it restored): that throws, where a command
   * the store refuses is an ordinary result.
   */
  apply(command: Command, at: EntryPosition): ApplyResult {
    if (!Number.isInteger(at.index) || at.index <= this.#index) {
      throw new ShoalError('store_index_regressed', `entry ${at.index} applied after entry ${this.#index}`, 'the Raft driver must apply each committed entry once, in order');
    }
    this.#index = at.index;
    const undo: Undo[] = [];
    const changes: StoreChange[] = [];
    try {
      const steps = command.op === 'batch' ? command.commands : [command];
      steps.forEach((step, i) => {
        try {
          changes.push(this.#applyOne(step, at, undo));
        } catch (err) {
          if (command.op === 'batch' && isShoalError(err)) {
            throw new ShoalError(err.code, `command ${i + 1} of ${steps.length} of the batch: ${err.what}`, err.todo, { cause: err });
          }
          throw err;
        }
      });
    } catch (err) {
      for (const u of undo.reverse()) {
        this.#put(u.kind, u.key, u.before);
        if (u.kind !== 'service') continue;
        if (u.specVersion === undefined) this.#specVersions.delete(u.key);
        else this.#specVersions.set(u.key, u.specVersion);
      }
      if (!isShoalError(err)) throw err;
      return { ok: false, index: at.index, error: err };
    }
    if (changes.length > 0) for (const l of this.#listeners) l(changes, at.at);
    return { ok: true, index: at.index, changes };
  }

  #applyOne(command: ObjectCommand, at: EntryPosition, undo: Undo[]): StoreChange {
    const { kind } = command;
    const map = this.#objects[kind] as Map<string, StoredObject>;
    if (command.op === 'delete') {
      const before = map.get(command.id);
      if (!before) throw notFound(kind, command.id);
      if (command.version !== undefined && command.version !== before.meta.version) throw stale(kind, command.id, command.version, before.meta.version);
      if (kind === 'network') this.#checkNetworkUnused(before as Network);
      undo.push({ kind, key: command.id, before, specVersion: this.#specVersions.get(command.id) });
      this.#put(kind, command.id, undefined);
      return { index: at.index, kind, action: 'remove', previous: before } as StoreChange;
    }
    const key = keyOf(kind, command.object);
    const before = map.get(key);
    if (command.op === 'create' && before) {
      throw new ShoalError('already_exists', `${kind} ${key} already exists`, 'choose another id or name');
    }
    if (command.op === 'update') {
      if (!before) throw notFound(kind, key);
      if (command.object.meta.version !== before.meta.version) throw stale(kind, key, command.object.meta.version, before.meta.version);
    }
    this.#checkName(kind, command.object, key);
    // Only on create: an agent still reports, and the orchestrator still stops, tasks of a removed service.
    if (command.op === 'create' && kind === 'task' && !this.#objects.service.has(command.object.serviceId)) {
      throw new ShoalError('not_found', `service ${command.object.serviceId} of task ${key} does not exist`, 'the service was removed; drop the task');
    }
    const object = deepFreeze<StoredObject>({
      ...structuredClone(command.object),
      meta: { version: at.index, createdAt: before?.meta.createdAt ?? at.at, updatedAt: at.at },
    });
    undo.push({ kind, key, before, specVersion: this.#specVersions.get(key) });
    this.#put(kind, key, object);
    if (kind === 'service') {
      const spec = (object as Service).spec;
      if (!before || shapesTasksDifferently((before as Service).spec, spec)) this.#specVersions.set(key, at.index);
    }
    return (before
      ? { index: at.index, kind, action: 'update', object, previous: before }
      : { index: at.index, kind, action: 'create', object }) as StoreChange;
  }

  #checkName(kind: ObjectKind, object: StoredObject, key: string): void {
    const names = kind === 'service' ? this.#serviceByName : kind === 'network' ? this.#networkByName : undefined;
    if (!names) return;
    const name = nameOf(kind, object) ?? '';
    const holder = names.get(name);
    if (holder !== undefined && holder !== key) {
      throw new ShoalError('name_taken', `a ${kind} named ${name} already exists (${holder})`, `choose another name, or remove that ${kind} first`);
    }
  }

  /**
   * Checked here rather than in the API: two proposals racing (a network rm and a service create)
   * are ordered only by the log, so only the state machine can refuse the loser reliably.
   */
  #checkNetworkUnused(network: Network): void {
    const users = this.list('service').filter((s) => s.spec.networks.some((n) => n.target === network.spec.name));
    if (users.length > 0) {
      throw new ShoalError('network_in_use', `network ${network.spec.name} is used by service ${users.map((s) => s.spec.name).join(', ')}`, 'remove those services, or disconnect them from the network');
    }
    const holding = [...this.#objects.task.values()].find((t) => !isTerminalTaskState(t.status.state) && t.attachments.some((a) => a.networkId === network.id));
    if (holding) {
      throw new ShoalError('network_in_use', `network ${network.spec.name} still has an address held by task ${holding.id}`, 'wait for the task to stop');
    }
  }

  /** The one place objects enter or leave the maps, so the indexes cannot drift from them. */
  #put(kind: ObjectKind, key: string, object: StoredObject | undefined): void {
    const map = this.#objects[kind] as Map<string, StoredObject>;
    const before = map.get(key);
    if (before) this.#unindex(kind, key, before);
    if (object) {
      map.set(key, object);
      this.#index_(kind, key, object);
    } else {
      map.delete(key);
      if (kind === 'service') this.#specVersions.delete(key);
    }
  }

  #index_(kind: ObjectKind, key: string, object: StoredObject): void {
    switch (kind) {
      case 'task': {
        const t = object as Task;
        this.#tasksByService.add(t.serviceId, key);
        if (t.nodeId !== undefined) this.#tasksByNode.add(t.nodeId, key);
        break;
      }
      case 'service': {
        const s = object as Service;
        this.#serviceByName.set(s.spec.name, key);
        if (s.stack !== undefined) this.#servicesByStack.add(s.stack, key);
        break;
      }
      case 'network': {
        const n = object as Network;
        this.#networkByName.set(n.spec.name, key);
        if (n.stack !== undefined) this.#networksByStack.add(n.stack, key);
        break;
      }
      default:
    }
  }

  #unindex(kind: ObjectKind, key: string, object: StoredObject): void {
    switch (kind) {
      case 'task': {
        const t = object as Task;
        this.#tasksByService.delete(t.serviceId, key);
        if (t.nodeId !== undefined) this.#tasksByNode.delete(t.nodeId, key);
        break;
      }
      case 'service': {
        const s = object as Service;
        this.#serviceByName.delete(s.spec.name);
        if (s.stack !== undefined) this.#servicesByStack.delete(s.stack, key);
        break;
      }
      case 'network': {
        const n = object as Network;
        this.#networkByName.delete(n.spec.name);
        if (n.stack !== undefined) this.#networksByStack.delete(n.stack, key);
        break;
      }
      default:
    }
  }

  // ---- compaction ----

  /**
   * The snapshot without copies, for serializing at once: the stored objects are frozen, so
   * sharing them is safe, and a copy of 30,000 tasks would cost the leader time it blocks for.
   */
  snapshotView(): Readonly<StoreSnapshot> {
    return {
      format: SNAPSHOT_FORMAT,
      index: this.#index,
      specVersions: [...this.#specVersions].sort(([a], [b]) => (a < b ? -1 : 1)),
      cluster: this.list('cluster'),
      node: this.list('node'),
      network: this.list('network'),
      service: this.list('service'),
      task: this.list('task'),
      stack: this.list('stack'),
    };
  }

  snapshot(): StoreSnapshot {
    return {
      format: SNAPSHOT_FORMAT,
      index: this.#index,
      specVersions: [...this.#specVersions].sort(([a], [b]) => (a < b ? -1 : 1)),
      cluster: this.list('cluster').map((o) => structuredClone(o)),
      node: this.list('node').map((o) => structuredClone(o)),
      network: this.list('network').map((o) => structuredClone(o)),
      service: this.list('service').map((o) => structuredClone(o)),
      task: this.list('task').map((o) => structuredClone(o)),
      stack: this.list('stack').map((o) => structuredClone(o)),
    };
  }

  /** Replace everything with a snapshot; the input is checked first, so a bad one changes nothing. */
  restore(input: unknown): void {
    const snap = decodeSnapshot(input);
    for (const kind of OBJECT_KINDS) this.#objects[kind].clear();
    for (const idx of [this.#tasksByService, this.#tasksByNode, this.#servicesByStack, this.#networksByStack]) idx.clear();
    this.#serviceByName.clear();
    this.#networkByName.clear();
    this.#specVersions.clear();
    for (const kind of OBJECT_KINDS) {
      for (const object of snap[kind] as StoredObject[]) this.#put(kind, keyOf(kind, object), deepFreeze(object));
    }
    for (const [id, v] of snap.specVersions) this.#specVersions.set(id, v);
    this.#index = snap.index;
  }

  static fromSnapshot(input: unknown): Store {
    const store = new Store();
    store.restore(input);
    return store;
  }
}

function notFound(kind: ObjectKind, key: string): ShoalError {
  return new ShoalError('not_found', `${kind} ${key} does not exist`, `list the ${kind}s to find its id`);
}

function stale(kind: ObjectKind, key: string, read: number, stored: number): ShoalError {
  return new ShoalError('version_conflict', `${kind} ${key} changed since it was read (version ${read}, now ${stored})`, 'read it again and retry');
}
