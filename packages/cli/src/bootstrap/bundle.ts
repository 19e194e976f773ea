import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShoalError } from '@shoal/core';
import { sha256 } from './plan.js';

/** The repository this CLI was built in: the daemons' built files are bundled from there. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const CACHE_DIR = join(ROOT, 'node_modules', '.cache', 'shoal-bundle');

export interface Bundle {
  file: string;
  hash: string;
  size: number;
}

/**
 * One file runs every part of Shoal on a host (`node shoal.mjs agent|coordinator|supervise`),
 * so a host needs only Node: one upload, and its hash says whether a host has it already.
 */
const ENTRY = `
// a DNS worker, forked by the agent's resolver, runs this file again with no role
const worker = process.env.SHOAL_DNS_WORKER === '1';
const role = worker ? 'agent' : process.argv[2];
if (!worker) process.argv.splice(2, 1);
if (role === 'agent') await import('./packages/agent/dist/bin.js');
else if (role === 'coordinator') await import('./packages/coordinator/dist/bin.js');
else if (role === 'supervise') {
  const { runSupervisor } = await import('./packages/cli/dist/bootstrap/remote/supervisor.js');
  runSupervisor(process.argv[2], process.argv[3] ?? '/run/shoal');
} else {
  process.stderr.write('usage: node shoal.mjs agent|coordinator|supervise ARGS…\\n');
  process.exit(2);
}
`;

interface CacheRecord {
  hash: string;
  inputs: { path: string; size: number; mtimeMs: number }[];
}

async function cached(): Promise<Bundle | undefined> {
  try {
    const rec = JSON.parse(await readFile(join(CACHE_DIR, 'record.json'), 'utf8')) as CacheRecord;
    for (const i of rec.inputs) {
      const s = await stat(join(ROOT, i.path));
      if (s.size !== i.size || s.mtimeMs !== i.mtimeMs) return undefined;
    }
    const file = join(CACHE_DIR, `shoal-${rec.hash.slice(0, 16)}.mjs`);
    const s = await stat(file);
    return { file, hash: rec.hash, size: s.size };
  } catch {
    return undefined;
  }
}

/**
 * Bundles the built daemons with esbuild-wasm (the wasm build: esbuild's native packages are
 * per platform, which npm ci cannot lock here). Bundling takes seconds, so the result is kept
 * until one of its input files changes.
 */
export async function buildBundle(): Promise<Bundle> {
  const hit = await cached();
  if (hit) return hit;
  for (const f of ['packages/agent/dist/bin.js', 'packages/coordinator/dist/bin.js', 'packages/cli/dist/bootstrap/remote/supervisor.js']) {
    if (!existsSync(join(ROOT, f))) throw new ShoalError('no_build', `${f} is missing`, 'build first: npm run build');
  }
  const esbuild = await import('esbuild-wasm');
  // the wasm service keeps the process alive until stopped, failed build or not
  const result = await esbuild.build({
    stdin: { contents: ENTRY, resolveDir: ROOT, sourcefile: 'shoal-entry.mjs', loader: 'js' },
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'silent',
    // CommonJS dependencies call require(): give the ES module one
    banner: { js: "import { createRequire as __shoalRequire } from 'node:module'; const require = __shoalRequire(import.meta.url);" },
    plugins: [
      {
        // dockerode can talk to Docker over SSH through ssh2; the agent uses the local socket,
        // and ssh2's optional native parts cannot be bundled
        name: 'no-docker-over-ssh',
        setup(b) {
          b.onResolve({ filter: /^(ssh2|cpu-features)$/ }, (a) => ({ path: a.path, namespace: 'shoal-stub' }));
          b.onLoad({ filter: /.*/, namespace: 'shoal-stub' }, (a) => ({
            contents: `module.exports = { Client: class { constructor() { throw new Error('${a.path} is not in the Shoal bundle'); } } };`,
            loader: 'js',
          }));
        },
      },
    ],
  }).finally(() => esbuild.stop());
  const out = result.outputFiles[0];
  if (!out) throw new ShoalError('bundle_failed', 'esbuild produced no output', 'run npm run build and try again');
  const hash = sha256(Buffer.from(out.contents));
  await mkdir(CACHE_DIR, { recursive: true });
  const file = join(CACHE_DIR, `shoal-${hash.slice(0, 16)}.mjs`);
  await writeFile(`${file}.tmp`, out.contents);
  await rename(`${file}.tmp`, file);
  const inputs: CacheRecord['inputs'] = [];
  for (const path of Object.keys(result.metafile.inputs)) {
    if (path.startsWith('shoal-stub:') || path === 'shoal-entry.mjs') continue;
    const s = await stat(join(ROOT, path));
    inputs.push({ path, size: s.size, mtimeMs: s.mtimeMs });
  }
  await writeFile(join(CACHE_DIR, 'record.json'), JSON.stringify({ hash, inputs } satisfies CacheRecord));
  return { file, hash, size: out.contents.length };
}
