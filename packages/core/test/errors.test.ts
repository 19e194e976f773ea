import { describe, expect, it } from 'vitest';
import { ShoalError, isShoalError } from '@shoal/core';

describe('ShoalError', () => {
  it('joins what went wrong and what to do into one message, keeping the cause', () => {
    const cause = new Error('EADDRINUSE');
    const err = new ShoalError('port_taken', 'port 8080 is taken on h2', 'publish another port', { cause });
    expect(err.message).toBe('port 8080 is taken on h2 — publish another port');
    expect(err.code).toBe('port_taken');
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('ShoalError');
  });

  it('is recognised by code', () => {
    const err = new ShoalError('x', 'y');
    expect(isShoalError(err, 'x')).toBe(true);
    expect(isShoalError(err, 'z')).toBe(false);
    expect(isShoalError(new Error('x'))).toBe(false);
  });
});
