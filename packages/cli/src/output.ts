import { isShoalError } from '@shoal/core';

/** Where a command writes; tests pass their own to capture what a person would see. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** A plain, left-aligned table: the header in capitals, two spaces between columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n') + '\n';
}

/** `error: <what went wrong> — <what to do>`, the one shape every failure takes. */
export function formatError(err: unknown): string {
  if (isShoalError(err)) return `error: ${err.what}${err.todo ? ` — ${err.todo}` : ''}\n`;
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${message}\n`;
}

/** Exit codes: 0 done, 1 the work failed, 2 the command line was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
