// `halab bench NAME`: every benchmark prints its measured figures beside the paper's (or a
// baseline measured in the same run) and can return a machine-readable summary (--json).
import type { Logger } from '../lab/util/log.ts';

export interface BenchOptions {
  /** The CI size: fewer trials, smaller labs. */
  quick: boolean;
  log: Logger;
  /** Extra arguments after the benchmark's name. */
  args: string[];
  /**
   * Leave a lab this benchmark brought up running, for the next one on the same lab (`halab bench
   * reproduce`): the caller takes it down and learns its name from the summary's `labLeftUp`.
   */
  keepLab?: boolean;
}

/** One figure: what was measured, beside what it is compared with. */
export interface BenchRow {
  figure: string;
  measured: number | null;
  unit: string;
  /** The paper's value or the in-run baseline. */
  reference?: number | null;
  referenceSource?: string;
  /** measured / reference, when both exist. */
  ratio?: number | null;
  verdict?: 'pass' | 'fail' | 'info' | 'invalid';
  note?: string;
  /** For a figure taken over repeated trials: how many, and the spread around `measured` (the median). */
  trials?: number;
  spread?: { min: number; p95: number; max: number };
}

/** A curve for the report (e.g. the scaling curve with the paper's beside it): one line per series. */
export interface BenchCurve {
  title: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
}

export interface BenchSummary {
  bench: string;
  /** When and under which conditions (machine, caps, trials …). */
  conditions: Record<string, string | number | boolean>;
  rows: BenchRow[];
  /** Curves the report draws (Vega-Lite, rendered to SVG). */
  curves?: BenchCurve[];
  /** Run directory with raw data, when the bench wrote one. */
  runDir?: string;
  /** A lab the bench brought up and left running because it was asked to (BenchOptions.keepLab). */
  labLeftUp?: string;
}

export interface Benchmark {
  name: string;
  description: string;
  run(opts: BenchOptions): Promise<BenchSummary>;
  /** The lab it runs on with these arguments, when known before running: benches on the same lab can share it. */
  lab?(args: string[]): Promise<string>;
}

const registry = new Map<string, () => Promise<Benchmark>>();

export function registerBenchmark(name: string, load: () => Promise<Benchmark>): void {
  registry.set(name, load);
}

export function benchmarkNames(): string[] {
  return [...registry.keys()].sort();
}

export async function loadBenchmark(name: string): Promise<Benchmark | undefined> {
  return registry.get(name)?.();
}

export function ratio(measured: number | null | undefined, reference: number | null | undefined): number | null {
  if (measured == null || reference == null || reference === 0) return null;
  return measured / reference;
}

/** Figures of 1000 and over as whole numbers, 100–1000 with one decimal (Table 13's 100.2 % must
 * not print as 100 %); smaller ones with up to 12 significant digits (an availability of
 * 0.999933475 must not print as 1.00), trailing zeros dropped. */
export const fmt = (v: number | null | undefined, unit = '') =>
  v == null
    ? '—'
    : `${Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 100 ? String(Number(v.toFixed(1))) : String(Number(v.toPrecision(12)))}${unit ? ' ' + unit : ''}`;

/** A table cell: a '|' in a note must not end the cell. */
const cell = (text: string | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown table of a summary (also what the CLI prints). */
export function summaryToMarkdown(s: BenchSummary): string {
  const lines = [
    `## ${s.bench}`,
    '',
    ...Object.entries(s.conditions).map(([k, v]) => `- ${k}: ${v}`),
    '',
    '| figure | measured | reference | source | ratio | verdict | trials | min / p95 / max | note |',
    '|---|---|---|---|---|---|---|---|---|',
    ...s.rows.map(
      (r) =>
        `| ${cell(r.figure)} | ${fmt(r.measured, r.unit)} | ${fmt(r.reference, r.unit)} | ${cell(r.referenceSource)} | ${
          r.ratio == null ? '—' : r.ratio.toFixed(3)
        } | ${r.verdict ?? ''} | ${r.trials ?? ''} | ${
          r.spread ? `${fmt(r.spread.min)} / ${fmt(r.spread.p95)} / ${fmt(r.spread.max)}` : ''
        } | ${cell(r.note)} |`,
    ),
  ];
  if (s.runDir) lines.push('', `Run directory: ${s.runDir}`);
  return lines.join('\n') + '\n';
}
