import { formatBytes, formatCpus } from '@shoal/core';
import type { Failure } from './filters.js';

const nodes = (n: number): string => `${n} node${n === 1 ? '' : 's'}`;
const have = (n: number): string => (n === 1 ? 'has' : 'have');
const are = (n: number): string => (n === 1 ? 'is' : 'are');

/** "3 nodes have zone=us, 1 node has no label zone", most common first. */
function tally(details: readonly string[], verb: (n: number) => string): string {
  const counts = new Map<string, number>();
  for (const d of details) counts.set(d, (counts.get(d) ?? 0) + 1);
  return [...counts]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([d, n]) => `${nodes(n)} ${verb(n)} ${d}`)
    .join(', ');
}

function groupKey(f: Failure): string {
  return f.key === 'constraint' ? `constraint ${f.constraint.text}` : f.key;
}

/** One group of nodes failing the same way, as a clause. */
function clause(group: readonly Failure[], every: boolean, serviceName: string): string {
  const first = group[0];
  if (!first) return '';
  const n = group.length;
  switch (first.key) {
    case 'state':
      return every ? `no node is ready: ${tally(group.map((f) => (f as { detail: string }).detail), are)}` : tally(group.map((f) => (f as { detail: string }).detail), are);
    case 'availability': {
      const words = group.map((f) => ((f as { detail: string }).detail === 'drain' ? 'draining' : 'paused'));
      return every ? `no node is active: ${tally(words, are)}` : tally(words, are);
    }
    case 'constraint': {
      const text = first.constraint.text;
      const details = group.map((f) => (f as { detail: string }).detail);
      return every ? `no node satisfies ${text}: ${tally(details, have)}` : `${nodes(n)} fail${n === 1 ? 's' : ''} ${text} (${[...new Set(details)].sort().join(', ')})`;
    }
    case 'memory':
    case 'cpu': {
      const fs = group as readonly Extract<Failure, { key: 'memory' | 'cpu' }>[];
      const best = fs.reduce((a, b) => (b.free > a.free ? b : a));
      const fmt = first.key === 'memory' ? formatBytes : formatCpus;
      const what = first.key === 'memory' ? 'memory' : 'CPU';
      const most = `${fmt(best.free)} free of the ${fmt(best.wanted)} reserved`;
      return every ? `insufficient ${what} on every node (the most any has is ${most})` : `${nodes(n)} ${n === 1 ? 'has' : 'have at most'} ${most}`;
    }
    case 'max-replicas':
      return every
        ? `every node already runs ${first.max} task${first.max === 1 ? '' : 's'} of ${serviceName} (max replicas per node ${first.max})`
        : `${nodes(n)} already run${n === 1 ? 's' : ''} ${first.max} of ${serviceName} (max replicas per node)`;
  }
}

/**
 * Why a task fits nowhere, in words a person can act on: the one cause when every node fails the
 * same way ("no node satisfies node.labels.zone==eu: 3 nodes have zone=us"), otherwise each
 * cause with its count, largest first.
 */
export function explainUnplaced(failures: readonly Failure[], serviceName: string): string {
  if (failures.length === 0) return 'no node in the cluster';
  const groups = new Map<string, Failure[]>();
  for (const f of failures) {
    const k = groupKey(f);
    groups.set(k, [...(groups.get(k) ?? []), f]);
  }
  const ordered = [...groups].sort(([a, x], [b, y]) => y.length - x.length || (a < b ? -1 : 1)).map(([, g]) => g);
  if (ordered.length === 1 && ordered[0]) return clause(ordered[0], true, serviceName);
  return `no suitable node: ${ordered.map((g) => clause(g, false, serviceName)).join('; ')}`;
}

/** Why a global task cannot run on the one node it belongs to. */
export function explainOnNode(f: Failure, hostname: string, serviceName: string): string {
  const who = `node ${hostname}`;
  switch (f.key) {
    case 'state':
      return `${who} is ${f.detail}`;
    case 'availability':
      return `${who} is ${f.detail === 'drain' ? 'draining' : 'paused'}`;
    case 'constraint':
      return `${who} fails ${f.constraint.text} (it has ${f.detail})`;
    case 'memory':
      return `${who} has ${formatBytes(f.free)} free of the ${formatBytes(f.wanted)} of memory reserved`;
    case 'cpu':
      return `${who} has ${formatCpus(f.free)} free of the ${formatCpus(f.wanted)} reserved`;
    case 'max-replicas':
      return `${who} already runs ${f.max} task${f.max === 1 ? '' : 's'} of ${serviceName} (max replicas per node ${f.max})`;
  }
}
