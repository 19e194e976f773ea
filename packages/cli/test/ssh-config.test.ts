import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { hostMatches, parseJump, parseSshConfig, resolveSshHost, resolveTarget } from './imports.js';

const config = `# a comment
User fallback-is-not-first

Host web-* !web-test
  HostName %h.example.net
  Port 2200
  IdentityFile ~/.ssh/web_key

Host db1 db2
  HostName=10.0.0.5
  User admin
  IdentitiesOnly yes
  ProxyJump deploy@bastion:2222
  UserKnownHostsFile /etc/shoal-known "/path with space/kh"

Match host db1
  User never-used

Host *
  User root
  Port 22
  IdentityFile ~/.ssh/id_ed25519
  StrictHostKeyChecking accept-new
`;

describe('ssh_config', () => {
  const parsed = parseSshConfig(config);

  it('matches Host patterns with * and ?, and a !negated pattern excludes', () => {
    expect(hostMatches(['web-*'], 'web-1')).toBe(true);
    expect(hostMatches(['web-?'], 'web-12')).toBe(false);
    expect(hostMatches(['web-*', '!web-test'], 'web-test')).toBe(false);
    expect(hostMatches(['*.EXAMPLE.net'], 'a.example.net')).toBe(true);
  });

  it('takes the first value of each keyword, in file order, and adds IdentityFiles up', () => {
    const web = resolveSshHost(parsed, 'web-1');
    expect(web.hostName).toBe('web-1.example.net');
    expect(web.port).toBe(2200);
    // lines before the first Host apply to every host and come first
    expect(web.user).toBe('fallback-is-not-first');
    expect(web.identityFiles).toEqual([`${homedir()}/.ssh/web_key`, `${homedir()}/.ssh/id_ed25519`]);
    expect(web.strictHostKeyChecking).toBe('accept-new');
  });

  it('reads Keyword=value, IdentitiesOnly, ProxyJump and quoted known_hosts files; Match blocks never apply', () => {
    const db = resolveSshHost(parsed, 'db2');
    expect(db).toMatchObject({ hostName: '10.0.0.5', user: 'fallback-is-not-first', port: 22, identitiesOnly: true, proxyJump: 'deploy@bastion:2222' });
    expect(db.userKnownHostsFiles).toEqual(['/etc/shoal-known', '/path with space/kh']);
    const excluded = resolveSshHost(parsed, 'web-test');
    expect(excluded.hostName).toBeUndefined();
    expect(excluded.port).toBe(22);
  });

  it('parses a ProxyJump hop', () => {
    expect(parseJump('deploy@bastion:2222')).toEqual({ user: 'deploy', host: 'bastion', port: 2222 });
    expect(parseJump('bastion')).toEqual({ host: 'bastion' });
    expect(parseJump('[fd00::1]:22')).toEqual({ host: 'fd00::1', port: 22 });
  });

  it('reads Include files into the block they sit in', () => {
    const c = parseSshConfig('Host inc\n  Include extra.conf\n', (p) => (p.endsWith('/.ssh/extra.conf') ? 'HostName 10.9.9.9\nPort 2022\n' : undefined));
    expect(resolveSshHost(c, 'inc')).toMatchObject({ hostName: '10.9.9.9', port: 2022 });
  });

  it('settles a target: the inventory host first, then ssh config, then inventory defaults; jumps resolved too', () => {
    const t = resolveTarget('db', 'db1', { user: 'ops' }, { port: 2022, identityFile: '/keys/default' }, parsed, '/inv/known_hosts', {});
    expect(t).toMatchObject({ label: 'db', host: '10.0.0.5', user: 'ops', port: 22, agent: undefined });
    expect(t.identityFiles).toEqual(['/keys/default', `${homedir()}/.ssh/id_ed25519`]);
    expect(t.knownHostsFiles).toEqual(['/inv/known_hosts', '/etc/shoal-known', '/path with space/kh']);
    expect(t.jump).toMatchObject({ host: 'bastion', user: 'deploy', port: 2222 });
    const plain = resolveTarget('x', '10.1.1.1', {}, {}, parseSshConfig(''), undefined, { SSH_AUTH_SOCK: '/run/agent.sock' });
    expect(plain).toMatchObject({ host: '10.1.1.1', port: 22, agent: '/run/agent.sock', knownHostsFiles: [`${homedir()}/.ssh/known_hosts`] });
    // the inventory's file comes first (new keys go there), the user's own is still checked
    expect(resolveTarget('x', 'web-1', {}, {}, parsed, '/inv/kh', {}).knownHostsFiles).toEqual(['/inv/kh', `${homedir()}/.ssh/known_hosts`]);
  });
});
