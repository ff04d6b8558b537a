// `halab report RUN…`: a run directory (ledger, events, faults, summary) → report.md and one
// self-contained offline report.html with SVG charts. Reads only the run directory.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { renderVegaLite, throughputSpec, latencySpec, timelineSpec, curveSpec, type Interval } from './charts.ts';
import type { BenchSummary } from '../benchmarks/bench.ts';
import { summaryToMarkdown } from '../benchmarks/bench.ts';
import { readJsonl, RUN_FILES, type FaultRecord, type LedgerEntry, type RunEvent } from '../benchmarks/ledger.ts';
import { projectRoot } from '../lab/util/paths.ts';
import { planToDot, renderSvg } from '../lab/graph.ts';
import type { LabPlan } from '../lab/topology/types.ts';

/** What summary.json may hold: one benchmark's summary, a set of them (`halab bench all`), or a
 * scenario's result (no rows). */
type StoredSummary = Partial<BenchSummary> & { set?: BenchSummary[] } & Record<string, unknown>;

/** A path as the report shows it: relative to the project when inside it (no machine paths in a
 * committed report). */
export function displayPath(p: string): string {
  const rel = relative(projectRoot, p);
  return rel.startsWith('..') ? p : rel;
}

/** Requests per bin (ok / failed) from the ledger; t in seconds from t0. */
export function binLedger(ledger: Pick<LedgerEntry, 'start' | 'end' | 'outcome'>[], t0: number, binSeconds: number): { t: number; ok: number; failed: number }[] {
  if (!ledger.length) return [];
  const last = Math.max(...ledger.map((l) => l.end));
  const n = Math.ceil((last - t0) / 1000 / binSeconds) + 1;
  const bins = Array.from({ length: n }, (_, i) => ({ t: i * binSeconds, ok: 0, failed: 0 }));
  for (const l of ledger) {
    const i = Math.floor((l.end - t0) / 1000 / binSeconds);
    if (i < 0 || i >= n) continue;
    if (l.outcome === 'ok') bins[i]!.ok++;
    else bins[i]!.failed++;
  }
  return bins;
}

/** Spans of state per node from events of type 'state' (vrrp) and 'link' (nic/erd). */
export function stateSpans(events: RunEvent[], t0: number, tEnd: number): { node: string; state: string; start: number; end: number }[] {
  const spans: { node: string; state: string; start: number; end: number }[] = [];
  const open = new Map<string, { state: string; start: number }>();
  const sorted = [...events].sort((a, b) => a.t - b.t);
  for (const e of sorted) {
    if (!e.node || (e.type !== 'state' && e.type !== 'link')) continue;
    const state = String(e.data?.state ?? e.data?.link ?? e.type);
    const key = `${e.node}/${e.source}`;
    const prev = open.get(key);
    const t = (e.t - t0) / 1000;
    if (prev) spans.push({ node: `${e.node} (${e.source})`, state: prev.state, start: prev.start, end: t });
    open.set(key, { state, start: t });
  }
  for (const [key, o] of open) spans.push({ node: `${key.split('/')[0]} (${key.split('/')[1]})`, state: o.state, start: o.start, end: (tEnd - t0) / 1000 });
  return spans;
}

/** The SVG file a chart is written to, next to report.md. */
export const chartFile = (title: string) => `${title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}.svg`;

export interface ReportFiles {
  markdown: string;
  html: string;
}

