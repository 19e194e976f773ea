import { isTerminalTaskState, type HostLoad, type Service, type Task } from '@shoal/core';
import type { Store } from '../store/store.js';
import type { NodeLiveness } from '../dispatcher/dispatcher.js';

export interface NodeStatusRow {
  id: string;
  hostname: string;
  status: string;
  role: string;
  availability: string;
  /** Whether the leading coordinator runs on this host. */
  leader: boolean;
  /** Absent: the leader has no session with it (down, or not heard from since it took the lead). */
  heartbeatAgeMs?: number;
  tasks: { running: number; desired: number };
  load?: HostLoad;
}

export interface ServiceStatusRow {
  id: string;
  name: string;
  stack?: string;
  mode: string;
  running: number;
  desired: number;
  updating: boolean;
  updateState?: string;
  lastError?: string;
}

export interface ClusterStatus {
  index: number;
  leader?: string;
  nodes: NodeStatusRow[];
  services: ServiceStatusRow[];
}

const wanted = (t: Task): boolean => t.desiredState === 'running' && !isTerminalTaskState(t.status.state);
const runs = (t: Task): boolean => t.desiredState === 'running' && t.status.state === 'running';

/** The most recent failure of any of the service's tasks, in the agent's words. */
function lastError(tasks: readonly Task[]): string | undefined {
  const failures = tasks.filter((t) => t.status.err !== undefined || t.status.state === 'failed' || t.status.state === 'rejected');
  const last = failures.sort((a, b) => (a.status.at < b.status.at ? 1 : a.status.at > b.status.at ? -1 : 0))[0];
  return last ? (last.status.err ?? last.status.message) : undefined;
}

function serviceRow(store: Store, s: Service): ServiceStatusRow {
  const tasks = store.tasksOfService(s.id);
  const state = s.updateStatus?.state;
  const err = lastError(tasks);
  return {
    id: s.id,
    name: s.spec.name,
    ...(s.stack !== undefined ? { stack: s.stack } : {}),
    mode: s.spec.mode.kind,
    running: tasks.filter(runs).length,
    desired: s.spec.mode.kind === 'replicated' ? s.spec.mode.replicas : tasks.filter(wanted).length,
    updating: state === 'updating' || state === 'rollback_started',
    ...(state !== undefined ? { updateState: state } : {}),
    ...(err !== undefined ? { lastError: err } : {}),
  };
}

/** What `shoal watch` shows: the store, plus what only the leader holds in memory. */
export function clusterStatus(store: Store, liveness: ReadonlyMap<string, NodeLiveness>, leaderHost: string | undefined): ClusterStatus {
  const nodes = store.list('node').map((n): NodeStatusRow => {
    const tasks = store.tasksOnNode(n.id);
    const live = liveness.get(n.id);
    return {
      id: n.id,
      hostname: n.hostname,
      status: n.status.state,
      role: n.spec.role,
      availability: n.spec.availability,
      leader: leaderHost !== undefined && n.hostname === leaderHost,
      ...(live && n.status.state === 'ready' ? { heartbeatAgeMs: live.heartbeatAgeMs } : {}),
      tasks: { running: tasks.filter(runs).length, desired: tasks.filter(wanted).length },
      ...(live?.load ? { load: live.load } : {}),
    };
  });
  return { index: store.index, ...(leaderHost !== undefined ? { leader: leaderHost } : {}), nodes, services: store.list('service').map((s) => serviceRow(store, s)) };
}
