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

/** One coordinator as the leader's Raft sees it (Docker's MANAGER STATUS), and as it reports itself. */
export interface MemberRow {
  id: number;
  name: string;
  /** voter: counts for a majority; standby: a Raft learner. */
  role: 'voter' | 'standby';
  /** The leader itself, or whether the leader heard from it within the last one or two election timeouts. */
  reachability: 'leader' | 'reachable' | 'unreachable';
  /** The last Raft index the leader knows the member holds. */
  match: number;
  /** What the member reports of itself, when asked (`cluster status`) and it answered within a second. */
  term?: number;
  commit?: number;
  applied?: number;
}

/** The leader's Raft, as far as `cluster status` and `node ls` show it. */
export interface RaftView {
  term: number;
  members: MemberRow[];
}

export interface ClusterStatus {
  index: number;
  leader?: string;
  /** Absent on a coordinator that is not leading (it cannot say who is reachable). */
  term?: number;
  members?: MemberRow[];
  nodes: NodeStatusRow[];
  services: ServiceStatusRow[];
}

/** The leader's Raft status (voters, standbys, progress) as member rows; names from the member directory. */
export function memberRows(raft: { leader: number; conf: { voters: readonly number[]; learners: readonly number[] }; progress: readonly { id: number; match: number; active: boolean }[] }, name: (id: number) => string): MemberRow[] {
  const progress = new Map(raft.progress.map((p) => [p.id, p]));
  const row = (id: number, role: MemberRow['role']): MemberRow => {
    const p = progress.get(id);
    return { id, name: name(id), role, reachability: id === raft.leader ? 'leader' : p?.active ? 'reachable' : 'unreachable', match: p?.match ?? 0 };
  };
  return [...[...raft.conf.voters].map((id) => row(id, 'voter')), ...[...raft.conf.learners].map((id) => row(id, 'standby'))].sort((a, b) => a.id - b.id);
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
export function clusterStatus(store: Store, liveness: ReadonlyMap<string, NodeLiveness>, leaderHost: string | undefined, raft?: RaftView): ClusterStatus {
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
  return {
    index: store.index,
    ...(leaderHost !== undefined ? { leader: leaderHost } : {}),
    ...(raft ? { term: raft.term, members: raft.members } : {}),
    nodes,
    services: store.list('service').map((s) => serviceRow(store, s)),
  };
}
