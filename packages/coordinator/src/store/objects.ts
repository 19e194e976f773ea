import type { Cluster, Network, Node, Service, Stack, Task } from '@shoal/core';
import { ClusterSchema, NetworkSchema, NodeSchema, ServiceSchema, StackSchema, TaskSchema } from '@shoal/core';

/** The kinds of object the store holds, in the order a snapshot lists them. */
export const OBJECT_KINDS = ['cluster', 'node', 'network', 'service', 'task', 'stack'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface ObjectOf {
  cluster: Cluster;
  node: Node;
  network: Network;
  service: Service;
  task: Task;
  stack: Stack;
}
export type StoredObject = ObjectOf[ObjectKind];

/** The schemas from core that every object entering the store must pass. */
export const SCHEMAS = {
  cluster: ClusterSchema,
  node: NodeSchema,
  network: NetworkSchema,
  service: ServiceSchema,
  task: TaskSchema,
  stack: StackSchema,
} as const;

/** A stack is known by its name (`docker stack` has no ids); everything else by its id. */
export function keyOf(kind: ObjectKind, object: StoredObject): string {
  return kind === 'stack' ? (object as Stack).name : (object as Exclude<StoredObject, Stack>).id;
}

/** The name people use, where the object has one, for events and refusals. */
export function nameOf(kind: ObjectKind, object: StoredObject): string | undefined {
  switch (kind) {
    case 'node':
      return (object as Node).hostname;
    case 'network':
    case 'service':
      return (object as Network | Service).spec.name;
    case 'stack':
      return (object as Stack).name;
    case 'task':
    case 'cluster':
      return undefined;
  }
}

export function isObjectKind(value: unknown): value is ObjectKind {
  return typeof value === 'string' && (OBJECT_KINDS as readonly string[]).includes(value);
}
