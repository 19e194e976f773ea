import type { Path, Reporter } from './diagnostics.js';
import { isRecord } from './diagnostics.js';
import { parseDuration, splitCommand } from './units.js';

export type Obj = Record<string, unknown>;

/** How a value that was not what we wanted reads in a message: `"three"`, `a list`, `nothing`. */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return Array.isArray(v) ? 'a list' : 'a mapping';
}

/** Reads typed values out of the untyped tree; every failure becomes an error at its path. */
export class Reader {
  constructor(readonly report: Reporter) {}

  expected(path: Path, what: string, v: unknown): undefined {
    this.report.error(path, `expected ${what}, got ${describe(v)}`);
    return undefined;
  }

  map(v: unknown, path: Path): Obj | undefined {
    return isRecord(v) ? v : this.expected(path, 'a mapping', v);
  }

  keys(o: Obj, path: Path, known: readonly string[], ignored: Readonly<Record<string, string>> = {}, unsupported: readonly string[] = []): void {
    for (const k of Object.keys(o)) {
      if (known.includes(k) || k.startsWith('x-')) continue;
      const note = ignored[k];
      if (note !== undefined) this.report.warn([...path, k], note);
      else if (unsupported.includes(k)) this.report.warn([...path, k], `${k} is not supported by Shoal yet; ignored`);
      else this.report.warn([...path, k], `unknown key ${JSON.stringify(k)}; ignored`);
    }
  }

  str(v: unknown, path: Path, what = 'a string'): string | undefined {
    return typeof v === 'string' ? v : this.expected(path, what, v);
  }

  /** Strings, and numbers or booleans written where Compose allows them (label and env values). */
  scalar(v: unknown, path: Path): string | undefined {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.expected(path, 'a string, number or boolean', v);
  }

  /** Interpolated values arrive as text, so `"3"` is as good as `3`. */
  int(v: unknown, path: Path, min: number, max?: number): number | undefined {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    const what = max === undefined ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) return this.expected(path, what, v);
    return n;
  }

  ratio(v: unknown, path: Path): number | undefined {
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
    return Number.isFinite(n) && n >= 0 && n <= 1 ? n : this.expected(path, 'a number from 0 to 1', v);
  }

  bool(v: unknown, path: Path): boolean | undefined {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    return this.expected(path, 'true or false', v);
  }

  duration(v: unknown, path: Path): number | undefined {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    return ms ?? this.expected(path, 'a duration such as 10s or 1m30s', v);
  }

  oneOf<T extends string>(v: unknown, path: Path, options: readonly T[]): T | undefined {
    const found = options.find((o) => o === v);
    return found ?? this.expected(path, options.map((o) => JSON.stringify(o)).join(' or '), v);
  }

  strings(v: unknown, path: Path): string[] | undefined {
    if (!Array.isArray(v)) return this.expected(path, 'a list of strings', v);
    const out: string[] = [];
    v.forEach((item, i) => {
      const s = this.str(item, [...path, i]);
      if (s !== undefined) out.push(s);
    });
    return out;
  }

  /** A command as a string (split like a shell would) or a list of words. */
  command(v: unknown, path: Path): string[] | undefined {
    if (typeof v === 'string') {
      const words = splitCommand(v);
      if (!words) this.report.error(path, `has an unterminated quote: ${JSON.stringify(v)}`);
      return words;
    }
    if (Array.isArray(v)) return this.strings(v, path);
    return this.expected(path, 'a string or a list of strings', v);
  }

  /** Labels and options: a mapping (lists were turned into mappings before merging). */
  stringMap(v: unknown, path: Path): Record<string, string> {
    const out: Record<string, string> = {};
    if (v === undefined || v === null) return out;
    if (Array.isArray(v)) {
      this.expected(path, 'a mapping or a list of "KEY=VALUE" strings', v);
      return out;
    }
    const o = this.map(v, path);
    for (const [k, value] of Object.entries(o ?? {})) {
      const s = value === null ? '' : this.scalar(value, [...path, k]);
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
}
