import type { Constraint, Node } from '@shoal/core';
import { constraintTarget, matchesConstraints, parseConstraint } from '@shoal/core';

/** A service's constraints, or undefined when one cannot be read (then no node qualifies). */
export function readConstraints(texts: readonly string[]): Constraint[] | undefined {
  try {
    return texts.map(parseConstraint);
  } catch {
    return undefined;
  }
}

/** Whether a node should get a new task of a global service: ready, active and matching. */
export function takesNewTasks(node: Node, constraints: readonly Constraint[] | undefined): boolean {
  return node.status.state === 'ready' && node.spec.availability === 'active' && constraints !== undefined && matchesConstraints(constraints, constraintTarget(node));
}

/**
 * Whether a node may keep the task it has. A paused node keeps its tasks (pause only stops new
 * ones, as in Swarm); a drained node, or one whose labels no longer match, gives them up.
 */
export function keepsTasks(node: Node | undefined, constraints: readonly Constraint[] | undefined): boolean {
  if (!node || node.status.state === 'down' || node.spec.availability === 'drain') return false;
  return constraints !== undefined && matchesConstraints(constraints, constraintTarget(node));
}
