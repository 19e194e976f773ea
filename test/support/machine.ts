import { LAB_TOOLS, requireRoot, requireTools } from '@shoal/lab';

/**
 * Integration tests run real daemons and change the kernel's state: they need root and the
 * lab's programs. Missing either is a failure that names what is missing, never a silent skip.
 */
export async function requireLabMachine(): Promise<void> {
  requireRoot();
  await requireTools(Object.keys(LAB_TOOLS));
}
