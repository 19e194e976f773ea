// npm run bench:bootstrap — how long `shoal cluster bootstrap` takes over real SSH on a 3-host
// lab (1 coordinator + 2 workers): from nothing with the bundle built first (cold), from
// nothing with it cached, and a re-run that finds nothing to change. Prints figures beside the
// target; it is not a test and fails only if a bootstrap does.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const name = process.env.BENCH_LAB ?? 'boot';
const subnet = process.env.BENCH_SUBNET ?? '192.168.232.0/24';
const dir = mkdtempSync(join(tmpdir(), 'shoal-bench-bootstrap-'));
const env = { ...process.env, SHOAL_CONFIG: join(dir, 'config.yaml') };

function shoal(args, { timed = false } = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0 && timed) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`shoal ${args.join(' ')} failed (exit ${r.status})`);
  }
  return { seconds, out: r.stdout, err: r.stderr };
}

function fresh() {
  shoal(['lab', 'down', '--name', name]);
  shoal(['lab', 'up', '--hosts', '3', '--name', name, '--subnet', subnet], { timed: true });
  writeFileSync(join(dir, 'ssh.conf'), shoal(['lab', 'ssh-config', '--name', name]).out);
}

const bootstrap = () => shoal(['cluster', 'bootstrap', '-i', join(root, 'examples/lab-inventory.yaml'), '--ssh-config', join(dir, 'ssh.conf')], { timed: true });

try {
  fresh();
  rmSync(join(root, 'node_modules/.cache/shoal-bundle'), { recursive: true, force: true });
  const cold = bootstrap();
  fresh();
  const warm = bootstrap();
  const again = bootstrap();
  const unchanged = (again.err.match(/: unchanged \(/g) ?? []).length;
  console.log(`shoal cluster bootstrap, 3 lab hosts (1 coordinator + 2 workers) over SSH`);
  console.log(`from nothing, bundle built first   ${cold.seconds.toFixed(1)} s`);
  console.log(`from nothing, bundle cached        ${warm.seconds.toFixed(1)} s`);
  console.log(`run again (${unchanged}/3 hosts unchanged)     ${again.seconds.toFixed(1)} s`);
  console.log('target: the whole demo (setup, lab up, bootstrap, stack deploy) well under 2 min');
} finally {
  shoal(['lab', 'down', '--name', name]);
  rmSync(dir, { recursive: true, force: true });
}
