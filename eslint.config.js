// One lint for the whole monorepo. Beyond the recommended rules it pins down what the design
// depends on: no floating promises (daemons must not lose errors) and packages that meet only
// through each other's public entry, as DESIGN.md's table allows. Import cycles and relative
// imports into another package are checked by scripts/check-imports.mjs, which `npm run lint`
// runs too (the eslint plugins for them need a native resolver that npm ci cannot lock here).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// Which project packages each package may import (DESIGN.md, "Packages").
const allowed = {
  'raft-ts': [],
  core: [],
  coordinator: ['raft-ts', '@shoal/core'],
  agent: ['@shoal/core'],
  lab: ['@shoal/core'],
  cli: ['@shoal/core', '@shoal/lab'],
};
const projectPackages = ['raft-ts', '@shoal/core', '@shoal/coordinator', '@shoal/agent', '@shoal/lab', '@shoal/cli'];

const deepImports = [
  { group: ['@shoal/*/*', 'raft-ts/*'], message: "Import a package through its public entry (src/index.ts), not its files." },
  { group: ['**/packages/*/src/**', '**/packages/*/dist/**'], message: "Import a package by its name, never another package's files." },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.test-results/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        project: ['./packages/*/tsconfig.json', './tsconfig.test.json'],
        tsconfigRootDir: import.meta.dirname,
        noWarnOnMultipleProjects: true,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { patterns: deepImports }],
    },
  },
  ...Object.entries(allowed).map(([dir, may]) => ({
    files: [`packages/${dir}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          ...deepImports,
          ...projectPackages
            .filter((p) => !may.includes(p) && p !== (dir === 'raft-ts' ? 'raft-ts' : `@shoal/${dir}`))
            .map((p) => ({ group: [p], message: `packages/${dir} may not import ${p} (DESIGN.md, "Packages").` })),
        ],
      }],
    },
  })),
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
