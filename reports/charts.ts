// Charts for reports: Vega-Lite specs (pure builders) rendered to standalone SVG by Vega, offline.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchCurve } from '../benchmarks/bench.ts';

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

/** The layer every time chart shares: fault periods as shaded bands (seconds from run start). */
type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];
function faultShading(faults: Interval[]): Layer {
  return {
    data: { values: faults },
    mark: { type: 'rect', opacity: 0.18, color: '#d62728' },
    encoding: { x: { field: 'start', type: 'quantitative' }, x2: { field: 'end' } },
  };
}

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
      faultShading(faults),
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
      faultShading(faults),
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

/** A benchmark's curve (e.g. measured scaling beside the paper's): one line per series. */
export function curveSpec(c: BenchCurve): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    width: 480,
    height: 240,
    title: c.title,
    data: { values: c.series.flatMap((s) => s.points.map(([x, y]) => ({ series: s.name, x, y }))) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: c.xLabel },
      y: { field: 'y', type: 'quantitative', title: c.yLabel, scale: { zero: false } },
      color: { field: 'series', type: 'nominal' },
    },
  };
}
