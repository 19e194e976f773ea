// Checks what eslint's rules cannot here: no import cycle inside a package, and no relative
// import that reaches into another package (packages meet only by name, through src/index.ts).
// It resolves imports with TypeScript itself, so `./x.js` finds `./x.ts` as the compiler does.
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packagesDir = join(root, 'packages');
const problems = [];

function packageOf(file) {
  const rel = relative(packagesDir, file);
  return rel.startsWith('..') ? undefined : rel.split(sep)[0];
}

function* sourceFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (/\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

const options = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, allowJs: false };
const host = ts.createCompilerHost(options);

for (const pkg of readdirSync(packagesDir)) {
  const graph = new Map();
  for (const dir of ['src', 'test']) {
    let files = [];
    try {
      files = [...sourceFiles(join(packagesDir, pkg, dir))];
    } catch {
      continue;
    }
    for (const file of files) {
      const text = ts.sys.readFile(file) ?? '';
      const { importedFiles } = ts.preProcessFile(text, true, true);
      const edges = [];
      for (const imp of importedFiles) {
        if (!imp.fileName.startsWith('.')) continue;
        const res = ts.resolveModuleName(imp.fileName, file, options, host).resolvedModule;
        if (!res) {
          problems.push(`${relative(root, file)}: cannot resolve ${imp.fileName}`);
          continue;
        }
        const target = resolve(res.resolvedFileName);
        if (packageOf(target) !== pkg) {
          problems.push(`${relative(root, file)}: imports ${imp.fileName}, a file of another package — import the package by its name`);
          continue;
        }
        if (!/\.d\.ts$/.test(target)) edges.push(target);
      }
      graph.set(resolve(file), edges);
    }
  }
  // Tarjan's strongly connected components: any component of two or more files is a cycle.
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).includes(v);
      if (comp.length > 1 || selfLoop) problems.push(`import cycle: ${comp.map((f) => relative(root, f)).join(' → ')}`);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`error: ${p}`);
  process.exit(1);
}
console.log('imports: no cycles, no reaching into another package');
