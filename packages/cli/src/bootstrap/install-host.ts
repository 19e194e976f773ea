import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Bundle } from './bundle.js';
import type { Inventory, InventoryHost } from './inventory.js';
import { REMOTE, planHost, serviceChange, sha256, type ClusterFile, type FilePlan, type ServiceSpec } from './plan.js';
import type { HostFacts } from './preflight.js';
import { shq, type RemoteHost } from './remote-host.js';
import { reloadScript, startScript, statusScript, stopScript, systemdFiles, type ServiceManager } from './services.js';

export interface InstallInputs {
  inv: Inventory;
  cluster: ClusterFile;
  secret: string;
  bundle: Bundle;
  /** nats-server of this machine, uploaded to coordinator hosts that lack one. */
  localNatsServer: string | undefined;
  step: (text: string) => void;
}

export interface InstallResult {
  changed: boolean;
  summary: string;
}

const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

/**
 * Brings one host to its plan, touching only what differs: the bundle when its hash differs,
 * each file whose hash differs, and each daemon whose spec changed (restart), whose re-readable
 * inputs changed (reload) or that does not run (start).
 */
export async function installHost(host: RemoteHost, h: InventoryHost, facts: HostFacts, x: InstallInputs): Promise<InstallResult> {
  const done: string[] = [];
  const bundlePath = `${REMOTE.bundleDir}/shoal-${x.bundle.hash.slice(0, 16)}.mjs`;
  const natsUploaded = `${REMOTE.binDir}/nats-server`;
  const isCoordinator = x.cluster.coordinators.some((c) => c.name === h.name);
  let natsServerPath = facts.natsServerPath;

  x.step('checking what differs');
  const probe = await host.hashes([bundlePath, ...(isCoordinator && !natsServerPath ? [natsUploaded] : [])]);
  if (probe.get(bundlePath) !== x.bundle.hash) {
    x.step(`uploading Shoal (${mb(x.bundle.size)})`);
    await host.writeFile(bundlePath, await readFile(x.bundle.file), 0o644, x.bundle.hash);
    done.push('Shoal uploaded');
  }
  if (isCoordinator && !natsServerPath) {
    if (!x.localNatsServer) throw new Error(`nats-server is not installed on ${h.name}, nor on this machine to upload — install it on the host (apt-get install nats-server)`);
    const data = await readFile(x.localNatsServer);
    const hash = sha256(data);
    if (probe.get(natsUploaded) !== hash) {
      x.step(`uploading nats-server (${mb(data.length)})`);
      await host.writeFile(natsUploaded, data, 0o755, hash);
      done.push('nats-server uploaded');
    }
    natsServerPath = natsUploaded;
  }

  const plan = planHost(x.inv, h, { secret: x.secret, bundlePath, nodePath: facts.nodePath ?? 'node', natsServerPath: natsServerPath ?? 'nats-server', cluster: x.cluster });
  const manager: ServiceManager = facts.systemd ? 'systemd' : 'supervisor';
  const files: FilePlan[] = [...plan.files, ...(manager === 'systemd' ? plan.services.flatMap(systemdFiles) : [])];
  const have = await host.hashes(files.map((f) => f.path));
  const changedFiles = files.filter((f) => have.get(f.path) !== sha256(f.content));

  // the specs the host runs now, to tell a reload from a restart
  const before = new Map<string, ServiceSpec>();
  const specPath = (s: ServiceSpec): string => `${REMOTE.services}/${s.name}.json`;
  const oldSpecs = plan.services.filter((s) => changedFiles.some((f) => f.path === specPath(s)) && have.has(specPath(s)));
  if (oldSpecs.length > 0) {
    const out = await host.must('reading the current services', oldSpecs.map((s) => `echo "${s.name} $(base64 -w0 ${shq(specPath(s))})"`).join('\n'));
    for (const line of out.split('\n')) {
      const [name, b64] = line.trim().split(' ');
      if (!name || !b64) continue;
      try {
        before.set(name, JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as ServiceSpec);
      } catch {
        // an unreadable spec means a restart
      }
    }
  }
  if (changedFiles.length > 0) {
    x.step(`writing ${changedFiles.length} config file${changedFiles.length > 1 ? 's' : ''}`);
    await host.writeFiles(changedFiles.map((f) => ({ ...f, hash: sha256(f.content) })));
    done.push(`${changedFiles.length} file${changedFiles.length > 1 ? 's' : ''} written`);
  }

  // one round trip for every daemon's state, one line each
  const states = (await host.must('checking the daemons', plan.services.map((s) => statusScript(manager, s.name)).join('\n'))).trim().split('\n');
  for (const [i, s] of plan.services.entries()) {
    const running = states[i]?.startsWith('running') === true;
    const specChanged = changedFiles.some((f) => f.path === specPath(s));
    const current = specChanged ? before.get(s.name) : s;
    const change = serviceChange(current, s, running);
    if (change === 'unchanged') continue;
    if (change === 'reload') {
      x.step(`reloading ${s.name}`);
      await host.must(`reloading ${s.name}`, reloadScript(manager, s.name));
      done.push(`${s.name} reloaded`);
      continue;
    }
    x.step(`${change === 'start' ? 'starting' : 'restarting'} ${s.name}`);
    // a stale supervisor pid file (a crashed host) is cleared by the stop, so both go together
    const stop = change === 'restart' || manager === 'supervisor' ? `${stopScript(manager, s.name)}\n` : '';
    await host.must(`${change === 'start' ? 'starting' : 'restarting'} ${s.name}`, stop + startScript(manager, s, facts.nodePath ?? 'node', bundlePath));
    done.push(`${s.name} ${change === 'start' ? 'started' : 'restarted'}`);
  }
  // earlier bundles are no longer run by anything here
  await host.sh(`find ${REMOTE.bundleDir} -maxdepth 1 -name 'shoal-*.mjs*' ! -name ${shq(basename(bundlePath))} -delete 2>/dev/null; true`);
  return { changed: done.length > 0, summary: done.length > 0 ? done.join(', ') : 'unchanged' };
}
