import type { Task } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import type { Command } from '@shoal/coordinator';
import { Allocator, Store, allocatePass, orchestrate, schedulePass } from '@shoal/coordinator';
import { entry } from './fixtures.js';

/** A store driven as the Raft driver would: one entry per proposal, refusals thrown for tests. */
export class Log {
  readonly store = new Store();

  propose(...commands: Command[]): void {
    for (const c of commands) {
      const r = this.store.apply(c, entry(this.store.index + 1));
      if (!r.ok) throw r.error;
    }
  }

  /** Several commands as one entry, as a component's pass is proposed. */
  batch(commands: Command[]): void {
    if (commands.length === 0) return;
    this.propose({ op: 'batch', commands: commands.flatMap((c) => (c.op === 'batch' ? c.commands : [c])) });
  }

  get now(): string {
    return entry(this.store.index).at;
  }
}

/** A small seeded generator (mulberry32), so a failing property run can be replayed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The leader's loop without NATS or timers: orchestrate, allocate, schedule, each proposal
 * committed at once; `agentsRun` plays the agents reporting their tasks running.
 */
export class Cluster {
  readonly log = new Log();
  readonly allocator = new Allocator();
  now = Date.UTC(2026, 0, 1);
  #ids = 0;
  lastWakeAt: number | undefined;

  get store(): Store {
    return this.log.store;
  }

  /** One round of the leader's components, as they would react to the store's changes. */
  step(): void {
    const at = new Date(this.now).toISOString();
    const pass = orchestrate(this.store, { now: this.now, newId: () => `t${++this.#ids}` });
    this.lastWakeAt = pass.wakeAt;
    for (const b of pass.batches) this.log.batch(b);
    this.log.batch(allocatePass(this.store, this.allocator, at).commands);
    this.log.batch(schedulePass(this.store, at).commands);
  }

  /** Every assigned task the nodes would start, reported running at the current time. */
  agentsRun(): void {
    const at = new Date(this.now).toISOString();
    for (const t of this.store.list('task')) {
      if (t.desiredState === 'running' && t.status.state === 'assigned') {
        this.log.propose({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, state: 'running', message: 'started', at } } });
      }
    }
  }

  /** Agents stop what is no longer wanted, of what they were sent (assigned or beyond). */
  agentsStop(): void {
    const at = new Date(this.now).toISOString();
    for (const t of this.store.list('task')) {
      const sent = t.status.state !== 'new' && t.status.state !== 'pending';
      if (t.desiredState === 'shutdown' && sent && !isTerminalTaskState(t.status.state)) {
        this.log.propose({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, state: 'shutdown', message: 'stopped', at } } });
      }
    }
  }

  /** Rounds until nothing changes, with agents doing their part. */
  settle(rounds = 10): void {
    for (let i = 0; i < rounds; i++) {
      const before = this.store.index;
      this.step();
      this.agentsRun();
      this.agentsStop();
      if (this.store.index === before) return;
    }
  }

  report(taskId: string, state: Task['status']['state'], extra: Partial<Task['status']> = {}): void {
    const t = this.store.get('task', taskId);
    if (!t) throw new Error(`no task ${taskId}`);
    this.log.propose({ op: 'update', kind: 'task', object: { ...t, status: { ...t.status, state, at: new Date(this.now).toISOString(), ...extra } } });
  }

  /** The tasks of a service still wanted, by slot (or node), as `service ps` would list them. */
  wanted(serviceId: string): Task[] {
    return this.store.tasksOfService(serviceId).filter((t) => t.desiredState === 'running').sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || (a.nodeId ?? '').localeCompare(b.nodeId ?? ''));
  }
}

/** Waits for a condition (the dispatcher's writes and sends are queued work), failing after 10 s. */
export async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 500) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
