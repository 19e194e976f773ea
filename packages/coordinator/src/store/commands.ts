import { ShoalError } from '@shoal/core';
import type { ObjectKind, ObjectOf } from './objects.js';
import { OBJECT_KINDS, SCHEMAS, isObjectKind } from './objects.js';

/**
 * A write of one object. `object.meta.version` is the version the writer read (0 to create):
 * the store refuses an update made from a stale read, so two leaders' worth of decisions, or
 * an API write racing the orchestrator, cannot silently overwrite each other.
 */
export type CreateCommand = { [K in ObjectKind]: { op: 'create'; kind: K; object: ObjectOf[K] } }[ObjectKind];
export type UpdateCommand = { [K in ObjectKind]: { op: 'update'; kind: K; object: ObjectOf[K] } }[ObjectKind];
/** `version` absent: remove whatever is stored (the orchestrator reaping its own tasks). */
export interface DeleteCommand {
  op: 'delete';
  kind: ObjectKind;
  id: string;
  version?: number;
}
export type ObjectCommand = CreateCommand | UpdateCommand | DeleteCommand;
/** Applied all or nothing: a stack deploy, or a scheduler pass, is one Raft entry. */
export interface BatchCommand {
  op: 'batch';
  commands: ObjectCommand[];
}
export type Command = ObjectCommand | BatchCommand;

/** Batches beyond this are a bug or an attack; a 30,000-task stack is proposed in chunks. */
export const MAX_BATCH = 50_000;

function bad(path: string, message: string): ShoalError {
  return new ShoalError('bad_command', `${path}: ${message}`, 'this is a bug in the coordinator that proposed it');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function decodeObjectCommand(input: unknown, path: string): ObjectCommand {
  if (!isRecord(input)) throw bad(path, 'expected an object');
  const { op, kind } = input;
  if (!isObjectKind(kind)) throw bad(`${path}.kind`, `expected one of ${OBJECT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  if (op === 'delete') {
    const { id, version } = input;
    if (typeof id !== 'string' || id === '') throw bad(`${path}.id`, 'expected a non-empty string');
    if (version !== undefined && !(typeof version === 'number' && Number.isInteger(version) && version >= 0)) {
      throw bad(`${path}.version`, 'expected a whole number ≥ 0');
    }
    return version === undefined ? { op, kind, id } : { op, kind, id, version };
  }
  if (op !== 'create' && op !== 'update') throw bad(`${path}.op`, `expected create, update, delete or batch, got ${JSON.stringify(op)}`);
  const parsed = SCHEMAS[kind].safeParse(input.object);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? [path, 'object', ...issue.path.map(String)].join('.') : `${path}.object`;
    throw bad(where, issue?.message ?? 'invalid');
  }
  return { op, kind, object: parsed.data } as ObjectCommand;
}

/**
 * Check a command read from the log. Entries come from the leader, but a log outlives code
 * versions, and a malformed entry must be refused the same way on every coordinator rather
 * than crash one of them.
 */
export function decodeCommand(input: unknown): Command {
  if (isRecord(input) && input.op === 'batch') {
    const { commands } = input;
    if (!Array.isArray(commands)) throw bad('commands', 'expected a list');
    if (commands.length > MAX_BATCH) throw bad('commands', `at most ${MAX_BATCH} commands in a batch, got ${commands.length}`);
    return { op: 'batch', commands: commands.map((c, i) => decodeObjectCommand(c, `commands[${i}]`)) };
  }
  return decodeObjectCommand(input, 'command');
}
