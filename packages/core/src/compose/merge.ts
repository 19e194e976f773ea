import type { Path } from './diagnostics.js';
import { Locations, isRecord, pathKey } from './diagnostics.js';

export interface Tree {
  value: unknown;
  locations: Locations;
  /** Path keys (see `pathKey`) tagged `!reset` and `!override` in this file. */
  reset?: ReadonlySet<string>;
  override?: ReadonlySet<string>;
}

const matches = (path: Path, pattern: readonly string[]): boolean =>
  path.length === pattern.length && pattern.every((p, i) => p === '*' || p === path[i]);

/** Keys that may be written as a list of `K=V` (or bare names) or as a mapping. */
const LIST_OR_MAP: readonly (readonly string[])[] = [
  ['services', '*', 'environment'],
  ['services', '*', 'labels'],
  ['services', '*', 'deploy', 'labels'],
  ['networks', '*', 'labels'],
];
/** Service networks: a list of names or a mapping of name to options. */
const NAMES_OR_MAP: readonly (readonly string[])[] = [['services', '*', 'networks']];
/** Sequences a later file replaces instead of extending, as Compose does. */
const REPLACED: readonly (readonly string[])[] = [
  ['services', '*', 'command'],
  ['services', '*', 'entrypoint'],
  ['services', '*', 'healthcheck', 'test'],
  // Two pools from two files are never what anyone means: the later file's subnet wins.
  ['networks', '*', 'ipam', 'config'],
];

function listToMap(list: unknown[], path: Path, locations: Locations, pairs: boolean): Record<string, unknown> | undefined {
  if (!list.every((item) => typeof item === 'string')) return undefined;
  const map: Record<string, unknown> = {};
  list.forEach((item, i) => {
    const eq = pairs ? item.indexOf('=') : -1;
    const k = eq < 0 ? item : item.slice(0, eq);
    map[k] = eq < 0 ? null : item.slice(eq + 1);
    const pos = locations.own([...path, i]);
    if (pos) locations.set([...path, k], pos);
  });
  return map;
}

/**
 * Rewrite list forms into mapping forms in place, so that a list in one file and a mapping in
 * another merge key by key. Anything of the wrong shape is left for the validator to report.
 */
export function normaliseForms(tree: Tree): void {
  const visit = (value: unknown, path: Path): unknown => {
    if (Array.isArray(value)) {
      if (LIST_OR_MAP.some((p) => matches(path, p))) return listToMap(value, path, tree.locations, true) ?? value;
      if (NAMES_OR_MAP.some((p) => matches(path, p))) return listToMap(value, path, tree.locations, false) ?? value;
      return value;
    }
    if (isRecord(value) && path.length < 4) {
      for (const k of Object.keys(value)) value[k] = visit(value[k], [...path, k]);
    }
    return value;
  };
  tree.value = visit(tree.value, []);
}

function mergeValue(a: unknown, b: unknown, path: Path, al: Locations, bl: Locations, out: Locations, tags: Tree): unknown {
  if (b === undefined) {
    out.copyTree(a, path, path, al);
    return a;
  }
  if (isRecord(a) && isRecord(b)) {
    const pos = bl.own(path) ?? al.own(path);
    if (pos) out.set(path, pos);
    const result: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const p = [...path, k];
      // `!reset` drops what earlier files set; `!override` replaces it instead of merging.
      if (tags.reset?.has(pathKey(p))) continue;
      if (k in b && tags.override?.has(pathKey(p))) {
        result[k] = b[k];
        out.copyTree(b[k], p, p, bl);
      } else if (!(k in b)) {
        result[k] = a[k];
        out.copyTree(a[k], p, p, al);
      } else if (!(k in a)) {
        result[k] = b[k];
        out.copyTree(b[k], p, p, bl);
      } else {
        result[k] = mergeValue(a[k], b[k], p, al, bl, out, tags);
      }
    }
    return result;
  }
  if (Array.isArray(a) && Array.isArray(b) && !REPLACED.some((p) => matches(path, p))) {
    // Compose appends sequences (ports, expose, constraints...) and drops exact repeats.
    const result: unknown[] = [...(a as unknown[])];
    const pos = al.own(path) ?? bl.own(path);
    if (pos) out.set(path, pos);
    a.forEach((item, i) => out.copyTree(item, [...path, i], [...path, i], al));
    const seen = new Set(a.map((item) => JSON.stringify(item)));
    b.forEach((item, i) => {
      const text = JSON.stringify(item);
      if (seen.has(text)) return;
      seen.add(text);
      out.copyTree(item, [...path, i], [...path, result.length], bl);
      result.push(item);
    });
    return result;
  }
  out.copyTree(b, path, path, bl);
  return b;
}

/** `docker compose -f a.yml -f b.yml`: later files override and extend earlier ones. */
export function mergeTrees(trees: readonly Tree[]): Tree {
  // Starting from nothing, so the first file's `!reset` tags are honoured like any other's.
  return trees.reduce<Tree>(
    (acc, next) => {
      const locations = new Locations();
      return { value: mergeValue(acc.value, next.value, [], acc.locations, next.locations, locations, next), locations };
    },
    { value: {}, locations: new Locations() },
  );
}
