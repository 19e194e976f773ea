import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (dir: string): string => fileURLToPath(new URL(`./packages/${dir}/src/index.ts`, import.meta.url));

// Unit tests import sibling packages from source, so they need no build. The lab project runs
// real daemons on this machine (root, dockerd, sshd, the kernel): one file at a time.
export default defineConfig({
  resolve: {
    alias: {
      'raft-ts': src('raft-ts'),
      '@shoal/core': src('core'),
      '@shoal/coordinator': src('coordinator'),
      '@shoal/agent': src('agent'),
      '@shoal/lab': src('lab'),
      '@shoal/cli': src('cli'),
    },
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['packages/*/test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['test/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
