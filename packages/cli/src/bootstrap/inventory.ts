import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { ID_PATTERN, ShoalError } from '@shoal/core';

export type HostRole = 'coordinator' | 'worker';

/** How to reach a host over SSH; anything left out comes from ~/.ssh/config, then OpenSSH's defaults. */
export interface SshSettings {
  user?: string | undefined;
  port?: number | undefined;
  identityFile?: string | undefined;
}

export interface InventoryHost extends SshSettings {
  /** The node's name in the cluster (and its node id): also what `add-host NAME` names. */
  name: string;
  /** IP, DNS name or a Host alias of the ssh config. */
  address: string;
  role: HostRole;
  labels: Record<string, string>;
  /** The underlay address other hosts reach this one at; default: the agent finds it. */
  advertise?: string | undefined;
}

export interface Inventory {
  cluster: string;
  /** The ssh_config file read for aliases (default ~/.ssh/config). */
  sshConfig?: string | undefined;
  /** known_hosts files checked besides those the ssh config names. */
  knownHosts?: string | undefined;
  defaults: SshSettings;
  hosts: InventoryHost[];
}

export const INVENTORY_EXAMPLE = `cluster: prod                 # cluster id: letters, digits, "-" or "_"
defaults:                     # SSH settings for every host (each may override them)
  user: deploy                # not root: commands run through sudo -n
  port: 22
  identityFile: ~/.ssh/id_ed25519
sshConfig: ~/.ssh/config      # where Host aliases are looked up (the default)
knownHosts: ./known_hosts     # checked too, and where --accept-new-host-keys records keys
hosts:
  - name: m1                  # node name and id
    address: 10.0.0.11        # IP, DNS name or an ~/.ssh/config alias
    role: coordinator         # 1, 3 or 5 coordinators; the rest are workers
  - name: w1
    address: w1.example.net
    role: worker
    labels: { zone: eu-1 }
    advertise: 10.0.1.21      # underlay address (default: the default route's)
    user: root                # per-host SSH overrides: user, port, identityFile
`;

const TOP_KEYS = ['cluster', 'defaults', 'sshConfig', 'knownHosts', 'hosts'];
const SSH_KEYS = ['user', 'port', 'identityFile'];
const HOST_KEYS = ['name', 'address', 'role', 'labels', 'advertise', ...SSH_KEYS];
const ALLOWED_COORDINATORS = [1, 3, 5];

/** `~/x` as the user's file; a relative path from the inventory's folder, as a person reads it. */
export function resolvePath(path: string, base: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2));
  return isAbsolute(path) ? path : resolve(base, path);
}

/**
 * Reads an inventory, refusing anything it does not know (a misspelt key must not quietly leave
 * a default in place), and names the line and path of the first problem.
 */
