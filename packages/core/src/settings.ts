import { parse as parseYaml } from 'yaml';
import { ShoalError } from './errors.js';

/**
 * A daemon's config file (YAML or JSON): a mapping whose keys are the long forms of its flags.
 * Each key has a reader that checks the value's type and puts it where the daemon wants it;
 * unknown keys and wrong types are refused with the key's name, so a typo never leaves a default
 * silently in place. `where` is `FILE: KEY` for the messages.
 */
export type SettingReader<T> = (value: unknown, where: string, out: Partial<T>) => void;

function bad(what: string, todo?: string): ShoalError {
  return new ShoalError('bad_config', what, todo);
}

export function parseSettingsFile<T>(text: string, file: string, readers: Record<string, SettingReader<T>>): Partial<T> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw bad(`${file} is not valid YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, 'fix the file');
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw bad(`${file}: expected a mapping of settings`);
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const read = Object.hasOwn(readers, key) ? readers[key] : undefined;
    if (!read) throw bad(`${file}: unknown setting "${key}"`, `the settings are ${Object.keys(readers).join(', ')}`);
    read(value, `${file}: ${key}`, out);
  }
  return out;
}

/** The value checkers the readers are made of; each throws `bad_config` naming `where`. */
export const setting = {
  string(v: unknown, where: string): string {
    if (typeof v !== 'string' || v === '') throw bad(`${where}: expected a non-empty string, got ${JSON.stringify(v)}`);
    return v;
  },
  /** One string or a list of them. */
  strings(v: unknown, where: string): string[] {
    return Array.isArray(v) ? v.map((s, i) => setting.string(s, `${where}[${i}]`)) : [setting.string(v, where)];
  },
  boolean(v: unknown, where: string): boolean {
    if (typeof v !== 'boolean') throw bad(`${where}: expected true or false, got ${JSON.stringify(v)}`);
    return v;
  },
  /** A whole number in [min, max]; `what` names it in the message ("a port number"). */
  integer(v: unknown, where: string, min: number, max: number, what = `a whole number from ${min} to ${max}`): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(`${where}: expected ${what}, got ${JSON.stringify(v)}`);
    return v;
  },
  /** A mapping of string to string (labels). */
  stringMap(v: unknown, where: string): Record<string, string> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${where}: expected a mapping of name to value`);
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, s]) => [k, setting.string(s, `${where}.${k}`)]));
  },
};
