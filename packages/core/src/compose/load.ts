import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import type { Diagnostic, Path } from './diagnostics.js';
import { Locations, formatPath } from './diagnostics.js';

export interface ComposeFile {
  /** Shown in messages, e.g. `docker-compose.yml`. */
  name: string;
  text: string;
}

export interface LoadedFile {
  value: unknown;
  locations: Locations;
  errors: Diagnostic[];
}

/** Aliases expand as the file is read; a few hundred is plenty, millions is an attack. */
const MAX_ALIAS_COUNT = 200;
const MAX_DEPTH = 64;

function walk(
  doc: Document,
  node: YamlNode | null | undefined,
  path: Path,
  file: string,
  lines: LineCounter,
  locations: Locations,
  depth: number,
): void {
  if (!node || depth > MAX_DEPTH) return;
  const at = (n: YamlNode | null | undefined): { file: string; line: number; column: number } | undefined => {
    const offset = n?.range?.[0];
    if (offset === undefined) return undefined;
    const { line, col } = lines.linePos(offset);
    return { file, line, column: col };
  };
  if (isAlias(node)) {
    walk(doc, node.resolve(doc), path, file, lines, locations, depth + 1);
    return;
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const k = isScalar(keyNode) ? String(keyNode.value) : undefined;
      if (k === undefined || k === '<<') continue;
      const pos = at(keyNode);
      if (pos) locations.set([...path, k], pos);
      walk(doc, pair.value as YamlNode | null, [...path, k], file, lines, locations, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const pos = at(item as YamlNode);
      if (pos) locations.set([...path, i], pos);
      walk(doc, item as YamlNode, [...path, i], file, lines, locations, depth + 1);
    });
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
      errors: doc.errors.map((e) => errorAt(`invalid YAML: ${e.message.split('\n')[0] ?? e.message}`, e.pos[0])),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    return { value: undefined, locations, errors: [errorAt(`cannot expand YAML aliases: ${(err as Error).message}`, undefined)] };
  }
  // So an error about something missing at the top still names the file.
  locations.set([], { file: file.name, line: 1, column: 1 });
  walk(doc, doc.contents, [], file.name, lines, locations, 0);
  return { value, locations, errors: [] };
}
