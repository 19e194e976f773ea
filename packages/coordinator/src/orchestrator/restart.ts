import type { RestartPolicy, Task } from '@shoal/core';

export type RestartDecision =
  | { kind: 'now' }
  | { kind: 'later'; at: number }
  | { kind: 'never'; reason: string };

/** Ended by itself, as opposed to stopped by the orchestrator (scale down, update, node loss). */
function endedOnItsOwn(t: Task): boolean {
  return t.status.state === 'failed' || t.status.state === 'rejected' || t.status.state === 'complete';
}

/**
 * Whether and when an ended task's slot gets a new task, under the service's restart policy.
 * The delay is data: `later` tells the leader when to look again, it keeps no timer here.
 * `history` holds the slot's earlier tasks; restarts are counted over `windowMs` when set.
 */
export function restartDecision(policy: RestartPolicy, ended: Task, history: readonly Task[], now: number): RestartDecision {
  const { state } = ended.status;
  if (policy.condition === 'none') return { kind: 'never', reason: 'the restart condition is none' };
  if (policy.condition === 'on-failure' && state === 'complete') return { kind: 'never', reason: 'it completed and the restart condition is on-failure' };
  if (policy.maxAttempts !== undefined) {
    const since = policy.windowMs === undefined ? -Infinity : now - policy.windowMs;
    const restarts = history.filter((t) => t.id !== ended.id && endedOnItsOwn(t) && Date.parse(t.status.at) >= since).length;
    if (restarts >= policy.maxAttempts) {
      const window = policy.windowMs === undefined ? '' : ` within ${policy.windowMs / 1000} s`;
      return { kind: 'never', reason: `it was restarted ${restarts} time${restarts === 1 ? '' : 's'}${window}, the most the restart policy allows` };
    }
  }
  const at = Date.parse(ended.status.at) + policy.delayMs;
  return Number.isFinite(at) && at > now ? { kind: 'later', at } : { kind: 'now' };
}
