import { copyFile, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { must } from './run.js';

const BUSYBOX = '/bin/busybox';
const IPERF3 = '/usr/bin/iperf3';

/** The shared libraries (and the dynamic loader) a binary needs, as `ldd` names them. */
export function parseLdd(output: string): string[] {
  const libs = new Set<string>();
  for (const line of output.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.add(path);
  }
  return [...libs];
}

/**
 * Builds the lab's test image as a tar file: no registry can be reached here, so the image is
 * busybox (statically linked, with every applet linked in /bin) plus iperf3 and its libraries.
 */
export async function buildTestImage(workDir: string): Promise<string> {
  const root = join(workDir, 'rootfs');
  const tar = join(workDir, 'test-image.tar');
  await rm(root, { recursive: true, force: true });
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'usr/bin', 'var/www']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await copyFile(BUSYBOX, join(root, 'bin/busybox'));
  const applets = (await must(BUSYBOX, ['--list'])).split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  const present = new Set(await readdir(join(root, 'bin')));
  for (const applet of applets) {
    if (!present.has(applet)) await symlink('busybox', join(root, 'bin', applet));
  }
  await copyFile(IPERF3, join(root, 'usr/bin/iperf3'));
  for (const lib of parseLdd(await must('ldd', [IPERF3]))) {
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await copyFile(lib, join(root, lib));
  }
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  await must('tar', ['-C', root, '-cf', tar, '.']);
  await rm(root, { recursive: true, force: true });
  return tar;
}
