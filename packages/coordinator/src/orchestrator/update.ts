import type { Service, Task, UpdateStatus } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import type { OrchestratorContext } from './context.js';
import { iso, newTask, slotKey } from './context.js';
import type { WorkingSet } from './working-set.js';

const failed = (t: Task): boolean => t.status.state === 'failed' || t.status.state === 'rejected';

/**
 * One step of a rolling update (or rollback): replace at most `parallelism` tasks still on an
 * older spec, each batch waiting until the new tasks run, have been watched for `monitorMs`,
 * and `delayMs` has passed. Failures of new tasks beyond `maxFailureRatio` pause, roll back or
 * are ignored as `failureAction` says. Progress lives in the service's `updateStatus`, so a new
 * leader carries on from the store. Tasks `replaceable` refuses (a global task on a paused node,
 * whose successor could not be placed there) wait for a later step. Returns when to look again.
 */
export function rollingUpdateStep(ws: WorkingSet, read: Service, specVersion: number, ctx: OrchestratorContext, replaceable: (task: Task) => boolean = () => true): number | undefined {
  const service = ws.service(read);
  const status = service.updateStatus;
  const rollingBack = status?.state.startsWith('rollback') ?? false;
  const config = rollingBack ? service.spec.rollback : service.spec.update;
  const mine = ws.tasks.filter((t) => t.serviceId === service.id);
  const wanted = mine.filter((t) => t.desiredState === 'running');
  const fresh = mine.filter((t) => t.specVersion >= specVersion);
  const freshSlots = new Set(wanted.filter((t) => t.specVersion >= specVersion).map(slotKey));

  // start-first: an old task leaves its slot once its successor runs.
  const runningSlots = new Set(wanted.filter((t) => t.specVersion >= specVersion && t.status.state === 'running').map(slotKey));
  for (const t of wanted) if (t.specVersion < specVersion && runningSlots.has(slotKey(t))) ws.update({ ...t, desiredState: 'shutdown' });

  // An ended task on the old spec is replaced too: the new spec deserves its own attempt, even
  // where the restart policy gave up on the old one.
  const stale = wanted
    .filter((t) => t.specVersion < specVersion && !freshSlots.has(slotKey(t)) && !runningSlots.has(slotKey(t)) && replaceable(t))
    .sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || (slotKey(a) < slotKey(b) ? -1 : 1));
  const setStatus = (next: Omit<UpdateStatus, 'startedAt'> & { startedAt?: string }): void => {
    ws.updateService(read, { ...service, updateStatus: { startedAt: status?.startedAt ?? iso(ctx.now), ...next } });
  };

  if (stale.length === 0) {
    if (status?.state === 'updating') setStatus({ state: 'completed', completedAt: iso(ctx.now), message: 'update completed' });
    if (status?.state === 'rollback_started') setStatus({ state: 'rollback_completed', completedAt: iso(ctx.now), message: 'rollback completed' });
    return undefined;
  }
  // A paused update waits for a person: `service update` again, or a rollback.
  if (status?.state === 'paused' || status?.state === 'rollback_paused') return undefined;
  const startedAt = status?.state === 'updating' || status?.state === 'rollback_started' ? status.startedAt : iso(ctx.now);
  if (startedAt !== status?.startedAt) {
    ws.updateService(read, { ...service, updateStatus: { state: 'updating', startedAt, message: 'update in progress' } });
  }

  const since = Date.parse(startedAt);
  const failures = fresh.filter((t) => failed(t) && Date.parse(t.status.at) >= since);
  const first = failures[0];
  // As in Swarm, the ratio is of the service's tasks, not of those updated so far.
  const slots = new Set(wanted.map(slotKey)).size;
  if (first && failures.length / Math.max(1, slots) > config.maxFailureRatio && config.failureAction !== 'continue') {
    const why = `task ${first.id} ${first.status.state}: ${first.status.err ?? first.status.message}`;
    const current = ws.service(read);
    if (config.failureAction === 'rollback' && !rollingBack && service.previousSpec) {
      ws.updateService(read, { ...current, spec: service.previousSpec, previousSpec: service.spec, updateStatus: { state: 'rollback_started', startedAt: iso(ctx.now), message: `rolling back: ${why}` } });
    } else {
      ws.updateService(read, { ...current, updateStatus: { state: rollingBack ? 'rollback_paused' : 'paused', startedAt, message: `${rollingBack ? 'rollback' : 'update'} paused: ${why}` } });
    }
    return undefined;
  }

  // A new task holds its place in the batch until it runs, has been watched, and the delay passed.
  const hold = config.monitorMs + config.delayMs;
  let wakeAt: number | undefined;
  let inFlight = 0;
  for (const t of fresh) {
    if (t.desiredState !== 'running' || isTerminalTaskState(t.status.state) || Date.parse(t.status.at) < since) continue;
    if (t.status.state !== 'running') inFlight++;
    else if (Date.parse(t.status.at) + hold > ctx.now) {
      inFlight++;
      wakeAt = Math.min(wakeAt ?? Infinity, Date.parse(t.status.at) + hold);
    }
  }
  const budget = config.parallelism === 0 ? stale.length : Math.max(0, config.parallelism - inFlight);
  for (const old of stale.slice(0, budget)) {
    const where = old.slot !== undefined ? { slot: old.slot } : { nodeId: old.nodeId ?? '' };
    if (config.order === 'stop-first') ws.update({ ...old, desiredState: 'shutdown' });
    ws.create(newTask(ctx, ws.service(read), specVersion, where));
  }
  return wakeAt;
}
