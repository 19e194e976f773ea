import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ShoalError, isShoalError } from '@shoal/core';
import { ApiClient, type ClusterTarget } from '../client.js';
import { configPath, saveContext } from '../config.js';
import { EXIT_FAILED, EXIT_OK, table, type Io } from '../output.js';
import { buildBundle, type Bundle } from './bundle.js';
import { loadLocalSecret, newSecret, saveLocalSecret } from './cluster-secret.js';
import { installHost } from './install-host.js';
import { parseInventory, type Inventory, type InventoryHost } from './inventory.js';
import { NATS_CLIENT_PORT, NATS_ROUTE_PORT } from './nats-config.js';
import { RAFT_PORT, clusterFile, derivePassword, natsUrls, type ClusterFile } from './plan.js';
import { HostProgress } from './progress.js';
import { PREFLIGHT_SCRIPT, checkFacts, parsePreflight, type HostFacts } from './preflight.js';
import { RemoteHost } from './remote-host.js';
import { parseSshConfig, type SshConfig } from './ssh-config.js';
import { SshSession, resolveTarget, type SshTarget } from './ssh.js';

export interface BootstrapOptions {
  inventoryFile: string;
  /** Overrides the inventory's sshConfig. */
  sshConfig?: string | undefined;
  acceptNewHostKeys: boolean;
  io: Io;
  /** Redraw progress lines in place (a terminal) or print each change as a line. */
  tty: boolean;
  env?: NodeJS.ProcessEnv;
  readyTimeoutMs?: number;
  /** Print the outcome as JSON (hosts, nodes, seconds) instead of the table. */
  json?: boolean;
}

export interface LoadedInventory {
  inv: Inventory;
  ssh: SshConfig;
}

/** Reads and checks the inventory and the ssh config: any mistake stops here, before any connection. */
export async function loadInventory(file: string, sshConfigOverride?: string): Promise<LoadedInventory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ShoalError('no_file', `cannot read the inventory ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'check the path (see shoal cluster bootstrap --help for the format)');
  }
  const parsed = parseInventory(text, file);
  const inv = sshConfigOverride === undefined ? parsed : { ...parsed, sshConfig: sshConfigOverride };
  const sshPath = inv.sshConfig ?? join(homedir(), '.ssh', 'config');
  let sshText = '';
  try {
    sshText = await readFile(sshPath, 'utf8');
  } catch (err) {
    if (inv.sshConfig !== undefined) throw new ShoalError('no_file', `cannot read the ssh config ${sshPath}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, 'fix sshConfig in the inventory');
  }
  const readInclude = (p: string): string | undefined => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  };
  return { inv, ssh: parseSshConfig(sshText, readInclude) };
}

export function targetOf(l: LoadedInventory, h: InventoryHost, env: NodeJS.ProcessEnv): SshTarget {
  return resolveTarget(h.name, h.address, h, l.inv.defaults, l.ssh, l.inv.knownHosts, env);
}

/** The address the cluster uses for a host: its advertise address, else where SSH reaches it. */
export function clusterAddress(l: LoadedInventory, h: InventoryHost, env: NodeJS.ProcessEnv): string {
  return h.advertise ?? targetOf(l, h, env).host;
}

export interface Connected {
  h: InventoryHost;
  host: RemoteHost;
  facts: HostFacts;
}

const reason = (err: unknown): string => (isShoalError(err) ? `${err.what}${err.todo ? ` — ${err.todo}` : ''}` : err instanceof Error ? err.message : String(err));

/** Connects to each host and runs preflight, in parallel; a host that fails is named, the others go on. */
export async function connectAndCheck(
  l: LoadedInventory,
  hosts: readonly InventoryHost[],
  o: { acceptNewHostKeys: boolean; env: NodeJS.ProcessEnv; progress: HostProgress; failures: Map<string, string>; checkPorts: boolean; strict?: boolean },
): Promise<Connected[]> {
  const results = await Promise.all(
    hosts.map(async (h): Promise<Connected | undefined> => {
      let ssh: SshSession | undefined;
      try {
        const target = targetOf(l, h, o.env);
        o.progress.step(h.name, `connecting to ${target.user}@${target.host}:${target.port}${target.jump ? ` via ${target.jump.label}` : ''}`);
        ssh = await SshSession.open(target, {
          acceptNewHostKeys: o.acceptNewHostKeys,
          onNewHostKey: (t, fp) => o.progress.note(`${h.name}: recorded the host key of ${t.host} (${fp}) in ${t.knownHostsFiles[0] ?? 'known_hosts'}`),
        });
        const host = new RemoteHost(h.name, ssh);
        o.progress.step(h.name, 'preflight');
        const sent = Date.now();
        const out = await host.must('preflight', PREFLIGHT_SCRIPT);
        const facts = parsePreflight(out, sent, Date.now());
        // ports held by Shoal's own daemons (a re-run) are fine; others' are not
        const ports = o.checkPorts && !facts.clusterFile && h.role === 'coordinator' ? [NATS_CLIENT_PORT, NATS_ROUTE_PORT, RAFT_PORT] : [];
        if (o.strict !== false) checkFacts(h.name, facts, ports);
        if (Math.abs(facts.clockSkewMs) > 2000) o.progress.note(`warning: ${h.name}'s clock is ${(facts.clockSkewMs / 1000).toFixed(1)} s off this machine's`);
        return { h, host, facts };
      } catch (err) {
        ssh?.close();
        o.failures.set(h.name, reason(err));
        o.progress.fail(h.name, reason(err));
        return undefined;
      }
    }),
  );
  return results.filter((r): r is Connected => r !== undefined);
}

