import type { Kernel } from '@shoal/agent';
import type { Lab } from '@shoal/lab';

/** The agent's Kernel seam, pointed at one lab host: each command runs inside that host. */
export function labKernel(lab: Lab, host: string): Kernel {
  return {
    async run(argv, input) {
      const r = await lab.exec(host, argv, { timeoutMs: 30_000, ...(input !== undefined ? { input } : {}) });
      if (r.code !== 0) throw new Error(`${host}: \`${argv.join(' ')}\` failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    },
  };
}
