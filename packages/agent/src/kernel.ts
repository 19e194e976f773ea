import { execFile } from 'node:child_process';
import { ShoalError } from '@shoal/core';

/**
 * How the agent changes the host's network: by running iproute2 commands. Injected, so that the
 * same driver runs on a real host (locally) and in tests on a lab host (through nsenter).
 */
export interface Kernel {
  /** Runs argv (with `input` on its stdin); resolves with stdout, rejects with a ShoalError carrying stderr. */
  run(argv: readonly string[], input?: string): Promise<string>;
}

export function kernelError(argv: readonly string[], code: number | string, stderr: string): ShoalError {
  return new ShoalError('kernel_command_failed', `\`${argv.join(' ')}\` failed (${code}): ${stderr.trim().split('\n').slice(-2).join(' / ')}`);
}

export const localKernel: Kernel = {
  run(argv, input) {
    const [cmd, ...args] = argv;
    return new Promise((resolve, reject) => {
      const child = execFile(cmd ?? 'false', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(kernelError(argv, typeof err.code === 'number' || typeof err.code === 'string' ? err.code : 'error', stderr));
        else resolve(stdout);
      });
      child.stdin?.end(input);
    });
  },
};

/** Runs argv and reports success instead of throwing: for probes such as "does it exist". */
export async function succeeds(kernel: Kernel, argv: readonly string[]): Promise<boolean> {
  try {
    await kernel.run(argv);
    return true;
  } catch {
    return false;
  }
}
