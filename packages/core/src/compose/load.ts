import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { Diagnostic, Path } from './diagnostics.js';
import { Locations, formatPath, pathKey } from './diagnostics.js';

export interface ComposeFile {
  /** Shown in messages, e.g. `docker-compose.yml`. */
  name: string;
  text: string;
}

export interface LoadedFile {
  value: unknown;
  locations: Locations;
  errors: Diagnostic[];
  /** Paths tagged `!reset` (remove what earlier files set) and `!override` (replace, not merge). */
  tags: { reset: Set<string>; override: Set<string> };
}

/** Aliases expand as the file is read; a few hundred is plenty, millions is an attack. */
const MAX_ALIAS_COUNT = 200;
const MAX_DEPTH = 64;

const MERGE = '<<';
/** With merge keys on, the parser gives `<<` as a symbol rather than a string. */
const keyText = (value: unknown): string =>
  typeof value === 'symbol' ? (value.description ?? '') : String(value);

function walk(
  doc: Document,
  node: YamlNode | null | undefined,
  path: Path,
  file: string,
  lines: LineCounter,
  locations: Locations,
  tags: LoadedFile['tags'],
  depth: number,
): void {
  if (!node || depth > MAX_DEPTH) return;
  if (node.tag === '!reset') tags.reset.add(pathKey(path));
  if (node.tag === '!override') tags.override.add(pathKey(path));
  const at = (n: YamlNode | null | undefined): { file: string; line: number; column: number } | undefined => {
    const offset = n?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  if (isAlias(node)) {
    walk(doc, node.resolve(doc), path, file, lines, locations, tags, depth + 1);
    return;
  }
  if (isMap(node)) {
    const seen = new Set<string>();
    const sources: YamlNode[] = [];
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const k = isScalar(keyNode) ? keyText(keyNode.value) : undefined;
      if (k === undefined) continue;
      if (k === MERGE) {
        const v = pair.value as YamlNode | null;
        if (isSeq(v)) sources.push(...(v.items as YamlNode[]));
        else if (v) sources.push(v);
        continue;
      }
      seen.add(k);
      const pos = at(keyNode);
      if (pos) locations.set([...path, k], pos);
      walk(doc, pair.value as YamlNode | null, [...path, k], file, lines, locations, tags, depth + 1);
    }
    // Keys merged in with `<<: *base` are placed where the base defines them; the map's own
    // keys win, and an earlier source wins over a later one, as YAML merge keys do.
    for (const source of sources) {
      const map = isAlias(source) ? source.resolve(doc) : source;
      if (!isMap(map)) continue;
      for (const pair of map.items) {
        const keyNode = pair.key as YamlNode | null;
        const k = isScalar(keyNode) ? keyText(keyNode.value) : undefined;
        if (k === undefined || k === MERGE || seen.has(k)) continue;
        seen.add(k);
        const pos = at(keyNode);
        if (pos) locations.set([...path, k], pos);
        walk(doc, pair.value as YamlNode | null, [...path, k], file, lines, locations, tags, depth + 1);
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const pos = at(item as YamlNode);
      if (pos) locations.set([...path, i], pos);
      walk(doc, item as YamlNode, [...path, i], file, lines, locations, tags, depth + 1);
    });
  }
}

/**
 * A copy in which no object appears twice. Aliases make YAML a graph: later steps rewrite values
 * in place, and a shared object would be rewritten twice (`$$` would become `$`, then be
 * expanded); an alias inside its own anchor would make them loop forever.
 */
function untangle(value: unknown, ancestors: Set<object>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.has(value)) throw new Error('an alias refers to a value that contains it');
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => untangle(item, ancestors));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untangle(v, ancestors)]));
  } finally {
    ancestors.delete(value);
  }
}

/**
 * Read one compose file into plain data and the position of every key and item. YAML merge
 * keys (`<<: *defaults`) are honoured, as Docker's own loader does.
 */
export function loadComposeFile(file: ComposeFile): LoadedFile {
  const lines = new LineCounter();
  const locations = new Locations();
  const doc = parseDocument(file.text, { lineCounter: lines, merge: true, uniqueKeys: true, prettyErrors: false });
  const errorAt = (message: string, offset: number | undefined): Diagnostic => {
    const line = offset === undefined ? undefined : lines.linePos(offset).line;
    return { severity: 'error', path: formatPath([]), message, file: file.name, ...(line === undefined ? {} : { line }) };
  };
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      locations,
      tags: { reset: new Set(), override: new Set() },
      errors: doc.errors.map((e) => errorAt(`invalid YAML: ${e.message.split('\n')[0] ?? e.message}`, e.pos[0])),
    };
  }
  let value: unknown;
  try {
    value = untangle(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), new Set());
  } catch (err) {
    return { value: undefined, locations, tags: { reset: new Set(), override: new Set() }, errors: [errorAt(`cannot expand YAML aliases: ${(err as Error).message}`, undefined)] };
  }
  // So an error about something missing at the top still names the file.
  locations.set([], { file: file.name, line: 1, column: 1 });
  const tags: LoadedFile['tags'] = { reset: new Set(), override: new Set() };
  walk(doc, doc.contents, [], file.name, lines, locations, tags, 0);
  return { value, locations, errors: [], tags };
}
