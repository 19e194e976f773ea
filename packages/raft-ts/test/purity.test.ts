import * as fs from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const coreDir = fileURLToPath(new URL('../src/core/', import.meta.url));
const srcDir = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

// Comments may name what the code must not do; only code counts.
const code = (path: string): string => fs.readFileSync(path, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

describe('the core is pure', () => {
  it('imports only its own files and never reads a clock, a random source, a timer or the process', () => {
    const core = files(coreDir);
    expect(core.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const f of core) {
      const text = code(f);
      for (const m of text.matchAll(/from\s+'([^']+)'/g)) {
        const spec = m[1] ?? '';
        // The Storage interface (types only) is the one thing the core takes from outside itself.
        if (!spec.startsWith('./') && spec !== '../storage/storage.js') found.push(`${f}: imports ${spec}`);
      }
      for (const bad of ['setTimeout', 'setInterval', 'setImmediate', 'Date.now', 'new Date', 'Math.random', 'performance.', 'process.', 'queueMicrotask', 'await ']) {
        if (text.includes(bad)) found.push(`${f}: uses ${bad}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('no file of the package imports another package of the project', () => {
    const found = files(srcDir).flatMap((f) => [...code(f).matchAll(/from\s+'([^']+)'/g)].map((m) => m[1] ?? '').filter((s) => s.startsWith('@shoal/')).map((s) => `${f}: ${s}`));
    expect(found).toEqual([]);
  });
});
