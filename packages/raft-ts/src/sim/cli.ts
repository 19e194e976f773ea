// `node packages/raft-ts/dist/sim/cli.js --seeds 10000 [--size 3|5] [--start 1] [--storage file]` runs many
// seeds and prints the count of seeds and of failures; `--replay <seed> --size <n>` narrates one.
import { runSimulation } from './simulator.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function main(): number {
  const replay = arg('replay');
  const sizeArg = arg('size');
  const storage = arg('storage') === 'file' ? 'file' : 'memory';
  if (replay !== undefined) {
    const r = runSimulation({ seed: Number(replay), size: Number(sizeArg ?? 3), storage, trace: (l) => console.log(l) });
    console.log(r.ok ? `seed ${replay}: ok` : r.failure);
    console.log(JSON.stringify(r.stats));
    return r.ok ? 0 : 1;
  }
  const seeds = Number(arg('seeds') ?? 1000);
  const start = Number(arg('start') ?? 1);
  const sizes = sizeArg === undefined ? [3, 5] : [Number(sizeArg)];
  let failed = 0;
  for (const size of sizes) {
    const began = Date.now();
    let failures = 0;
    for (let seed = start; seed < start + seeds; seed++) {
      const r = runSimulation({ seed, size, storage });
      if (!r.ok) {
        failures++;
        console.log(r.failure);
      }
    }
    console.log(`size ${size}: ${seeds} seeds, ${failures} failures (${((Date.now() - began) / 1000).toFixed(1)} s)`);
    failed += failures;
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
