import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';

/** What OpenSSH would use to reach a host, as far as Shoal acts on it. */
export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  identitiesOnly?: boolean;
  proxyJump?: string;
  userKnownHostsFiles: string[];
  strictHostKeyChecking?: string;
}

interface Block {
  /** undefined: the lines before the first Host (they apply to every host). */
  patterns: string[] | undefined;
  /** A Match block: Shoal does not evaluate its criteria, so it never applies. */
  match: boolean;
  options: [string, string][];
}

export interface SshConfig {
  blocks: Block[];
}

/** Reads an ssh_config text: `Keyword value` or `Keyword=value`, `#` comments, quoted values. */
export function parseSshConfig(text: string, readInclude?: (path: string) => string | undefined): SshConfig {
  const blocks: Block[] = [{ patterns: undefined, match: false, options: [] }];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(line);
    if (!m) continue;
    const keyword = (m[1] ?? '').toLowerCase();
    const value = (m[2] ?? '').trim();
    if (keyword === 'host') {
      blocks.push({ patterns: splitArgs(value), match: false, options: [] });
    } else if (keyword === 'match') {
      blocks.push({ patterns: undefined, match: true, options: [] });
    } else if (keyword === 'include' && readInclude) {
      // an Include's lines belong to the block it sits in, as OpenSSH reads them
      for (const path of splitArgs(value)) {
        const inner = readInclude(expandHome(path, resolve(homedir(), '.ssh')));
        if (inner === undefined) continue;
        const sub = parseSshConfig(inner, readInclude);
        const current = blocks[blocks.length - 1];
        if (current) current.options.push(...(sub.blocks[0]?.options ?? []));
        blocks.push(...sub.blocks.slice(1));
      }
    } else {
      blocks[blocks.length - 1]?.options.push([keyword, value]);
    }
  }
  return { blocks };
}

function splitArgs(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

function expandHome(path: string, base: string): string {
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(base, path);
}

/** OpenSSH's pattern: `*` any run, `?` one character, whole-name match, case-insensitive. */
export function patternMatches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

/** A Host line applies when one pattern matches and no negated (`!`) pattern does. */
export function hostMatches(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * The settings for `alias`: for each keyword the first value found wins, in file order, as in
 * OpenSSH; IdentityFile and UserKnownHostsFile add up instead.
 */
export function resolveSshHost(config: SshConfig, alias: string): SshHostConfig {
  const out: SshHostConfig = { identityFiles: [], userKnownHostsFiles: [] };
  const seen = new Set<string>();
  const expand = (v: string): string =>
    v.replace(/%%|%h|%n|%u|%d/g, (t) => (t === '%%' ? '%' : t === '%h' ? (out.hostName ?? alias) : t === '%n' ? alias : t === '%d' ? homedir() : (out.user ?? '')));
  for (const block of config.blocks) {
    if (block.match) continue;
    if (block.patterns !== undefined && !hostMatches(block.patterns, alias)) continue;
    for (const [key, value] of block.options) {
      if (key === 'identityfile') {
        if (value.toLowerCase() !== 'none') out.identityFiles.push(expandHome(expand(value), resolve(homedir(), '.ssh')));
        continue;
      }
      if (key === 'userknownhostsfile') {
        if (!seen.has(key)) out.userKnownHostsFiles.push(...splitArgs(value).filter((v) => v.toLowerCase() !== 'none').map((v) => expandHome(expand(v), resolve(homedir(), '.ssh'))));
        seen.add(key);
        continue;
      }
      if (seen.has(key)) continue;
      seen.add(key);
      switch (key) {
        case 'hostname':
          out.hostName = expand(value);
          break;
        case 'user':
          out.user = value;
          break;
        case 'port': {
          const n = Number(value);
          if (Number.isInteger(n) && n > 0 && n < 65536) out.port = n;
          break;
        }
        case 'proxyjump':
          if (value.toLowerCase() !== 'none') out.proxyJump = value;
          break;
        case 'identitiesonly':
          out.identitiesOnly = value.toLowerCase() === 'yes';
          break;
        case 'stricthostkeychecking':
          out.strictHostKeyChecking = value.toLowerCase();
          break;
        default:
          seen.delete(key);
      }
    }
  }
  return out;
}

/** `[user@]host[:port]`, one hop of a ProxyJump list. */
export function parseJump(hop: string): { user?: string; host: string; port?: number } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hop.trim());
  if (!m) return { host: hop.trim() };
  const host = (m[2] ?? '').replace(/^\[|\]$/g, '');
  return { host, ...(m[1] ? { user: m[1] } : {}), ...(m[3] ? { port: Number(m[3]) } : {}) };
}
