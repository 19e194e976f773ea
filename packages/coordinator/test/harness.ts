import type { Command } from '@shoal/coordinator';
import { Store } from '@shoal/coordinator';
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