const sameCoordinators = (a: ClusterFile, b: ClusterFile): boolean =>
  a.cluster === b.cluster && JSON.stringify(a.coordinators.map((c) => [c.name, c.address, c.id])) === JSON.stringify(b.coordinators.map((c) => [c.name, c.address, c.id]));

/**
 * The coordinator set is Raft's membership: bootstrap sets it once. Changing it later needs a
 * membership change (coordinator --join), which this command does not do, so it refuses.
 */
export function checkCoordinatorSet(wanted: ClusterFile, connected: readonly Connected[]): void {
  for (const c of connected) {
    const running = c.facts.clusterFile;
    if (!running || sameCoordinators(running, wanted)) continue;
    const list = (cf: ClusterFile): string => cf.coordinators.map((x) => `${x.name} (${x.address})`).join(', ');
    if (running.cluster !== wanted.cluster) {
      throw new ShoalError('other_cluster', `${c.h.name} already belongs to cluster ${running.cluster}, not ${wanted.cluster}`, `remove it from that cluster first (shoal cluster remove-host), or fix the inventory's cluster name; nothing was changed`);
    }
    throw new ShoalError(
      'coordinators_differ',
      `the cluster runs with coordinators ${list(running)} (as ${c.h.name} says), but the inventory has ${list(wanted)}`,
      'changing the coordinator set needs a Raft membership change, which bootstrap does not do: keep the coordinators as they run; nothing was changed',
    );
  }
}

/** The cluster's secret: the coordinators' copy wins (it is what runs), then this machine's, else a new one. */
export async function settleSecret(cluster: string, connected: readonly Connected[], env: NodeJS.ProcessEnv): Promise<string> {
  const remote = connected.find((c) => c.facts.secret)?.facts.secret;
  const local = await loadLocalSecret(cluster, env);
  const installed = connected.some((c) => c.facts.clusterFile);
  let secret = remote ?? local;
  if (!secret) {
    if (installed) {
      throw new ShoalError('no_secret', `cluster ${cluster} is installed, but its secret is neither on this machine nor on a reachable coordinator`, 'run again when a coordinator host answers, or from the machine that bootstrapped it');
    }
    secret = newSecret();
  }
  if (secret !== local) await saveLocalSecret(cluster, secret, env);
  return secret;
}

function localNatsServer(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'PATH=$PATH:/usr/sbin:/usr/local/sbin command -v nats-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export interface NodeRow {
  id: string;
  hostname: string;
  address: string;
  role: string;
  availability: string;
  state: string;
}

export function adminTarget(cf: ClusterFile, secret: string): ClusterTarget {
  return { natsUrl: natsUrls(cf).join(','), cluster: cf.cluster, user: 'admin', password: derivePassword(secret, 'admin') };
}

