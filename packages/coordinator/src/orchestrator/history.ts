import { isTerminalTaskState } from '@shoal/core';
import { slotKey } from './context.js';
import type { WorkingSet } from './working-set.js';

/**
 * Keep the newest `limit` ended tasks of each slot (what `service ps` shows of its past) and
 * delete older ones, so a crash-looping task does not grow the store without bound.
 */
export function pruneHistory(ws: WorkingSet, serviceId: string, limit: number): void {
  const bySlot = new Map<string, { id: string; version: number }[]>();
  for (const t of ws.tasks) {
    if (t.serviceId !== serviceId || t.desiredState !== 'shutdown' || !isTerminalTaskState(t.status.state)) continue;
    const k = slotKey(t);
    bySlot.set(k, [...(bySlot.get(k) ?? []), { id: t.id, version: t.meta.version }]);
  }
  for (const ended of bySlot.values()) {
    ended.sort((a, b) => b.version - a.version || (a.id < b.id ? -1 : 1));
    for (const old of ended.slice(limit)) ws.delete(old.id);
  }
}
