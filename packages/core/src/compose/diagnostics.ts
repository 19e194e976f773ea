/** A place in the merged compose document: keys and list indices from the root. */
export type Path = readonly (string | number)[];

/** `services.web.ports[0].published`, as people and Docker's messages write it. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out === '' ? '(top level)' : out;
}

export interface SourcePos {
  file: string;
  /** 1-based, as editors show it. */
  line: number;
  column: number;
}

export interface Diagnostic {
  severity: 'error' | 'warning';
  /** Formatted path, e.g. `services.web.deploy.replicas`. */
  path: string;
  message: string;
  file?: string;
  line?: number;
}

/** `stack.yml:12: services.web.deploy.replicas: expected a whole number ≥ 0, got "three"` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file === undefined ? '' : d.line === undefined ? `${d.file}: ` : `${d.file}:${d.line}: `;
  return `${where}${d.path}: ${d.message}`;
}

/** A path as a map key. */
export const pathKey = (path: Path): string => path.map(String).join('\u0000');
const key = pathKey;

/**
 * Where each value came from. Merging files and normalising list forms move values to new
 * paths, so positions are kept per path and copied along; a lookup falls back to the nearest
 * ancestor, so an error about a missing key points at the mapping that lacks it.
 */
export class Locations {
  private readonly positions = new Map<string, SourcePos>();

  set(path: Path, pos: SourcePos): void {
    this.positions.set(key(path), pos);
  }

  get(path: Path): SourcePos | undefined {
    for (let n = path.length; n >= 0; n--) {
      const pos = this.positions.get(key(path.slice(0, n)));
      if (pos) return pos;
    }
    return undefined;
  }

  /** The position of exactly this path, without falling back. */
  own(path: Path): SourcePos | undefined {
    return this.positions.get(key(path));
  }

  /** Copy the positions of a value and everything inside it to a new path. */
  copyTree(value: unknown, from: Path, to: Path, source: Locations = this): void {
    const pos = source.own(from);
    if (pos) this.set(to, pos);
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.copyTree(item, [...from, i], [...to, i], source));
    } else if (isRecord(value)) {
      for (const [k, v] of Object.entries(value)) this.copyTree(v, [...from, k], [...to, k], source);
    }
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Gathers diagnostics, placing each by path. */
export class Reporter {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];

  constructor(private readonly locations: Locations) {}

  private make(severity: Diagnostic['severity'], path: Path, message: string): Diagnostic {
    const pos = this.locations.get(path);
    return { severity, path: formatPath(path), message, ...(pos ? { file: pos.file, line: pos.line } : {}) };
  }

  error(path: Path, message: string): void {
    this.errors.push(this.make('error', path, message));
  }

  warn(path: Path, message: string): void {
    this.warnings.push(this.make('warning', path, message));
  }
}
