// Charts for reports: Vega-Lite specs (pure builders) rendered to standalone SVG by Vega, offline.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export interface Interval {
  start: number;
  end: number;
  label: string;
}

const WIDTH = 720;

/** Ok and failed requests per bin over time, with fault periods shaded. Times in seconds from run start. */
export function throughputSpec(points: { t: number; ok: number; failed: number }[], faults: Interval[], binSeconds: number): TopLevelSpec {
  const rows = points.flatMap((p) => [
    { t: p.t, series: 'ok', rate: p.ok / binSeconds },
    { t: p.t, series: 'failed', rate: p.failed / binSeconds },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: 180,
    title: 'Requests per second (faults shaded)',
    layer: [
      {
        data: { values: faults },
        mark: { type: 'rect', opacity: 0.18, color: '#d62728' },
        encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' } },
      },
      {
        data: { values: rows },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time (s)' },
          y: { field: 'rate', type: 'quantitative', title: 'req/s' },
          color: { field: 'series', type: 'nominal', scale: { domain: ['ok', 'failed'], range: ['#2ca02c', '#d62728'] } },
        },
      },
    ],
  };
}

/** Latency of each request (ms, log scale) over time, failures marked. */
export function latencySpec(points: { t: number; ms: number; outcome: string }[], faults: Interval[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: 180,
    title: 'Request latency',
    layer: [
      {
        data: { values: faults },
        mark: { type: 'rect', opacity: 0.18, color: '#d62728' },
        encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' } },
      },
      {
        data: { values: points.map((p) => ({ ...p, ms: Math.max(p.ms, 0.1) })) },
        mark: { type: 'point', size: 6, filled: true, opacity: 0.5 },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'time (s)' },
          y: { field: 'ms', type: 'quantitative', title: 'latency (ms)', scale: { type: 'log' } },
          color: { field: 'outcome', type: 'nominal' },
        },
      },
    ],
  };
}

/** One row per node: coloured spans of its state (MASTER/BACKUP/FAULT, link down …). */
export function timelineSpec(spans: { node: string; state: string; start: number; end: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: WIDTH,
    height: { step: 18 },
    title: 'Roles and states per node',
    data: { values: spans },
    mark: { type: 'bar' },
    encoding: {
      y: { field: 'node', type: 'nominal', title: null },
      x: { field: 'start', type: 'quantitative', title: 'time (s)' },
      x2: { field: 'end' },
      color: { field: 'state', type: 'nominal' },
      tooltip: [{ field: 'state' }, { field: 'start' }, { field: 'end' }],
    },
  };
}

/** Measured scaling beside the paper's: per-node efficiency (%) against the number of nodes. */
export function scalingSpec(rows: { nodes: number; series: string; efficiency: number }[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480,
    height: 240,
    title: 'Per-node throughput as % of one node (efficiency)',
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'nodes', type: 'quantitative', title: 'traffic nodes', scale: { type: 'log', base: 2 } },
      y: { field: 'efficiency', type: 'quantitative', title: 'efficiency (%)', scale: { zero: false } },
      color: { field: 'series', type: 'nominal' },
    },
  };
}
