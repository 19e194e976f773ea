import { describe, expect, it } from 'vitest';
import { checkHostKey, hostKeyAlgorithms, keyTypeOfBlob, knownHostsLine, knownHostsName, parseKnownHosts } from './imports.js';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const RSA = 'AAAAB3NzaC1yc2EAAAADAQABAAABAQC';

describe('known_hosts', () => {
  it('names a host as OpenSSH does: bare on port 22, [host]:port otherwise', () => {
    expect(knownHostsName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostsName('10.0.0.1', 2222)).toBe('[10.0.0.1]:2222');
  });

  it('knows a listed key, by name, by address list, by wildcard and on another port', () => {
    const entries = parseKnownHosts(
      [`# comment`, `10.0.0.1,h1 ssh-ed25519 ${KEY_A} comment`, `*.lab.net ssh-ed25519 ${KEY_B}`, `[10.0.0.9]:2222 ssh-ed25519 ${KEY_A}`].join('\n'),
    );
    expect(checkHostKey(entries, ['h1'], 'ssh-ed25519', KEY_A)).toBe('known');
    expect(checkHostKey(entries, ['x.lab.net'], 'ssh-ed25519', KEY_B)).toBe('known');
    expect(checkHostKey(entries, ['[10.0.0.9]:2222'], 'ssh-ed25519', KEY_A)).toBe('known');
    expect(checkHostKey(entries, ['10.0.0.9'], 'ssh-ed25519', KEY_A)).toBe('unknown');
  });

  it('says changed when the host is listed with another key of the same type, unknown for a type it has none of', () => {
    const entries = parseKnownHosts(`h1 ssh-ed25519 ${KEY_A}\n`);
    expect(checkHostKey(entries, ['h1'], 'ssh-ed25519', KEY_B)).toBe('changed');
    expect(checkHostKey(entries, ['h1'], 'ssh-rsa', RSA)).toBe('unknown');
    expect(checkHostKey(entries, ['h2'], 'ssh-ed25519', KEY_A)).toBe('unknown');
  });

  it('matches a hashed entry written by ssh-keygen -H', () => {
    const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIIAKinn0+KHfPGW3SNHO3hu1G86aVAAMfCsdke7vcVGc';
    // `ssh-keygen -H` of the line "192.168.1.11 ssh-ed25519 <key>"
    const entries = parseKnownHosts(`|1|j9Sxn+eW8kKMDYBMV1xnMYWZLZI=|O7qDJTIpsmB2SFJ5PfSq0HYnA+8= ssh-ed25519 ${key}\n`);
    expect(checkHostKey(entries, ['192.168.1.11'], 'ssh-ed25519', key)).toBe('known');
    expect(checkHostKey(entries, ['192.168.1.111'], 'ssh-ed25519', key)).toBe('unknown');
  });

  it('records new keys hashed, as ssh-keygen -H would, so they match and do not list the host', () => {
    const line = knownHostsLine('192.168.1.11', 'ssh-ed25519', KEY_A, Buffer.alloc(20, 7));
    expect(line).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(line).not.toContain('192.168.1.11');
    const entries = parseKnownHosts(line);
    expect(checkHostKey(entries, ['192.168.1.11'], 'ssh-ed25519', KEY_A)).toBe('known');
    expect(checkHostKey(entries, ['192.168.1.12'], 'ssh-ed25519', KEY_A)).toBe('unknown');
    expect(checkHostKey(entries, ['192.168.1.11'], 'ssh-ed25519', KEY_B)).toBe('changed');
  });

  it('refuses a revoked key and a negated pattern, and never takes a CA line as the host key', () => {
    const entries = parseKnownHosts([`@revoked * ssh-ed25519 ${KEY_B}`, `@cert-authority * ssh-ed25519 ${KEY_A}`, `h*,!h9 ssh-ed25519 ${KEY_A}`].join('\n'));
    expect(checkHostKey(entries, ['h1'], 'ssh-ed25519', KEY_B)).toBe('revoked');
    expect(checkHostKey(entries, ['h1'], 'ssh-ed25519', KEY_A)).toBe('known');
    expect(checkHostKey(entries, ['h9'], 'ssh-ed25519', KEY_A)).toBe('unknown');
  });

  it('reads the key type from the wire-format key', () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.alloc(36)]);
    expect(keyTypeOfBlob(blob)).toBe('ssh-ed25519');
    expect(checkHostKey(parseKnownHosts(`h1 ssh-ed25519 ${blob.toString('base64')}`), ['h1'], keyTypeOfBlob(blob), blob.toString('base64'))).toBe('known');
  });
});

describe('host key algorithms offered', () => {
  it('puts the types known_hosts holds for the host first, RSA as its SHA-2 signatures, and still offers the rest', () => {
    const entries = parseKnownHosts(`h1 ssh-rsa ${RSA}\nh2 ecdsa-sha2-nistp256 AAAA\n`);
    const h1 = hostKeyAlgorithms(entries, ['h1']);
    expect(h1.slice(0, 3)).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(h1).toContain('ssh-ed25519');
    expect(new Set(h1).size).toBe(h1.length);
    expect(hostKeyAlgorithms(entries, ['h2'])[0]).toBe('ecdsa-sha2-nistp256');
    expect(hostKeyAlgorithms(entries, ['h3'])[0]).toBe('ssh-ed25519');
  });
});
