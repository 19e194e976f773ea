/** Labels that bind a container to its task: how a restarted agent finds what it runs. */
export const LABEL_TASK = 'io.shoal.task.id';
export const LABEL_SERVICE_ID = 'io.shoal.service.id';
export const LABEL_SERVICE = 'io.shoal.service.name';
export const LABEL_NODE = 'io.shoal.node.id';
export const LABEL_CLUSTER = 'io.shoal.cluster';
export const LABEL_SPEC_VERSION = 'io.shoal.spec.version';
export const LABEL_NETWORK = 'io.shoal.network.id';
/** The address a container got on the gateway bridge from Shoal's egress driver, not from Docker. */
export const LABEL_EGRESS = 'io.shoal.egress.address';

/** Swarm's naming: service.slot.taskid, so `docker ps` on a host reads as the cluster does. */
export function containerName(serviceName: string, slotOrNode: string | number, taskId: string): string {
  return `${serviceName}.${slotOrNode}.${taskId}`;
}
