import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { configPath } from '../config.js';

/**
 * The cluster's one secret, from which every NATS password is derived, is kept beside the CLI's
 * config (mode 0600) and on the coordinator hosts; either copy lets a re-run or add-host go on.
 */
export function secretPath(cluster: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dirname(configPath(env)), 'secrets', `${cluster}.secret`);
}

export async function loadLocalSecret(cluster: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  try {
    const s = (await readFile(secretPath(cluster, env), 'utf8')).trim();
    return s || undefined;
  } catch {
    return undefined;
  }
}

export async function saveLocalSecret(cluster: string, secret: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const path = secretPath(cluster, env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(`${path}.tmp`, `${secret}\n`, { mode: 0o600 });
  await chmod(`${path}.tmp`, 0o600);
  await rename(`${path}.tmp`, path);
}

export function newSecret(): string {
  return randomBytes(32).toString('hex');
}
