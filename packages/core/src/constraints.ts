import { ShoalError } from './errors.js';
import type { Node } from './model/node.js';

/** The node facts a constraint can test; a Node has them all (see `constraintTarget`). */
export interface ConstraintTarget {
  id: string;
  hostname: string;
  role: string;
  platform: { os: string; arch: string };
  labels: Readonly<Record<string, string>>;
  engineLabels: Readonly<Record<string, string>>;
}

type FixedKind = 'id' | 'hostname' | 'role' | 'os' | 'arch';
export type ConstraintField =
  | { kind: FixedKind }
  | { kind: 'nodeLabel' | 'engineLabel'; label: string };

export interface Constraint {
  /** As written, to quote it back in explanations. */
  text: string;
  field: ConstraintField;
  op: '==' | '!=';
  value: string;
}

const KEYS = 'node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<key> or engine.labels.<key>';
const FIXED: Partial<Record<string, FixedKind>> = {
  'node.id': 'id',
  'node.hostname': 'hostname',
  'node.role': 'role',
  'node.platform.os': 'os',
  'node.platform.arch': 'arch',
};
// As Swarm: a value must not hold characters that are, or may become, operators (<, >, ~, ...).
const VALUE = /^[A-Za-z0-9:\-_\s.*()?+[\]\\^$|/]+$/;

function bad(text: string, what: string, todo: string): ShoalError {
  return new ShoalError('bad_constraint', `constraint ${JSON.stringify(text)} ${what}`, todo);
}

/**
 * Parse `key==value` or `key!=value`, as `docker service create --constraint` takes them. Key
 * prefixes are case-insensitive and label names case-sensitive, as in Swarm.
 */
export function parseConstraint(text: string): Constraint {
  const eq = text.indexOf('==');
  const ne = text.indexOf('!=');
  const at = eq < 0 ? ne : ne < 0 ? eq : Math.min(eq, ne);
  if (at < 0) {
    throw bad(text, 'has no operator', 'write key==value or key!=value, e.g. node.role==manager');
  }
  const op = text.slice(at, at + 2) as '==' | '!=';
  const key = text.slice(0, at).trim();
  const value = text.slice(at + 2).trim();
  if (key === '') throw bad(text, 'has no key', `start it with one of ${KEYS}`);
  if (value === '') throw bad(text, 'has no value', `put the value to compare after ${op}`);
  if (value.includes('==') || value.includes('!=')) throw bad(text, 'has more than one operator', 'write one comparison per constraint');
  if (!VALUE.test(value)) {
    throw bad(text, `has a value with characters a constraint cannot hold: ${JSON.stringify(value)}`, 'use letters, digits and - _ . : /');
  }
  const lower = key.toLowerCase();
  const fixed = FIXED[lower];
  if (fixed) return { text, field: { kind: fixed }, op, value };
  for (const [prefix, kind] of [['node.labels.', 'nodeLabel'], ['engine.labels.', 'engineLabel']] as const) {
    if (lower.startsWith(prefix)) {
      const label = key.slice(prefix.length);
      if (label === '') throw bad(text, 'names no label', `write ${prefix}<label>${op}${value}`);
      return { text, field: { kind, label }, op, value };
    }
  }
  throw bad(text, `has an unknown key ${JSON.stringify(key)}`, `use ${KEYS}`);
}

/** Docker reports `x86_64` or `aarch64` where constraints usually say `amd64` or `arm64`. */
function normaliseArch(arch: string): string {
  const a = arch.toLowerCase();
  return a === 'x86_64' ? 'amd64' : a === 'aarch64' ? 'arm64' : a;
}

function factOf(field: ConstraintField, node: ConstraintTarget): string | undefined {
  switch (field.kind) {
    case 'id':
      return node.id;
    case 'hostname':
      return node.hostname;
    case 'role':
      return node.role;
    case 'os':
      return node.platform.os;
    case 'arch':
      return node.platform.arch;
    case 'nodeLabel':
      return node.labels[field.label];
    case 'engineLabel':
      return node.engineLabels[field.label];
  }
}

function equal(field: ConstraintField, fact: string, value: string): boolean {
  if (field.kind === 'arch') return normaliseArch(fact) === normaliseArch(value);
  // Swarm compares values case-insensitively.
  return fact.toLowerCase() === value.toLowerCase();
}

/** A missing label counts as empty, as in Swarm: `==` fails and `!=` holds. */
export function matchesConstraint(c: Constraint, node: ConstraintTarget): boolean {
  const same = equal(c.field, factOf(c.field, node) ?? '', c.value);
  return c.op === '==' ? same : !same;
}

export function matchesConstraints(constraints: readonly Constraint[], node: ConstraintTarget): boolean {
  return constraints.every((c) => matchesConstraint(c, node));
}

function keyName(field: ConstraintField): string {
  switch (field.kind) {
    case 'os':
      return 'node.platform.os';
    case 'arch':
      return 'node.platform.arch';
    case 'nodeLabel':
      return `node.labels.${field.label}`;
    case 'engineLabel':
      return `engine.labels.${field.label}`;
    default:
      return `node.${field.kind}`;
  }
}

/**
 * Why a node does not match, one plain sentence per failing constraint; empty when it matches.
 * The scheduler groups these across nodes for a pending task's reason.
 */
export function explainMismatch(constraints: readonly Constraint[], node: ConstraintTarget): string[] {
  const reasons: string[] = [];
  for (const c of constraints) {
    if (matchesConstraint(c, node)) continue;
    const fact = factOf(c.field, node);
    const who = `node ${node.hostname}`;
    if (fact === undefined && c.field.kind !== 'id') {
      const kind = c.field.kind === 'engineLabel' ? 'engine label' : 'label';
      const label = 'label' in c.field ? c.field.label : '';
      reasons.push(`${who} has no ${kind} ${JSON.stringify(label)} (${c.text} wants ${JSON.stringify(c.value)})`);
    } else if (c.op === '==') {
      reasons.push(`${who} has ${keyName(c.field)}=${JSON.stringify(fact)}, not ${JSON.stringify(c.value)} (${c.text})`);
    } else {
      reasons.push(`${who} has ${keyName(c.field)}=${JSON.stringify(fact)}, which ${c.text} excludes`);
    }
  }
  return reasons;
}

/** What the constraints see of a stored node. */
export function constraintTarget(node: Node): ConstraintTarget {
  return {
    id: node.id,
    hostname: node.hostname,
    role: node.spec.role,
    platform: node.platform,
    labels: node.spec.labels,
    engineLabels: node.engineLabels,
  };
}
