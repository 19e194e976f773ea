import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, clusterTarget } from '@shoal/cli';
import { LabNames, type Lab } from '@shoal/lab';
import { shoal, type CliResult } from './cli.js';

// What the tests of `shoal cluster bootstrap` share: a scratch folder with the lab's ssh config,
// inventories and the CLI's own config, and a look at the daemons a host runs.

export interface HostLine {
  name: string;
  role: 'coordinator' | 'worker';
  labels?: Record<string, string>;
  identityFile?: string;
}

/** A scratch folder with an ssh config for the lab (its key, a known_hosts of the test's own), inventories and the CLI config. */
export class Workspace {
  dir = '';
  constructor(readonly lab: Lab) {}

  get knownHosts(): string {
    return join(this.dir, 'known_hosts');
  }
  get env(): NodeJS.ProcessEnv {
    // the CLI's config and the cluster secret stay in the scratch folder, never in ~/.config
    return { SHOAL_CONFIG: join(this.dir, 'config', 'config.yaml'), SSH_AUTH_SOCK: '' };
  }

  /** `jumps`: hosts reached through another one (ProxyJump), e.g. { h3: 'h1' }. */
  async init(jumps: Record<string, string> = {}): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'shoal-bootstrap-'));
    // no IdentityFile here: the inventory names the key, so a wrong one is the only one tried
    const conf = this.lab.state.hosts
      .map((h) =>
        [`Host ${h.name}`, `  HostName ${h.address}`, '  User root', '  IdentitiesOnly yes', `  UserKnownHostsFile ${this.knownHosts}`, ...(jumps[h.name] ? [`  ProxyJump ${jumps[h.name]}`] : []), ''].join('\n'),
      )
      .join('\n');
    await writeFile(join(this.dir, 'ssh.conf'), conf);
    await writeFile(this.knownHosts, '');
  }

  async inventory(file: string, cluster: string, hosts: HostLine[], extra = ''): Promise<string> {
    const lines = [`cluster: ${cluster}`, `sshConfig: ssh.conf`, 'defaults:', `  identityFile: ${new LabNames(this.lab.name).dir}/id_ed25519`, extra, 'hosts:'];
    for (const h of hosts) {
      lines.push(`  - name: ${h.name}`, `    address: ${h.name}`, `    role: ${h.role}`);
      if (h.labels) lines.push(`    labels: ${JSON.stringify(h.labels)}`);
      if (h.identityFile) lines.push(`    identityFile: ${h.identityFile}`);
    }
    const path = join(this.dir, file);
    await writeFile(path, lines.filter((l) => l !== '').join('\n') + '\n');
    return path;
  }

  cli(args: string[]): Promise<CliResult> {
    return shoal(args, { env: this.env, timeoutMs: 240_000 });
  }

  bootstrap(inventory: string, ...more: string[]): Promise<CliResult> {
    return this.cli(['cluster', 'bootstrap', '-i', inventory, '--ready-timeout', '90', ...more]);
  }

  async api<T>(fn: (c: ApiClient) => Promise<T>, natsUrl?: string): Promise<T> {
    const t = await clusterTarget({}, this.env);
    const c = await ApiClient.open(natsUrl ? { ...t, natsUrl } : t);
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  }
}

/** What Shoal runs on a host: daemon pids by service name (none: not installed). */
export async function pids(lab: Lab, host: string): Promise<Record<string, string>> {
  const r = await lab.exec(host, ['sh', '-c', 'for f in /run/shoal/*.pid; do [ -f "$f" ] && echo "$(basename $f) $(cat $f)"; done; true']);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ') as [string, string]),
  );
}

export const fileExists = async (lab: Lab, host: string, path: string): Promise<boolean> => (await lab.exec(host, ['test', '-e', path])).code === 0;
export const show = (r: CliResult): string => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

