import type { Service, ServiceSpec } from '@shoal/core';
import { ShoalError } from '@shoal/core';
import { shapesTasksDifferently } from '../store/task-shaping.js';

/**
 * The service `service update` writes: the new spec, the old one kept for a rollback, and, when
 * the change means new tasks, a fresh rolling update. That also restarts an update that paused
 * on a failure: a person who deploys again has decided what to do about it.
 */
export function updatedService(service: Service, spec: ServiceSpec, now: string): Service {
  const rolls = shapesTasksDifferently(service.spec, spec);
  return {
    ...service,
    spec,
    previousSpec: service.spec,
    ...(rolls ? { updateStatus: { state: 'updating' as const, startedAt: now, message: 'update in progress' } } : {}),
  };
}

/** The service `service rollback` writes: the spec before the last update, rolled out with the rollback settings. */
export function rolledBackService(service: Service, now: string): Service {
  if (!service.previousSpec) {
    throw new ShoalError('no_previous_spec', `service ${service.spec.name} has not been updated, so there is nothing to roll back to`, 'update the service with the spec you want instead');
  }
  return {
    ...service,
    spec: service.previousSpec,
    previousSpec: service.spec,
    updateStatus: { state: 'rollback_started', startedAt: now, message: 'rollback requested' },
  };
}
