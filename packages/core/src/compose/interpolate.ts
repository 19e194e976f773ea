import type { Path } from './diagnostics.js';
import { isRecord } from './diagnostics.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface InterpolationProblem {
  severity: 'error' | 'warning';
  path: Path;
  message: string;
  /** For warnings about unset variables, so each is reported once. */
  variable?: string;
}

const NAME = /^[_A-Za-z][_A-Za-z0-9]*/;

class TemplateError extends Error {}

/** The index of the `}` closing the `${` whose content starts at `from`, honouring nesting. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '$' && text[i + 1] === '$') i++;
    else if (c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

function substitute(text: string, env: Env, unset: (name: string) => void): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, at);
    const next = text[at + 1];
    if (next === '$') {
      out += '$';
      i = at + 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, at + 2);
      if (end < 0) throw new TemplateError(`"\${" is not closed`);
      out += braced(text.slice(at + 2, end), env, unset);
      i = end + 1;
      continue;
    }
    const name = NAME.exec(text.slice(at + 1))?.[0];
    if (name === undefined) throw new TemplateError(`"$" must be followed by a variable name or "{"`);
    const value = env[name];
    if (value === undefined) unset(name);
    out += value ?? '';
    i = at + 1 + name.length;
  }
  return out;
}

function braced(inner: string, env: Env, unset: (name: string) => void): string {
  const name = NAME.exec(inner)?.[0];
  if (name === undefined) throw new TemplateError(`"\${${inner}}" does not start with a variable name`);
  const rest = inner.slice(name.length);
  const value = env[name];
  if (rest === '') {
    if (value === undefined) unset(name);
    return value ?? '';
  }
  const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
  if (op === undefined) throw new TemplateError(`"\${${inner}}" has an unknown operator after ${name}`);
  const arg = rest.slice(op.length);
  // The colon forms treat an empty variable like an unset one, as in the shell.
  const missing = op.startsWith(':') ? value === undefined || value === '' : value === undefined;
  switch (op) {
    case ':-':
    case '-':
      return missing ? substitute(arg, env, unset) : (value ?? '');
    case ':+':
    case '+':
      return missing ? '' : substitute(arg, env, unset);
    default: {
      if (!missing) return value ?? '';
      const why = substitute(arg, env, unset);
      throw new TemplateError(`required variable ${name} is ${value === undefined ? 'not set' : 'empty'}${why === '' ? '' : `: ${why}`}`);
    }
  }
}

/**
 * Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
 * `${VAR:+alt}`, `${VAR+alt}` and `$$` in one string, as Docker Compose does.
 */
export function interpolateString(text: string, env: Env): { value: string; unset: string[] } | { error: string } {
  const unset: string[] = [];
  try {
    return { value: substitute(text, env, (n) => unset.push(n)), unset };
  } catch (err) {
    if (err instanceof TemplateError) return { error: err.message };
    throw err;
  }
}

/**
 * Expand every string value (never a key) of a loaded file in place. A string that fails keeps
 * its text and yields an error, so the rest of the file is still checked.
 */
export function interpolateTree(root: unknown, env: Env): InterpolationProblem[] {
  const problems: InterpolationProblem[] = [];
  const visit = (value: unknown, path: Path): unknown => {
    if (typeof value === 'string') {
      if (!value.includes('$')) return value;
      const result = interpolateString(value, env);
      if ('error' in result) {
        problems.push({ severity: 'error', path, message: `cannot interpolate ${JSON.stringify(value)}: ${result.error}` });
        return value;
      }
      for (const name of result.unset) {
        problems.push({ severity: 'warning', path, variable: name, message: `variable ${name} is not set; using an empty string` });
      }
      return result.value;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = visit(value[i], [...path, i]);
    } else if (isRecord(value)) {
      for (const k of Object.keys(value)) value[k] = visit(value[k], [...path, k]);
    }
    return value;
  };
  visit(root, []);
  return problems;
}
