import type { z } from 'zod';
import { ShoalError } from '../errors.js';

/** The protocol version this build speaks. Every message carries it as `v`. */
export const PROTOCOL_VERSION = 1;

const MAX_ISSUES = 5;

function toValue(input: unknown, family: string): unknown {
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ShoalError('bad_message', `${family} message is not JSON`, 'send a JSON object', { cause: err });
    }
  }
  return input;
}

/**
 * Validate a message at the edge. Daemons must never crash on a bad message, so everything
 * wrong with it becomes one ShoalError('bad_message') that names each offending field.
 */
export function decodeWith<S extends z.ZodTypeAny>(schema: S, family: string, input: unknown): z.infer<S> {
  const value = toValue(input, family);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ShoalError('bad_message', `${family} message is not an object`, 'send a JSON object');
  }
  const v = (value as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION) {
    throw new ShoalError(
      'bad_message',
      `${family} message has protocol version ${JSON.stringify(v)}, this build speaks ${PROTOCOL_VERSION}`,
      'run the same Shoal version on every host',
    );
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data as z.infer<S>;
  const issues = result.error.issues;
  const shown = issues.slice(0, MAX_ISSUES).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(message)'}: ${i.message}`);
  if (issues.length > MAX_ISSUES) shown.push(`and ${issues.length - MAX_ISSUES} more`);
  throw new ShoalError('bad_message', `bad ${family} message: ${shown.join('; ')}`, undefined, { cause: result.error });
}
