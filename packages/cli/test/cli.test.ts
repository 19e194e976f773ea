import { describe, expect, it } from 'vitest';
import { ShoalError } from '@shoal/core';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatError, main, table, type Io } from '@shoal/cli';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdout: () => out,
    stderr: () => err,
  };
}

describe('shoal CLI', () => {
  it('prints help with examples and exits 0', async () => {
    const io = capture();
    expect(await main(['lab', '--help'], io)).toBe(EXIT_OK);
    expect(io.stdout()).toContain('Examples:');
    expect(io.stdout()).toContain('shoal lab up --hosts 3');
  });

  it('exits 2 on a usage mistake and says what is wrong', async () => {
    const io = capture();
    expect(await main(['lab', 'up'], io)).toBe(EXIT_USAGE);
    expect(io.stderr()).toMatch(/^error: required option '--hosts <n>' not specified/);
    const io2 = capture();
    expect(await main(['lab', 'up', '--hosts', 'three'], io2)).toBe(EXIT_USAGE);
    expect(io2.stderr()).toContain('expected a whole number, got "three"');
    expect(await main(['no-such-command'], capture())).toBe(EXIT_USAGE);
  });

  it('exits 1 on a refused request, with what went wrong and what to do', async () => {
    const io = capture();
    expect(await main(['lab', 'up', '--hosts', '0'], io)).toBe(EXIT_FAILED);
    expect(io.stderr()).toBe('error: --hosts must be a whole number from 1 to 64, got 0 — e.g. shoal lab up --hosts 3\n');
  });
});

describe('output', () => {
  it('formats a ShoalError as "error: what — todo"', () => {
    expect(formatError(new ShoalError('x', 'the thing broke', 'fix it'))).toBe('error: the thing broke — fix it\n');
    expect(formatError(new Error('plain'))).toBe('error: plain\n');
  });

  it('aligns table columns under capitalised headers', () => {
    expect(table(['host', 'address'], [['h1', '10.0.0.1'], ['h10', '10.0.0.10']])).toBe('HOST  ADDRESS\nh1    10.0.0.1\nh10   10.0.0.10\n');
  });
});
