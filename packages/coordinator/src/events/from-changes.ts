import { PROTOCOL_VERSION, type ShoalEvent, type Task } from '@shoal/core';
import type { StoreChange } from '../store/changes.js';
import { keyOf, nameOf } from '../store/objects.js';

function nameFor(change: StoreChange, serviceName: (id: string) => string | undefined): string | undefined {
  const o = (change.action === 'remove' ? change.previous : change.object);
  if (change.kind !== 'task') return nameOf(change.kind, o);
  // a task by its service and slot (or node), as `service ps` shows it
  const t = o as Task;
  return `${serviceName(t.serviceId) ?? t.serviceId}.${t.slot ?? t.nodeId ?? ''}`;
}

function summaryOf(change: StoreChange): { action: ShoalEvent['action']; summary?: string } {
  if (change.kind === 'node' && change.action === 'update' && change.previous.status.state !== change.object.status.state) {
    const state = change.object.status.state;
    if (state === 'down' || state === 'ready') return { action: state, summary: change.object.status.message ?? state };
  }
  if (change.kind === 'task' && change.action !== 'remove') return { action: change.action, summary: `${change.object.status.state} (desired ${change.object.desiredState})` };
  if (change.kind === 'node' && change.action !== 'remove') return { action: change.action, summary: `${change.object.status.state}, ${change.object.spec.availability}` };
  return { action: change.action };
}

/**
 * The events of one applied entry, as `shoal events` and `shoal watch` see them. `at` is the
 * leader's clock written into the entry, so every coordinator makes the same events.
 */
export function eventsFromChanges(changes: readonly StoreChange[], at: string, serviceName: (id: string) => string | undefined): ShoalEvent[] {
  return changes.map((c) => {
    const id = keyOf(c.kind, (c.action === 'remove' ? c.previous : c.object));
    const name = nameFor(c, serviceName);
    const { action, summary } = summaryOf(c);
    return {
      v: PROTOCOL_VERSION,
      kind: 'event',
      seq: c.index,
      at,
      object: c.kind,
      action,
      id,
      ...(name !== undefined ? { name } : {}),
      ...(summary !== undefined ? { summary } : {}),
    };
  });
}
