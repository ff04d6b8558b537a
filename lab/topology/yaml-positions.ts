// Positions of fields in a YAML document, so every problem names FILE:LINE:COL and the field.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { TopologyProblem } from './types.ts';

export type FieldPath = (string | number)[];

export function fieldName(path: FieldPath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** The node at `path` (or its key, for unknown-key errors); the deepest existing ancestor otherwise. */
export function nodeAt(doc: Document, path: FieldPath, wantKey = false): Node | undefined {
  let node = doc.contents as Node | null;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
      if (!pair) return node;
      if (i === path.length - 1 && wantKey) return pair.key as Node;
      if (!pair.value) return pair.key as Node;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return node;
      node = item;
    } else {
      return node ?? undefined;
    }
  }
  return node ?? undefined;
}

export function positionOf(doc: Document, lc: LineCounter, path: FieldPath, wantKey = false): { line: number; column: number } {
  const node = nodeAt(doc, path, wantKey);
  const offset = node?.range?.[0];
  if (offset === undefined) return { line: 1, column: 1 };
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** Closest allowed word within edit distance 2, for "did you mean". */
export function suggest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(word.toLowerCase(), a.toLowerCase());
    if (d < bestD) [best, bestD] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export type Report = (path: FieldPath, message: string, onKey?: boolean) => void;

/** A YAML file parsed for checking: its document, the problems so far, and `report` to add one. */
export interface CheckedYaml {
  doc: Document;
  problems: TopologyProblem[];
  report: Report;
  /** The problems sorted by position (as they are printed). */
  sorted(): TopologyProblem[];
}

/** Parse with positions; YAML syntax errors (duplicate keys included) are the first problems. */
export function parseForChecking(text: string, file: string): CheckedYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true });
  const problems: TopologyProblem[] = doc.errors.map((e) => ({
    file,
    line: e.linePos?.[0]?.line ?? 1,
    column: e.linePos?.[0]?.col ?? 1,
    field: '',
    message: `YAML: ${e.message.split('\n')[0]}`,
  }));
  return {
    doc,
    problems,
    report: (path, message, onKey = false) => problems.push({ file, ...positionOf(doc, lc, path, onKey), field: fieldName(path), message }),
    sorted: () => problems.sort((a, b) => a.line - b.line || a.column - b.column),
  };
}

/** Report every key of `obj` that is not allowed, at the key, with a did-you-mean. */
export function reportUnknownKeys(obj: unknown, allowed: readonly string[], path: FieldPath, report: Report): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const hint = suggest(key, allowed);
    report([...path, key], `unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ''}; allowed: ${allowed.join(', ')}`, true);
  }
}
