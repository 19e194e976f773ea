import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { z } from 'zod';
import { ShoalError } from '@shoal/core';

/**
 * One cluster the CLI knows: where its NATS servers are and the admin credentials. Bootstrap
 * writes these; `--context` picks one.
 */
const ContextSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, "_", "." or "-"'),
    cluster: z.string().min(1),
    nats: z.array(z.string().min(1)).min(1),
    user: z.string().optional(),
    password: z.string().optional(),
  })
  .strict();
export type ClusterContext = z.infer<typeof ContextSchema>;

const ConfigSchema = z
  .object({
    current: z.string().optional(),
    contexts: z.array(ContextSchema).default([]),
  })
  .strict();
export type CliConfig = z.infer<typeof ConfigSchema>;

/** $SHOAL_CONFIG, else $XDG_CONFIG_HOME/shoal/config.yaml, else ~/.config/shoal/config.yaml. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SHOAL_CONFIG) return env.SHOAL_CONFIG;
  const base = env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(base, 'shoal', 'config.yaml');
}

/** The config file, or an empty one when there is none yet; a damaged file is an error, never ignored. */
export async function loadConfig(path = configPath()): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: [] };
    throw new ShoalError('bad_config', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check its permissions');
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ShoalError('bad_config', `${path} is not valid YAML: ${(err as Error).message.split('\n')[0] ?? ''}`, 'fix or remove the file');
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ShoalError('bad_config', `${path}: ${issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : 'invalid'}`, 'fix or remove the file');
  }
  return parsed.data;
}

/** Written whole to a temporary file, mode 0600 (it holds credentials), then renamed over. */
export async function saveConfig(config: CliConfig, path = configPath()): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, stringifyYaml(ConfigSchema.parse(config)), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

/** Adds or replaces the context of that name; the new one becomes current unless told otherwise. */
export async function saveContext(ctx: ClusterContext, options: { makeCurrent?: boolean; path?: string } = {}): Promise<void> {
  const path = options.path ?? configPath();
  const config = await loadConfig(path);
  const contexts = config.contexts.filter((c) => c.name !== ctx.name);
  contexts.push(ContextSchema.parse(ctx));
  await saveConfig({ ...config, contexts, ...(options.makeCurrent === false ? {} : { current: ctx.name }) }, path);
}

export async function removeContext(name: string, path = configPath()): Promise<boolean> {
  const config = await loadConfig(path);
  const contexts = config.contexts.filter((c) => c.name !== name);
  if (contexts.length === config.contexts.length) return false;
  const { current, ...rest } = config;
  await saveConfig({ ...rest, contexts, ...(current !== undefined && current !== name ? { current } : {}) }, path);
  return true;
}

/** The context named, else the current one; undefined when the file names none. */
export function pickContext(config: CliConfig, name: string | undefined): ClusterContext | undefined {
  if (name !== undefined) {
    const ctx = config.contexts.find((c) => c.name === name);
    if (!ctx) {
      const known = config.contexts.map((c) => c.name);
      throw new ShoalError('no_such_context', `there is no context ${name}`, known.length > 0 ? `use one of: ${known.join(', ')}` : 'bootstrap a cluster first (shoal cluster bootstrap)');
    }
    return ctx;
  }
  return config.current === undefined ? undefined : config.contexts.find((c) => c.name === config.current);
}
