import { ShoalError, type AssignmentSet, type NetworkAssignment, type TaskAssignment, type TaskReport, type TaskState } from '@shoal/core';
import type { DnsTable, NameRecord, DnsClient } from './dns/table.js';
import type { ContainerNetworks, DockerExecutor, TaskContainer } from './executor/docker.js';
import type { EgressDriver } from './executor/egress.js';
import type { VipProgrammer } from './overlay/vip.js';
import type { OverlayDriver } from './overlay/vxlan.js';

export interface ReconcilerOptions {
  executor: DockerExecutor;
  overlay: OverlayDriver;
  vips: VipProgrammer;
  dns: DnsTable;
  /** Plugs tasks that publish no ports into the gateway bridge without Docker's networking. */
  egress?: EgressDriver;
  /** This host's underlay address: peers at it are local, not remote. */
  nodeAddress: string;
  /** The resolver's address, written into overlay tasks' resolv.conf. */
  nameserver: string;
  now?: () => Date;
  /** Hears how long each new task's steps took (create, start, inspect, attach). */
  trace?: (msg: string, fields: Record<string, unknown>) => void;
}

const LOCAL_DRIVERS: ReadonlySet<string> = new Set(['bridge', 'macvlan', 'ipvlan']);

interface Networks {
  overlays: Map<string, NetworkAssignment>;
  locals: Map<string, NetworkAssignment>;
  /** Local networks this host could not make, and why. */
  failed: Map<string, ShoalError>;
}

/**
 * How many tasks a converge starts at once. Most of a start is waiting on dockerd, containerd
 * and the kernel (measured on 2 shared cores: 8 starts at once took 1.1-2 s, one by one 4-8 s), and
 * a second round behind the first costs a whole start more; each task is reported the moment it
 * runs, so the first ones are not held back by the rest.
 */
const TASK_CONCURRENCY = 16;

/**
 * The order tasks start in: one of each service in turn, so a service's single replica does not
 * wait behind another service's dozens on the same host.
 */
export function interleaveByService(tasks: readonly TaskAssignment[]): TaskAssignment[] {
  const queues = new Map<string, TaskAssignment[]>();
  for (const t of tasks) {
    const q = queues.get(t.serviceId);
    if (q) q.push(t);
    else queues.set(t.serviceId, [t]);
  }
  const out: TaskAssignment[] = [];
  for (let i = 0; out.length < tasks.length; i++) {
    for (const q of queues.values()) {
      const t = q[i];
      if (t) out.push(t);
    }
  }
  return out;
}

/** Runs fn over items, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** What a person can do about the start failures Docker reports in its own words. */
function startAdvice(detail: string): string | undefined {
  if (/ipvlan/.test(detail) && /not supported/.test(detail)) return "this host's kernel has no ipvlan support (CONFIG_IPVLAN): use macvlan or an overlay, or a kernel with ipvlan";
  if (/port is already allocated|address already in use/.test(detail)) return 'publish another port, or place the task on another host';
  return undefined;
}

function plainAddress(withPrefix: string): string {
  return withPrefix.split('/')[0] ?? withPrefix;
}

/** A new overlay interface takes the first ethN (N ≥ 1: eth0 is the gateway bridge's) the container does not use. */
function freeIfname(taken: Set<string>): string {
  let n = 1;
  while (taken.has(`eth${n}`)) n++;
  return `eth${n}`;
}

/**
 * Converges this host to an assignment set: containers, overlay wiring, DNS. It holds no
 * authority: it does what the set says, reports what it sees, and on a restart adopts the
 * containers it already runs instead of starting twins. Safe to call again at any time.
 */
export class Reconciler {
  readonly #now: () => Date;
  /**
   * Tasks this host refused, by task id and spec version: a rejection is final for that task (the
   * orchestrator makes a new one), so it is not retried on every converge.
   */
  readonly #rejected = new Map<string, { specVersion: number; report: TaskReport }>();
  /**
   * Containers this agent stopped because their healthcheck failed: their exit (often 0, to a
   * polite SIGTERM) must not turn the task's "failed" into "complete".
   */
  readonly #unhealthy = new Map<string, TaskReport>();
  /** Reports of containers that ended, by container id (exitReport). */
  readonly #exits = new Map<string, TaskReport>();
  /**
   * Per container, the overlay networks it was last seen or made to hold: a pass whose wanted
   * networks match asks the kernel nothing; a change (a connect or disconnect), or a container
   * this agent has not looked into yet (after a restart), is read from its namespace.
   */
  readonly #plugged = new Map<string, string>();
  /** Who may ask the resolver (by source address), as of the last look at the containers. */
  #clients = new Map<string, DnsClient>();
  #records: NameRecord[] = [];
  /** Containers this reconciler is starting, whose own start event is no news to it. */
  readonly #starting = new Set<string>();
  #running = 0;