/** Polls node.ls until every node named is ready; returns the last list and those still not ready. */
async function waitReady(target: ClusterTarget, names: readonly string[], timeoutMs: number, onWait: (missing: string[]) => void): Promise<{ rows: NodeRow[]; missing: string[] }> {
  const deadline = Date.now() + timeoutMs;
  let rows: NodeRow[] = [];
  let missing = [...names];
  let client: ApiClient | undefined;
  try {
    while (Date.now() < deadline) {
      try {
        client ??= await ApiClient.open(target);
        rows = (await client.call('node.ls', {}, 5000)) as NodeRow[];
        missing = names.filter((n) => !rows.some((r) => r.id === n && r.state === 'ready'));
        if (missing.length === 0) break;
      } catch {
        // NATS or the coordinator are still starting, or electing a leader
      }
      onWait(missing);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await client?.close().catch(() => undefined);
  }
  return { rows, missing };
}

export function statusTable(rows: readonly NodeRow[], inv: Inventory): string {
  const roleOf = (id: string): string => inv.hosts.find((h) => h.name === id)?.role ?? '-';
  return table(
    ['node', 'hostname', 'address', 'role', 'status', 'availability'],
    [...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => [r.id, r.hostname, r.address, roleOf(r.id), r.state, r.availability]),
  );
}

/**
 * `shoal cluster bootstrap` (and `add-host`, which is the same on fewer hosts): connect and
 * check every host, settle what spans hosts (coordinator set, secret), install on each host in
 * parallel, wait for the agents, print the cluster and save its context. Returns the exit code.
 */
export async function bootstrapCluster(o: BootstrapOptions & { only?: string }): Promise<number> {
  const t0 = Date.now();
  const env = o.env ?? process.env;
  const l = await loadInventory(o.inventoryFile, o.sshConfig);
  const { inv } = l;
  let scope = inv.hosts;
  if (o.only !== undefined) {
    const h = inv.hosts.find((x) => x.name === o.only);
    if (!h) throw new ShoalError('no_such_host', `${o.only} is not in ${o.inventoryFile}`, `add it under hosts: (role: worker), then run shoal cluster add-host ${o.only} again`);
    if (h.role === 'coordinator') throw new ShoalError('add_coordinator', `${o.only} is a coordinator in the inventory`, 'adding a coordinator needs a Raft membership change, which is not supported yet: add it as a worker');
    // the coordinators too: their NATS servers must learn the new agent's user
    scope = inv.hosts.filter((x) => x.name === o.only || x.role === 'coordinator');
  }
  const bundleP: Promise<Bundle> = buildBundle();
  bundleP.catch(() => undefined);
  const progress = new HostProgress(o.io, o.tty, scope.map((h) => h.name));
  const failures = new Map<string, string>();
  const sessions: Connected[] = [];
  try {
    const connected = await connectAndCheck(l, scope, { acceptNewHostKeys: o.acceptNewHostKeys, env, progress, failures, checkPorts: true });
    sessions.push(...connected);
    const cf = clusterFile(inv, (h) => clusterAddress(l, h, env));
    try {
      checkCoordinatorSet(cf, connected);
      if (o.only !== undefined && !connected.some((c) => c.facts.clusterFile) && !(await loadLocalSecret(inv.cluster, env))) {
        throw new ShoalError('no_cluster', `cluster ${inv.cluster} is not bootstrapped yet (no coordinator of it answered)`, 'run shoal cluster bootstrap first');
      }
    } catch (err) {
      for (const c of connected) progress.fail(c.h.name, 'nothing changed');
      throw err;
    }
    const secret = await settleSecret(inv.cluster, connected, env);
    const natsLocal = localNatsServer();
    let bundle: Bundle;
    try {
      bundle = await bundleP;
    } catch (err) {
      for (const c of connected) progress.fail(c.h.name, 'nothing changed');
      throw err;
    }

    const installed: string[] = [];
    const summaries = new Map<string, string>();
    await Promise.all(
      connected.map(async (c) => {
        try {
          const r = await installHost(c.host, c.h, c.facts, { inv, cluster: cf, secret, bundle, localNatsServer: natsLocal, step: (t) => progress.step(c.h.name, t) });
          summaries.set(c.h.name, r.summary);
          installed.push(c.h.name);
          progress.step(c.h.name, `${r.summary}; waiting for the agent to be ready`);
        } catch (err) {
          failures.set(c.h.name, reason(err));
          progress.fail(c.h.name, reason(err));
        }
      }),
    );

    const target = adminTarget(cf, secret);
    let rows: NodeRow[] = [];
    if (installed.length > 0) {
      const waited = await waitReady(target, installed, o.readyTimeoutMs ?? 120_000, () => undefined);
      rows = waited.rows;
      for (const name of installed) {
        if (waited.missing.includes(name)) {
          const why = `its agent did not report ready within ${Math.round((o.readyTimeoutMs ?? 120_000) / 1000)} s — see ${'/var/lib/shoal/log/agent.log'} on the host${cf.coordinators.some((x) => failures.has(x.name)) ? ' (a coordinator host failed too)' : ''}`;
          failures.set(name, why);
          progress.fail(name, why);
        } else {
          progress.done(name, summaries.get(name) ?? 'done');
        }
      }
    }
    progress.stop();
    if (rows.length > 0) {
      await saveContext({ name: inv.cluster, cluster: inv.cluster, nats: natsUrls(cf), user: target.user ?? 'admin', password: target.password ?? '' }, { path: configPath(env) });
      if (!o.json) {
        o.io.out('\n' + statusTable(rows, inv));
        o.io.out(`\ncontext ${inv.cluster} saved in ${configPath(env)}: shoal commands now talk to this cluster\n`);
      }
    }
    if (failures.size > 0) {
      o.io.err(`\nerror: ${failures.size} of ${scope.length} hosts failed — fix them and run the same command again: it resumes where it stopped\n`);
      for (const [name, why] of failures) o.io.err(`  ${name}: ${why}\n`);
    }
    const seconds = Math.round((Date.now() - t0) / 100) / 10;
    if (o.json) {
      const hosts = scope.map((h) => {
        const why = failures.get(h.name);
        const summary = summaries.get(h.name);
        return { name: h.name, role: h.role, result: why !== undefined ? 'failed' : summary === 'unchanged' ? 'unchanged' : 'changed', ...(why !== undefined ? { error: why } : { summary }) };
      });
      o.io.out(JSON.stringify({ cluster: inv.cluster, hosts, nodes: rows, context: rows.length > 0 ? inv.cluster : null, seconds }, null, 2) + '\n');
    } else {
      o.io.out(`Finished in ${seconds.toFixed(1)} s\n`);
    }
    return failures.size > 0 ? EXIT_FAILED : EXIT_OK;
  } finally {
    progress.stop();
    for (const c of sessions) c.host.ssh.close();
  }
}
