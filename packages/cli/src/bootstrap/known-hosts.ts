import { createHmac, randomBytes } from 'node:crypto';
import { patternMatches } from './ssh-config.js';

export interface KnownHostEntry {
  marker?: 'cert-authority' | 'revoked';
  /** Plain patterns (`host`, `[host]:port`, wildcards, `!negated`), or one hashed `|1|salt|hash`. */
  hosts: string[];
  keyType: string;
  key: string;
}

export type HostKeyVerdict = 'known' | 'unknown' | 'changed' | 'revoked';

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift()?.slice(1) as KnownHostEntry['marker'];
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key) continue;
    out.push({ ...(marker ? { marker } : {}), hosts: hosts.split(','), keyType, key });
  }
  return out;
}

/** How known_hosts names a host: the bare name on port 22, `[name]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hashedMatches(entry: string, name: string): boolean {
  const [, magic, salt, hash] = entry.split('|');
  if (magic !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.length === 1 && entry.hosts[0]?.startsWith('|1|')) return hashedMatches(entry.hosts[0], name);
  let matched = false;
  for (const p of entry.hosts) {
    if (p.startsWith('!')) {
      if (patternMatches(p.slice(1), name)) return false;
    } else if (patternMatches(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/**
 * What the host's key means against known_hosts, for any of the names it is known by: known if
 * one entry holds this very key; changed if the host is listed with another key of the same
 * type (the case of a man in the middle, always refused); unknown otherwise.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], names: readonly string[], keyType: string, key: string): HostKeyVerdict {
  const mine = entries.filter((e) => e.marker !== 'cert-authority' && names.some((n) => entryMatches(e, n)));
  if (mine.some((e) => e.marker === 'revoked' && e.key === key)) return 'revoked';
  if (mine.some((e) => e.marker === undefined && e.keyType === keyType && e.key === key)) return 'known';
  if (mine.some((e) => e.marker === undefined && e.keyType === keyType)) return 'changed';
  return 'unknown';
}

/** A hashed line, as `ssh-keygen -H` writes them, so the file does not list the hosts in clear. */
export function knownHostsLine(name: string, keyType: string, key: string, salt: Buffer = randomBytes(20)): string {
  const hash = createHmac('sha1', salt).update(name).digest('base64');
  return `|1|${salt.toString('base64')}|${hash} ${keyType} ${key}\n`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * The host key algorithms to offer, those of the keys known_hosts already holds for the host
 * first (as OpenSSH orders them): otherwise a server with several keys may show one we do not
 * know and be refused as unknown although another of its keys is listed.
 */
export function hostKeyAlgorithms(entries: readonly KnownHostEntry[], names: readonly string[]): string[] {
  const known = entries.filter((e) => e.marker === undefined && names.some((n) => entryMatches(e, n))).map((e) => e.keyType);
  const algs = known.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t])).filter((a) => HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...algs, ...HOST_KEY_ALGORITHMS])];
}
