import type { Service, Task } from '@shoal/core';
import { isTerminalTaskState } from '@shoal/core';
import type { OrchestratorContext } from './context.js';
import { newTask, newestFirst } from './context.js';
import { restartDecision } from './restart.js';
import type { WorkingSet } from './working-set.js';

/**
 * Keep slots 1..n of a replicated service filled: a task for each missing slot, the extra slots
 * shut down highest first, and ended tasks replaced as the restart policy says. Returns when to
 * look again for a restart that is waiting out its delay.
 */
export function reconcileReplicated(ws: WorkingSet, service: Service, specVersion: number, ctx: OrchestratorContext): number | undefined {
  if (service.spec.mode.kind !== 'replicated') return undefined;
  const replicas = service.spec.mode.replicas;
  const mine = ws.tasks.filter((t) => t.serviceId === service.id);
  const bySlot = new Map<number, Task[]>();
  const history = new Map<number, Task[]>();
  for (const t of mine) {
    if (t.slot === undefined) {
      // Left over from when the service was global.
      if (t.desiredState === 'running') ws.update({ ...t, desiredState: 'shutdown' });
      continue;
    }
    const into = t.desiredState === 'running' ? bySlot : history;
    into.set(t.slot, [...(into.get(t.slot) ?? []), t]);
  }
  const occupied = [...bySlot.keys()].sort((a, b) => a - b);
  const kept = occupied.slice(0, replicas);
  for (const slot of occupied.slice(replicas).reverse()) {
    for (const t of bySlot.get(slot) ?? []) ws.update({ ...t, desiredState: 'shutdown' });
  }
  const taken = new Set(occupied);
  let next = 1;
  for (let missing = replicas - kept.length; missing > 0; missing--) {
    while (taken.has(next)) next++;
    taken.add(next);
    ws.create(newTask(ctx, service, specVersion, { slot: next }));
  }
  let wakeAt: number | undefined;
  for (const slot of kept) {
    const [current, ...others] = [...(bySlot.get(slot) ?? [])].sort(newestFirst);
    if (!current) continue;
    // An older task still wanted in the slot after it has ended is only history now.
    for (const o of others) if (isTerminalTaskState(o.status.state)) ws.update({ ...o, desiredState: 'shutdown' });
    if (!isTerminalTaskState(current.status.state)) continue;
    const decision = restartDecision(service.spec.restartPolicy, current, history.get(slot) ?? [], ctx.now);
    if (decision.kind === 'later') wakeAt = Math.min(wakeAt ?? Infinity, decision.at);
    if (decision.kind !== 'now') continue;
    ws.update({ ...current, desiredState: 'shutdown' });
    ws.create(newTask(ctx, service, specVersion, { slot }));
  }
  return wakeAt;
}
