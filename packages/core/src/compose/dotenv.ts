import { ShoalError } from '../errors.js';

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/;

function unquote(raw: string, lineNo: number, file: string): string {
  const first = raw[0];
  if (first === '"' || first === "'") {
    const end = raw.indexOf(first, 1);
    if (end < 0) throw new ShoalError('bad_env_file', `${file}:${lineNo}: the quote ${first} is not closed`, 'close it on the same line');
    const body = raw.slice(1, end);
    // Only double quotes take escapes, as in Compose's .env files.
    return first === '"' ? body.replace(/\\([nt"\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c)) : body;
  }
  // Unquoted: a ` #` starts a comment.
  const hash = raw.search(/\s#/);
  return (hash < 0 ? raw : raw.slice(0, hash)).trim();
}

/**
 * The variables of a `.env` file, which the CLI reads and passes to `parseCompose` as `env`
 * (under the shell's own variables, which win, as in Compose). Values are not interpolated.
 */
export function parseDotEnv(text: string, file = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.trim().startsWith('#')) return;
    const m = LINE.exec(line);
    if (!m) throw new ShoalError('bad_env_file', `${file}:${i + 1}: expected KEY=VALUE, got ${JSON.stringify(line.trim())}`, 'fix or remove the line');
    out[m[1] ?? ''] = unquote(m[2] ?? '', i + 1, file);
  });
  return out;
}
