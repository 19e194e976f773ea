// npm run bench:lab — how long `shoal lab up --hosts 3` and `shoal lab down` take, over a few
// rounds on a lab of its own. Prints figures; it is not a test and fails only if the lab does.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../packages/cli/dist/bin.js', import.meta.url));
const rounds = Number(process.argv[2] ?? 3);
const name = 'bench';

function timed(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`shoal ${args.join(' ')} failed (exit ${r.status})`);
  }
  return seconds;
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

spawnSync(process.execPath, [bin, 'lab', 'down', '--name', name], { encoding: 'utf8' });
const up = [];
const down = [];
for (let i = 0; i < rounds; i++) {
  up.push(timed(['lab', 'up', '--hosts', '3', '--name', name]));
  down.push(timed(['lab', 'down', '--name', name]));
}
const fmt = (x) => `${x.toFixed(2)} s`;
console.log(`shoal lab, ${rounds} rounds on ${process.env.HOSTNAME ?? 'this machine'} (no target set)`);
console.log('step                 median    min       max');
for (const [label, xs] of [['lab up --hosts 3', up], ['lab down', down]]) {
  const s = stats(xs);
  console.log(`${label.padEnd(20)} ${fmt(s.median).padEnd(9)} ${fmt(s.min).padEnd(9)} ${fmt(s.max)}`);
}