export function parseInventory(text: string, file: string): Inventory {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (node: YamlNode | undefined | null, path: string, what: string, todo: string): never => {
    const offset = node?.range?.[0];
    const line = offset === undefined ? '' : `:${lines.linePos(offset).line}`;
    throw new ShoalError('bad_inventory', `${file}${line}: ${path ? `${path}: ` : ''}${what}`, todo);
  };
  const firstError = doc.errors[0];
  if (firstError) {
    const line = lines.linePos(firstError.pos[0]).line;
    throw new ShoalError('bad_inventory', `${file}${line ? `:${line}` : ''}: not valid YAML: ${firstError.message.split('\n')[0] ?? ''}`, 'fix the YAML syntax');
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, '', 'expected a mapping with cluster, defaults and hosts', `see shoal cluster bootstrap --help for an example`);

  const entries = (node: YamlNode, path: string, keys: readonly string[]): Map<string, YamlNode | null> => {
    if (!isMap(node)) return fail(node, path, 'expected a mapping', 'write key: value lines');
    const out = new Map<string, YamlNode | null>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const at = path ? `${path}.${key}` : key;
      if (!keys.includes(key)) fail(keyNode, at, `unknown key "${key}"`, `the keys here are ${keys.join(', ')}`);
      if (out.has(key)) fail(keyNode, at, 'given twice', 'keep one');
      out.set(key, pair.value as YamlNode | null);
    }
    return out;
  };
  const str = (node: YamlNode | null | undefined, path: string, pattern?: RegExp, hint?: string): string => {
    if (!isScalar(node) || typeof node.value !== 'string' || node.value === '') return fail(node, path, `expected a non-empty string`, hint ?? 'give a value');
    if (pattern && !pattern.test(node.value)) return fail(node, path, `"${node.value}" is not valid`, hint ?? 'fix the value');
    return node.value;
  };
  const port = (node: YamlNode | null | undefined, path: string): number => {
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) return fail(node, path, `expected a port number (1-65535)`, 'e.g. port: 22');
    return v;
  };
  const sshSettings = (m: Map<string, YamlNode | null>, path: string, base: string): SshSettings => {
    const out: SshSettings = {};
    if (m.has('user')) out.user = str(m.get('user'), `${path}user`, /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'a login name');
    if (m.has('port')) out.port = port(m.get('port'), `${path}port`);
    if (m.has('identityFile')) out.identityFile = resolvePath(str(m.get('identityFile'), `${path}identityFile`), base);
    return out;
  };

  const base = dirname(resolve(file));
  const top = entries(root, '', TOP_KEYS);
  const cluster = top.has('cluster') ? str(top.get('cluster'), 'cluster', ID_PATTERN, 'letters, digits, "-" or "_" (at most 64)') : fail(root, '', 'no cluster name', 'add e.g. cluster: prod');
  const defaultsNode = top.get('defaults');
  const defaults = defaultsNode ? sshSettings(entries(defaultsNode, 'defaults', SSH_KEYS), 'defaults.', base) : {};
  const hostsNode = top.get('hosts');
  if (!isSeq(hostsNode) || hostsNode.items.length === 0) return fail(hostsNode ?? root, 'hosts', 'expected a list of hosts', 'add hosts: with at least one coordinator');
  const hosts: InventoryHost[] = [];
  hostsNode.items.forEach((item, i) => {
    const path = `hosts[${i}]`;
    const m = entries(item as YamlNode, path, HOST_KEYS);
    const name = str(m.get('name'), `${path}.name`, ID_PATTERN, 'letters, digits, "-" or "_" (at most 64): it becomes the node id');
    if (hosts.some((h) => h.name === name)) fail(m.get('name'), `${path}.name`, `${name} is named twice`, 'give every host its own name');
    const roleNode = m.get('role');
    const role = str(roleNode, `${path}.role`);
    if (role !== 'coordinator' && role !== 'worker') return fail(roleNode, `${path}.role`, `"${role}" is not a role`, 'use coordinator or worker');
    const labels: Record<string, string> = {};
    const labelsNode = m.get('labels');
    if (labelsNode) {
      if (!isMap(labelsNode)) return fail(labelsNode, `${path}.labels`, 'expected a mapping of label to value', 'e.g. labels: { zone: eu-1 }');
      for (const pair of labelsNode.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        const v = isScalar(pair.value) ? pair.value.value : undefined;
        if (!/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/.test(k)) fail(pair.key as YamlNode, `${path}.labels`, `"${k}" is not a label name`, 'letters, digits, ".", "-", "_" or "/"');
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return fail(pair.value as YamlNode, `${path}.labels.${k}`, 'expected a value', 'e.g. zone: eu-1');
        labels[k] = String(v);
      }
    }
    hosts.push({
      name,
      address: m.has('address') ? str(m.get('address'), `${path}.address`, /^[A-Za-z0-9_.:%[\]-]+$/, 'an IP, a DNS name or an ssh config alias') : fail(item as YamlNode, path, 'no address', 'add address: (an IP, a DNS name or an ssh config alias)'),
      role,
      labels,
      ...(m.has('advertise') ? { advertise: str(m.get('advertise'), `${path}.advertise`, /^[0-9.]+$|^[0-9a-fA-F:]+$/, 'an IP address of the host') } : {}),
      ...sshSettings(m, `${path}.`, base),
    });
  });
  const coordinators = hosts.filter((h) => h.role === 'coordinator').length;
  if (!ALLOWED_COORDINATORS.includes(coordinators)) {
    fail(hostsNode, 'hosts', `${coordinators} coordinators`, 'Raft needs 1, 3 or 5 coordinators (an odd number, so a majority survives a loss): set role accordingly');
  }
  return {
    cluster,
    defaults,
    hosts,
    ...(top.has('sshConfig') ? { sshConfig: resolvePath(str(top.get('sshConfig'), 'sshConfig'), base) } : {}),
    ...(top.has('knownHosts') ? { knownHosts: resolvePath(str(top.get('knownHosts'), 'knownHosts'), base) } : {}),
  };
}