export async function renderRunReport(runDir: string): Promise<ReportFiles> {
  const ledger = readJsonl<LedgerEntry>(join(runDir, RUN_FILES.ledger));
  const events = readJsonl<RunEvent>(join(runDir, RUN_FILES.events));
  const faults = readJsonl<FaultRecord>(join(runDir, RUN_FILES.faults));
  const summary = existsSync(join(runDir, 'summary.json'))
    ? (JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as StoredSummary)
    : undefined;
  const benches: BenchSummary[] = summary?.set ?? (summary && Array.isArray(summary.rows) ? [summary as BenchSummary] : []);
  const times = [...ledger.map((l) => l.start), ...events.map((e) => e.t), ...faults.map((f) => f.start)];
  const t0 = times.length ? Math.min(...times) : 0;
  const tEnd = Math.max(t0, ...ledger.map((l) => l.end), ...events.map((e) => e.t), ...faults.map((f) => f.end ?? f.start));
  const faultIntervals: Interval[] = faults.map((f) => ({
    start: (f.start - t0) / 1000,
    end: ((f.end ?? tEnd) - t0) / 1000,
    label: `${f.kind} ${f.target}`,
  }));
  const charts: { title: string; svg: string }[] = [];
  if (existsSync(join(runDir, RUN_FILES.labPlan))) {
    const plan = JSON.parse(readFileSync(join(runDir, RUN_FILES.labPlan), 'utf8')) as LabPlan;
    charts.push({ title: 'Topology', svg: await renderSvg(planToDot(plan)) });
  }
  if (ledger.length) {
    const bin = (tEnd - t0) / 1000 > 60 ? 1 : 0.1;
    charts.push({ title: 'Throughput', svg: await renderVegaLite(throughputSpec(binLedger(ledger, t0, bin), faultIntervals, bin)) });
    const sample = ledger.length > 5000 ? ledger.filter((_, i) => i % Math.ceil(ledger.length / 5000) === 0 || _.outcome !== 'ok') : ledger;
    charts.push({
      title: 'Latency',
      svg: await renderVegaLite(latencySpec(sample.map((l) => ({ t: (l.start - t0) / 1000, ms: l.end - l.start, outcome: l.outcome })), faultIntervals)),
    });
  }
  const spans = stateSpans(events, t0, tEnd);
  if (spans.length) charts.push({ title: 'Node states', svg: await renderVegaLite(timelineSpec(spans)) });
  for (const b of benches)
    for (const c of b.curves ?? []) charts.push({ title: `${b.bench} ${c.title}`, svg: await renderVegaLite(curveSpec(c)) });

  const ok = ledger.filter((l) => l.outcome === 'ok').length;
  const md: string[] = [`# halab run report`, '', `Run directory: \`${displayPath(runDir)}\``, ''];
  for (const b of benches) md.push(summaryToMarkdown({ ...b, runDir: b.runDir && displayPath(b.runDir) }));
  if (ledger.length) {
    md.push(`## Requests`, '', `${ledger.length} attempted, ${ok} ok, ${ledger.length - ok} failed (ok rate ${((100 * ok) / ledger.length).toFixed(3)} %).`, '');
  }
  if (faults.length) {
    md.push('## Faults', '', '| fault | target | start (s) | end (s) |', '|---|---|---|---|');
    for (const f of faults) md.push(`| ${f.kind} | ${f.target} | ${((f.start - t0) / 1000).toFixed(3)} | ${f.end ? ((f.end - t0) / 1000).toFixed(3) : '—'} |`);
    md.push('');
  }
  for (const c of charts) md.push(`![${c.title}](${chartFile(c.title)})`, '');
  const markdown = md.join('\n');
  for (const c of charts) writeFileSync(join(runDir, chartFile(c.title)), c.svg);
  const { marked } = await import('marked');
  let body = await marked.parse(markdown);
  for (const c of charts) body = body.replace(`<img src="${chartFile(c.title)}" alt="${c.title}">`, c.svg);
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>halab report</title><style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f4f4f4}code{background:#f4f4f4;padding:1px 4px}svg{max-width:100%;height:auto}
</style></head><body>${body}</body></html>\n`;
  writeFileSync(join(runDir, 'report.md'), markdown);
  writeFileSync(join(runDir, 'report.html'), html);
  return { markdown: join(runDir, 'report.md'), html: join(runDir, 'report.html') };
}
