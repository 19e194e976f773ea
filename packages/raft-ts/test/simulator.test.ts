import { describe, expect, it } from 'vitest';
import { runSimulation } from 'raft-ts';

const SEEDS = 300;

describe.each([3, 5])('simulated cluster of %i under faults', (size) => {
  it(`keeps every safety property, recovers liveness after healing and stays linearizable, for ${SEEDS} seeds`, () => {
    const failures: string[] = [];
    let ops = 0;
    let crashes = 0;
    let snapshots = 0;
    let confChanges = 0;
    let transfers = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runSimulation({ seed, size });
      ops += r.stats.opsCompleted;
      crashes += r.stats.crashes;
      snapshots += r.stats.snapshotsInstalled;
      confChanges += r.stats.confChanges;
      transfers += r.stats.transfers;
      if (!r.ok) failures.push(r.failure ?? `seed ${seed} failed`);
    }
    // A failing seed prints itself; runSimulation({ seed, size, trace: console.log }) replays it.
    expect(failures).toEqual([]);
    // Guard against a simulator that silently stopped exercising anything.
    expect(ops).toBeGreaterThan(SEEDS * 10);
    expect(crashes).toBeGreaterThan(SEEDS);
    expect(snapshots).toBeGreaterThan(SEEDS / 10);
    expect(confChanges).toBeGreaterThan(SEEDS / 2);
    expect(transfers).toBeGreaterThan(SEEDS / 10);
  }, 60_000);
});

describe.each([3, 5])('simulated cluster of %i on the write-ahead log, with torn writes at every crash', (size) => {
  it('keeps every safety property and loses nothing that was synced', () => {
    const failures: string[] = [];
    let torn = 0;
    for (let seed = 1; seed <= 25; seed++) {
      const r = runSimulation({ seed, size, storage: 'file' });
      torn += r.stats.tornTails;
      if (!r.ok) failures.push(r.failure ?? `seed ${seed} failed`);
    }
    expect(failures).toEqual([]);
    expect(torn).toBeGreaterThan(10);
  }, 60_000);
});

describe('simulator determinism', () => {
  it('replays a seed to the same history and statistics', () => {
    const a = runSimulation({ seed: 4242, size: 5 });
    const b = runSimulation({ seed: 4242, size: 5 });
    expect(b.stats).toEqual(a.stats);
    expect(b.history).toEqual(a.history);
    expect(a.history.length).toBeGreaterThan(0);
  });

  it('different seeds explore different runs', () => {
    const a = runSimulation({ seed: 1, size: 3 });
    const b = runSimulation({ seed: 2, size: 3 });
    expect(b.history).not.toEqual(a.history);
  });
});
