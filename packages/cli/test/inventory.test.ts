import { homedir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { INVENTORY_EXAMPLE, isShoalError, parseInventory } from './imports.js';

const good = `cluster: lab
defaults:
  user: root
  identityFile: keys/id_ed25519
hosts:
  - name: h1
    address: 192.168.1.11
    role: coordinator
    labels: { tier: web, db: true }
  - name: h2
    address: h2
    role: worker
    port: 2222
    identityFile: ~/.ssh/other
`;

/** The error a bad inventory gets: its message, which must name the file, line and path. */
function refusal(text: string): string {
  try {
    parseInventory(text, '/inv/hosts.yaml');
  } catch (err) {
    if (isShoalError(err, 'bad_inventory')) return `${err.what} — ${err.todo ?? ''}`;
    throw err;
  }
  throw new Error('the inventory was accepted');
}

describe('inventory', () => {
  it('reads hosts with roles, labels and SSH settings, paths resolved from its folder or ~', () => {
    const inv = parseInventory(good, '/inv/hosts.yaml');
    expect(inv.cluster).toBe('lab');
    expect(inv.defaults).toEqual({ user: 'root', identityFile: '/inv/keys/id_ed25519' });
    expect(inv.hosts).toEqual([
      { name: 'h1', address: '192.168.1.11', role: 'coordinator', labels: { tier: 'web', db: 'true' } },
      { name: 'h2', address: 'h2', role: 'worker', labels: {}, port: 2222, identityFile: `${homedir()}/.ssh/other` },
    ]);
  });

  it('accepts the example it documents in --help', () => {
    const inv = parseInventory(INVENTORY_EXAMPLE, '/x/hosts.yaml');
    expect(inv.hosts.map((h) => [h.name, h.role])).toEqual([
      ['m1', 'coordinator'],
      ['w1', 'worker'],
    ]);
    expect(inv.hosts[1]?.advertise).toBe('10.0.1.21');
  });

  it('refuses a misspelt key with its file, line and path instead of ignoring it', () => {
    const msg = refusal(good.replace('    role: worker', '    rol: worker'));
    expect(msg).toContain('/inv/hosts.yaml:12: hosts[1].rol: unknown key "rol"');
    expect(msg).toContain('name, address, role');
    expect(refusal(good.replace('  user: root', '  usr: root'))).toContain(':3: defaults.usr: unknown key');
    expect(refusal(`${good}extra: 1\n`)).toContain(':15: extra: unknown key');
  });

  it('refuses a wrong role, a bad port, a duplicate name and a missing address, naming each', () => {
    expect(refusal(good.replace('role: worker', 'role: manager'))).toContain('hosts[1].role: "manager" is not a role');
    expect(refusal(good.replace('port: 2222', 'port: 99999'))).toContain('hosts[1].port: expected a port number');
    expect(refusal(good.replace('name: h2', 'name: h1'))).toContain('hosts[1].name: h1 is named twice');
    expect(refusal(good.replace('    address: h2\n', ''))).toContain('hosts[1]: no address');
    expect(refusal(good.replace('name: h2', 'name: "h 2"'))).toContain('hosts[1].name: "h 2" is not valid');
  });

  it('needs 1, 3 or 5 coordinators', () => {
    expect(refusal(good.replace('role: coordinator', 'role: worker'))).toContain('hosts: 0 coordinators');
    const two = good.replace('role: worker', 'role: coordinator');
    expect(refusal(two)).toMatch(/2 coordinators — Raft needs 1, 3 or 5/);
  });

  it('says when the YAML itself is broken, with the line', () => {
    expect(refusal('cluster: lab\nhosts:\n  - name: [h1\n')).toMatch(/hosts\.yaml:\d+: not valid YAML/);
  });
});
