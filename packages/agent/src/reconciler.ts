import { ShoalError, type AssignmentSet, type NetworkAssignment, type TaskAssignment, type TaskReport, type TaskState } from '@shoal/core';
import type { DnsTable, NameRecord, DnsClient } from './dns/table.js';
import type { DockerExecutor, TaskContainer } from './executor/docker.js';
import type { OverlayDriver } from './overlay/vxlan.js';

export interface ReconcilerOptions {
  executor: DockerExecutor;
  overlay: OverlayDriver;
  dns: DnsTable;
  /** This host's underlay address: peers at it are local, not remote. */
  nodeAddress: string;
  /** The resolver's address, written into overlay tasks' resolv.conf. */
  nameserver: string;
  now?: () => Date;
}

function plainAddress(withPrefix: string): string {
  return withPrefix.split('/')[0] ?? withPrefix;
}

/** Overlay interfaces follow the gateway bridge's eth0, in the order of the task's attachments. */
function ifnameFor(index: number): string {
  return `eth${index + 1}`;
}

/**
 * Converges this host to an assignment set: containers, overlay wiring, DNS. It holds no
 * authority: it does what the set says, reports what it sees, and on a restart adopts the
 * containers it already runs instead of starting twins. Safe to call again at any time.
 */
export class Reconciler {
  readonly #now: () => Date;

  constructor(private readonly o: ReconcilerOptions) {
    this.#now = o.now ?? (() => new Date());
  }

  private report(taskId: string, state: TaskState, message: string, extra: Partial<TaskReport> = {}): TaskReport {
    return { taskId, state, message, at: this.#now().toISOString(), ...extra };
  }

  async converge(set: AssignmentSet): Promise<TaskReport[]> {
    const reports: TaskReport[] = [];
    const wanted = new Map(Object.values(set.tasks).filter((t) => t.desiredState === 'running').map((t) => [t.taskId, t]));

    // What runs now, by task; a second container for one task is a bug's trace: remove it.
    const byTask = new Map<string, TaskContainer>();
    for (const c of await this.o.executor.list()) {
      const seen = byTask.get(c.taskId);
      if (!seen) {
        byTask.set(c.taskId, c);
        continue;
      }
      const [keep, drop] = seen.running || !c.running ? [seen, c] : [c, seen];
      await this.o.executor.remove(drop.id);
      byTask.set(c.taskId, keep);
    }

    for (const [taskId, c] of byTask) {
      if (wanted.has(taskId)) continue;
      await this.o.executor.stop(c.id);
      await this.o.executor.remove(c.id);
      byTask.delete(taskId);
      reports.push(this.report(taskId, 'shutdown', 'stopped: no longer assigned to this node', { containerId: c.id }));
    }

    const overlays = await this.convergeNetworks(set, wanted);

    for (const task of wanted.values()) {
      try {
        const report = await this.convergeTask(task, byTask.get(task.taskId), overlays);
        if (report) reports.push(report);
      } catch (err) {
        const message = err instanceof ShoalError ? err.message : `could not run the task: ${err instanceof Error ? err.message : String(err)}`;
        reports.push(this.report(task.taskId, 'rejected', message, { err: message }));
      }
    }

    await this.refreshDns(set, wanted);
    return reports;
  }

  /** Sandboxes for the overlays local tasks use, exact remote entries, and none left over. */
  private async convergeNetworks(set: AssignmentSet, wanted: Map<string, TaskAssignment>): Promise<Map<string, NetworkAssignment>> {
    const used = new Set([...wanted.values()].flatMap((t) => t.attachments.map((a) => a.networkId)));
    const overlays = new Map<string, NetworkAssignment>();
    for (const n of Object.values(set.networks)) {
      if (n.driver === 'overlay' && n.vni !== undefined && used.has(n.networkId)) overlays.set(n.networkId, n);
    }
    for (const n of overlays.values()) {
      const vni = n.vni ?? 0;
      await this.o.overlay.ensureNetwork({ vni, subnet: n.subnet, gateway: n.gateway });
      const remotes = n.peers
        .filter((p) => p.underlay !== this.o.nodeAddress)
        .flatMap((p) => p.endpoints.map((e) => ({ address: e.address, host: p.underlay })));
      await this.o.overlay.setRemotes(vni, remotes);
    }
    const keep = new Set([...overlays.values()].map((n) => n.vni));
    for (const vni of await this.o.overlay.sandboxes()) {
      if (!keep.has(vni)) await this.o.overlay.removeNetwork(vni);
    }
    return overlays;
  }

  private async convergeTask(task: TaskAssignment, existing: TaskContainer | undefined, overlays: Map<string, NetworkAssignment>): Promise<TaskReport | undefined> {
    let c = existing;
    if (c && !c.running) {
      // Exited: report it and leave the restart to the orchestrator (a new task, a new container).
      const state: TaskState = c.exitCode === 0 ? 'complete' : 'failed';
      return this.report(task.taskId, state, `container exited with code ${c.exitCode}`, { containerId: c.id, exitCode: c.exitCode });
    }
    let started = false;
    if (!c) {
      for (const a of task.attachments) {
        if (!overlays.has(a.networkId)) {
          throw new ShoalError('network_unsupported', `network ${a.networkId} of task ${task.taskId} is not an overlay this agent can wire yet`);
        }
      }
      await this.o.executor.ensureImage(task.container.image);
      const id = await this.o.executor.create(task, task.attachments.length > 0 ? { nameserver: this.o.nameserver } : undefined);
      await this.o.executor.start(id);
      c = await this.o.executor.inspect(id);
      if (!c) throw new Error(`container ${id} vanished right after it started`);
      started = true;
    }
    for (const [i, a] of task.attachments.entries()) {
      const n = overlays.get(a.networkId);
      if (!n || !c.running) continue;
      const ifname = ifnameFor(i);
      if (await this.o.overlay.isAttached(c.pid, ifname)) continue;
      await this.o.overlay.attach({ vni: n.vni ?? 0, subnet: n.subnet, gateway: n.gateway }, { id: `${task.taskId}.${a.networkId}`, address: plainAddress(a.address), pid: c.pid, ifname });
    }
    return started || !existing ? this.report(task.taskId, 'running', 'started', { containerId: c.id }) : undefined;
  }

  /** The resolver's table, rebuilt whole from the set: no stale name survives an assignment. */
  private async refreshDns(set: AssignmentSet, wanted: Map<string, TaskAssignment>): Promise<void> {
    const records: NameRecord[] = [];
    for (const n of Object.values(set.networks)) {
      for (const r of n.dns) records.push({ network: n.networkId, name: r.name, addresses: r.addresses });
    }
    const clients: DnsClient[] = [];
    for (const c of await this.o.executor.list()) {
      const task = wanted.get(c.taskId);
      if (task && c.gwAddress) clients.push({ address: c.gwAddress, networks: task.attachments.map((a) => a.networkId) });
    }
    this.o.dns.replace(records, clients);
  }
}
