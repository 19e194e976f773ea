import { iso } from './context.js';
import type { WorkingSet } from './working-set.js';

/**
 * Tasks no longer wanted that never reached a node (still new or pending) have no agent to stop
 * them and report back, so they end here; otherwise they would hold their addresses and sit in
 * `service ps` forever.
 */
export function retireUnstarted(ws: WorkingSet, now: number): void {
  for (const t of ws.tasks) {
    if (t.desiredState !== 'shutdown' || (t.status.state !== 'new' && t.status.state !== 'pending')) continue;
    ws.update({ ...t, status: { ...t.status, state: 'shutdown', message: 'no longer wanted; it never started', at: iso(now) } });
  }
}