  constructor(private readonly o: ReconcilerOptions) {
    this.#now = o.now ?? (() => new Date());
  }

  /**
   * An ended container's report, as Swarm words it: `task: non-zero exit (3): <its last line>`.
   * Kept per container, so a converge pass reads its logs once, not on every pass.
   */
  private async exitReport(taskId: string, c: TaskContainer): Promise<TaskReport> {
    const kept = this.#exits.get(c.id);
    if (kept) return { ...kept, at: this.#now().toISOString() };
    let report: TaskReport;
    if (c.exitCode === 0) {
      report = this.report(taskId, 'complete', 'task: exited (0)', { containerId: c.id, exitCode: 0 });
    } else {
      const last = await this.o.executor.lastLogLine(c.id);
      const message = `task: non-zero exit (${c.exitCode})${last ? `: ${last}` : ''}`;
      report = this.report(taskId, 'failed', message, { containerId: c.id, exitCode: c.exitCode, err: message });
    }
    this.#exits.set(c.id, report);
    return report;
  }

  /** Task containers running as of the last converge pass: a heartbeat's count, with no Docker call of its own. */
  get runningContainers(): number {
    return this.#running;
  }

  private report(taskId: string, state: TaskState, message: string, extra: Partial<TaskReport> = {}): TaskReport {
    return { taskId, state, message, at: this.#now().toISOString(), ...extra };
  }

  /**
   * Converges the host to the set and returns every task's report; `onReport` hears each task's
   * report as soon as it is known, so a task that runs is announced without waiting for the rest.
   */
  async converge(set: AssignmentSet, onReport?: (report: TaskReport) => void): Promise<TaskReport[]> {
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

    // addresses the host's containers hold, adopted ones included, are not handed out again
    this.o.egress?.seen([...byTask.values()].flatMap((c) => (c.egress !== undefined ? [c.egress] : [])));
    const present = new Set([...byTask.values()].map((c) => c.id));
    for (const id of this.#unhealthy.keys()) if (!present.has(id)) this.#unhealthy.delete(id);
    for (const id of this.#exits.keys()) if (!present.has(id)) this.#exits.delete(id);
    for (const id of this.#plugged.keys()) if (!present.has(id)) this.#plugged.delete(id);
    // several at a time, as starts are: a host back from a cut may hold dozens replaced meanwhile
    const unwanted = [...byTask].filter(([taskId]) => !wanted.has(taskId));
    await inParallel(unwanted, TASK_CONCURRENCY, async ([taskId, c]) => {
      await this.o.executor.stop(c.id);
      await this.o.executor.remove(c.id);
      byTask.delete(taskId);
      reports.push(this.report(taskId, 'shutdown', 'stopped: no longer assigned to this node', { containerId: c.id }));
    });

    const nets = await this.convergeNetworks(set, wanted);

    for (const id of this.#rejected.keys()) if (!wanted.has(id)) this.#rejected.delete(id);
    const one = async (task: TaskAssignment): Promise<void> => {
      const refused = this.#rejected.get(task.taskId);
      if (refused && refused.specVersion === task.specVersion && !byTask.has(task.taskId)) {
        reports.push(refused.report);
        return;
      }
      let report: TaskReport | undefined;
      try {
        report = await this.convergeTask(task, byTask.get(task.taskId), nets);
      } catch (err) {
        const message = err instanceof ShoalError ? err.message : `could not run the task: ${err instanceof Error ? err.message : String(err)}`;
        report = this.report(task.taskId, 'rejected', message, { err: message });
        this.#rejected.set(task.taskId, { specVersion: task.specVersion, report });
      }
      if (!report) return;
      reports.push(report);
      onReport?.(report);
    };
    // Docker makes containers faster several at a time than one by one (most of a start is
    // waiting); a task sharing another's network stack (container:NAME) comes after the rest.
    const all = interleaveByService([...wanted.values()]);
    await inParallel(all.filter((t) => t.networkMode?.kind !== 'container'), TASK_CONCURRENCY, one);
    for (const task of all.filter((t) => t.networkMode?.kind === 'container')) await one(task);

    // one look at Docker after the tasks converged serves both: each look is an inspect per container
    const now = await this.o.executor.list();
    this.#running = now.filter((c) => c.running).length;
    const ids = new Set(now.map((c) => c.id));
    for (const id of this.#starting) if (!ids.has(id)) this.#starting.delete(id);
    await this.refreshVips(set, wanted, now);
    this.refreshDns(set, wanted, now);
    return reports;
  }

  /**
   * Sandboxes for the overlays local tasks use, with exact remote entries; Docker networks for
   * the local drivers they use; and none of either left over. A network this host cannot make
   * fails only the tasks on it.
   */
  private async convergeNetworks(set: AssignmentSet, wanted: Map<string, TaskAssignment>): Promise<Networks> {
    const used = new Set([...wanted.values()].flatMap((t) => t.attachments.map((a) => a.networkId)));
    const nets: Networks = { overlays: new Map(), locals: new Map(), failed: new Map() };
    for (const n of Object.values(set.networks)) {
      if (!used.has(n.networkId)) continue;
      if (n.driver === 'overlay' && n.vni !== undefined) nets.overlays.set(n.networkId, n);
      else if (LOCAL_DRIVERS.has(n.driver)) nets.locals.set(n.networkId, n);
    }
    // checked when a network first comes to this host: one already serving tasks stays
    for (const n of [...nets.overlays.values()]) {
      if (await this.o.overlay.exists(n.vni ?? 0)) continue;
      const routed = await this.o.overlay.routeOverlapping(n.subnet);
      if (routed) {
        nets.overlays.delete(n.networkId);
        nets.failed.set(
          n.networkId,
          new ShoalError(
            'subnet_routed',
            `network ${n.name}'s subnet ${n.subnet} overlaps this host's route to ${routed.dst} (dev ${routed.dev}): its containers could not reach that part of the host's network`,
            'give the network a subnet this host does not route',
          ),
        );
      }
    }
    for (const n of nets.overlays.values()) {
      const vni = n.vni ?? 0;
      await this.o.overlay.ensureNetwork({ vni, subnet: n.subnet, gateway: n.gateway });
      const remotes = n.peers
        .filter((p) => p.underlay !== this.o.nodeAddress)
        .flatMap((p) => p.endpoints.map((e) => ({ address: e.address, host: p.underlay })));
      await this.o.overlay.setRemotes(vni, remotes);
    }
    const keep = new Set([...nets.overlays.values()].map((n) => n.vni));
    for (const vni of await this.o.overlay.sandboxes()) {
      if (!keep.has(vni)) await this.o.overlay.removeNetwork(vni);
    }
    // first the networks no task needs: a new one may reuse their subnet or parent
    for (const d of await this.o.executor.localNetworks()) {
      if (!nets.locals.has(d.networkId)) await this.o.executor.removeNetwork(d.name).catch(() => undefined);
    }
    for (const n of nets.locals.values()) {
      try {
        await this.o.executor.ensureLocalNetwork(n);
      } catch (err) {
        nets.failed.set(n.networkId, err instanceof ShoalError ? err : new ShoalError('network_create_failed', String(err)));
      }
    }
    return nets;
  }

  /** The Docker networks and resolver a new container of the task gets. */
  private plan(task: TaskAssignment, nets: Networks): ContainerNetworks {
    const local: ContainerNetworks['local'] = [];
    let overlay = false;
    let bridge = false;
    for (const a of task.attachments) {
      const failed = nets.failed.get(a.networkId);
      if (failed) throw failed;
      const n = nets.overlays.get(a.networkId) ?? nets.locals.get(a.networkId);
      if (!n) throw new ShoalError('network_unsupported', `task ${task.taskId} is on network ${a.networkId}, which its assignment does not describe`);
      if (n.driver === 'overlay') overlay = true;
      else local.push({ name: n.name, address: plainAddress(a.address), aliases: a.aliases });
      if (n.driver === 'bridge') bridge = true;
    }
    const gwbridge = overlay || local.length === 0;
    // macvlan and ipvlan containers cannot reach their own host: they keep Docker's resolver
    const reachesHost = gwbridge || bridge;
    return { gwbridge, local, nameserver: reachesHost && task.attachments.length > 0 ? this.o.nameserver : undefined };
  }

  private async convergeTask(task: TaskAssignment, existing: TaskContainer | undefined, nets: Networks): Promise<TaskReport | undefined> {
    let c = existing;
    if (c && !c.running) {
      const sick = this.#unhealthy.get(c.id);
      if (sick) return sick;
      // Exited: report it and leave the restart to the orchestrator (a new task, a new container).
      return this.exitReport(task.taskId, c);
    }
    const t0 = Date.now();
    const steps: Record<string, number> = {};
    const step = (name: string, since: number): number => {
      const t = Date.now();
      steps[name] = t - since;
      return t;
    };
    const fresh = !c;
    let egressDone: Promise<void> = Promise.resolve();
    if (!c) {
      const plan = this.plan(task, nets);
      // no published port and only overlays: the egress driver plugs it in, Docker need not
      const egress = this.o.egress && plan.gwbridge && plan.local.length === 0 && !task.networkMode && task.hostPorts.length === 0 ? this.o.egress : undefined;
      if (egress) plan.egress = egress.reserve();
      await this.o.executor.ensureImage(task.container.image);
      let id: string;
      try {
        id = await this.o.executor.create(task, plan);
      } catch (err) {
        if (plan.egress !== undefined) egress?.release(plan.egress);
        throw err;
      }
      let t = step('create', t0);
      this.#starting.add(id);
      try {
        await this.o.executor.start(id);
      } catch (err) {
        this.#starting.delete(id);
        // a container that cannot start (a port taken, say) must not linger as a twin-to-be
        await this.o.executor.remove(id);
        const detail = err instanceof Error ? err.message.replace(/^\(HTTP code \d+\)\s*[\w ]+\s*-\s*/, '').trim() : String(err);
        throw new ShoalError('start_failed', `container of task ${task.taskId} cannot start: ${detail}`, startAdvice(detail));
      }
      t = step('start', t);
      c = await this.o.executor.inspect(id);
      t = step('inspect', t);
      if (c?.egress !== undefined && egress) {
        // its way out and its overlays are separate interfaces: both are plugged at once
        const { pid, egress: address } = c;
        const since = t;
        egressDone = egress.attach(pid, id, address).then(() => void step('egress', since));
      }
      if (!c) throw new Error(`container ${id} vanished right after it started`);
      // a new network namespace has no rules: nothing to program until a VIP comes
      this.o.vips.fresh(c.pid);
      // it may ask the resolver as soon as it runs, before this pass ends
      this.addClients(task, c);
    }
    if (!fresh && c.running && c.egress !== undefined && this.o.egress && !(await this.o.egress.isAttached(c.pid))) {
      await this.o.egress.attach(c.pid, c.id, c.egress);
    }
    const t1 = Date.now();
    const overlays = c.running && !task.networkMode ? this.plugOverlays(task, c, nets, fresh) : Promise.resolve();
    const [out, over] = await Promise.allSettled([egressDone, overlays]);
    if (out.status === 'rejected' || over.status === 'rejected') {
      // A container that ended before or while it was wired: its exit is the cause, not the
      // kernel's complaint about a namespace that went away with it ("No such process").
      const now = await this.o.executor.inspect(c.id).catch(() => undefined);
      if (now && !now.running) return this.exitReport(task.taskId, now);
      // a task without its way out must not run as if it had one
      if (out.status === 'rejected') await this.o.executor.remove(c.id);
      throw out.status === 'rejected' ? out.reason : (over as PromiseRejectedResult).reason;
    }
    if (fresh) {
      step('attach', t1);
      this.o.trace?.('task started', { taskId: task.taskId, ms: Date.now() - t0, ...steps });
    }
    const ports = c.ports.length > 0 ? { ports: c.ports } : {};
    if (c.health === 'starting') return this.report(task.taskId, 'starting', 'waiting for the healthcheck to pass', { containerId: c.id, ...ports });
    if (c.health === 'unhealthy') {
      // Swarm's rule: an unhealthy task is ended and the orchestrator replaces it
      const why = `healthcheck failed${c.healthLog ? `: ${c.healthLog.split('\n').slice(-1)[0] ?? ''}` : ''}`;
      const report = this.report(task.taskId, 'failed', why, { containerId: c.id, err: why });
      this.#unhealthy.set(c.id, report);
      await this.o.executor.stop(c.id);
      return report;
    }
    // Reported every pass; the agent sends only what changed.
    return this.report(task.taskId, 'running', 'started', { containerId: c.id, ...ports });
  }

  /**
   * Makes the container's overlay interfaces exactly its overlay attachments, without restarting
   * it: an interface of a network the task left (`network disconnect`) is taken out, one it
   * joined is plugged in. Interfaces are known by the network attach wrote on them; one made
   * before that (no network on it) is kept if it holds an attachment's address.
   */
  private async plugOverlays(task: TaskAssignment, c: TaskContainer, nets: Networks, fresh: boolean): Promise<void> {
    const want = task.attachments.filter((a) => nets.overlays.has(a.networkId));
    const key = want.map((a) => `${a.networkId}=${a.address}`).join(',');
    if (this.#plugged.get(c.id) === key) return;
    // a container made just now has only what Docker (or the egress driver) gave it: eth0 on the
    // gateway bridge, then one ethN per local network, in the order Docker connected them
    const locals = task.attachments.filter((a) => nets.locals.has(a.networkId)).length;
    const seen = fresh ? { ifnames: ['lo', ...Array.from({ length: 1 + locals }, (_, i) => `eth${i}`)], overlays: [] } : await this.o.overlay.links(c.pid);
    const held = new Set<string>();
    const taken = new Set(seen.ifnames);
    for (const link of seen.overlays) {
      const a = want.find((w) => (link.networkId === undefined || w.networkId === link.networkId) && link.addresses.includes(plainAddress(w.address)));
      if (a && !held.has(a.networkId)) {
        held.add(a.networkId);
      } else if (link.networkId !== undefined) {
        await this.o.overlay.detach(c.pid, link.ifname);
        taken.delete(link.ifname);
      }
    }
    for (const a of want) {
      const n = nets.overlays.get(a.networkId);
      if (!n || held.has(a.networkId)) continue;
      const ifname = freeIfname(taken);
      taken.add(ifname);
      await this.o.overlay.attach(
        { vni: n.vni ?? 0, subnet: n.subnet, gateway: n.gateway },
        { id: `${task.taskId}.${a.networkId}`, address: plainAddress(a.address), pid: c.pid, ifname, networkId: a.networkId },
      );
    }
    this.#plugged.set(c.id, key);
  }

  /** Each running task gets the VIPs of the networks it is on; rules change as backends do. */
  private async refreshVips(set: AssignmentSet, wanted: Map<string, TaskAssignment>, containers: readonly TaskContainer[]): Promise<void> {
    const live = new Set<number>();
    for (const c of containers) {
      const task = wanted.get(c.taskId);
      if (!task || !c.running || task.networkMode) continue;
      live.add(c.pid);
      const vips = task.attachments.flatMap((a) => set.networks[a.networkId]?.vips ?? []);
      if (vips.length > 0 || task.attachments.some((a) => set.networks[a.networkId]?.driver === 'overlay')) {
        await this.o.vips.program(c.pid, vips);
      }
    }
    this.o.vips.retain(live);
    const running = new Set(containers.filter((c) => c.running).map((c) => c.pid));
    this.o.egress?.retain(running);
    this.o.egress?.seen(containers.flatMap((c) => (c.egress !== undefined ? [c.egress] : [])));
  }

  /**
   * Whether Docker's start event for this container is the echo of this reconciler's own start
   * (heard once): the pass that started it reports it, so no further pass is needed.
   */
  ownStart(containerId: string): boolean {
    return this.#starting.delete(containerId);
  }

  /**
   * The names of the set, answered at once: an assignment's names need no container work, so
   * they do not wait for a converge pass (a task that stopped serving leaves the answers now).
   */
  refreshNames(set: AssignmentSet): void {
    const records: NameRecord[] = [];
    for (const n of Object.values(set.networks)) {
      for (const r of n.dns) records.push({ network: n.networkId, name: r.name, addresses: r.addresses });
    }
    this.#records = records;
    this.o.dns.replace(records, [...this.#clients.values()]);
  }

  private addClients(task: TaskAssignment, c: TaskContainer): void {
    // the container asks from its gateway-bridge address, or from its bridge network's
    for (const address of Object.values(c.addresses)) {
      if (address) this.#clients.set(address, { address, networks: task.attachments.map((a) => a.networkId) });
    }
    this.o.dns.replace(this.#records, [...this.#clients.values()]);
  }

  /** The resolver's table, rebuilt whole from the set: no stale name survives an assignment. */
  private refreshDns(set: AssignmentSet, wanted: Map<string, TaskAssignment>, containers: readonly TaskContainer[]): void {
    const clients = new Map<string, DnsClient>();
    for (const c of containers) {
      const task = wanted.get(c.taskId);
      if (!task) continue;
      for (const address of Object.values(c.addresses)) {
        if (address) clients.set(address, { address, networks: task.attachments.map((a) => a.networkId) });
      }
    }
    this.#clients = clients;
    this.refreshNames(set);
  }
}
