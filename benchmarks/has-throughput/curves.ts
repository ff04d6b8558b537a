// Pure analysis of the HAS throughput curves (thesis 003 Tables 12–13; TARGETS H1–H4).
//
// Load curve (throughput vs closed-loop clients, Table 12's shape):
//   knee      = the fewest clients whose throughput reaches `kneeShare` (0.98) of the curve's maximum
//   plateau   = the points from the knee on; level = their mean, flatness = max / min over them
//               (H1: ≤ 1.02), span = last clients / knee clients (H1: ≥ 3× the knee)
//   collapse  = the last point below `collapseShare` (0.95) of the plateau level
//   errorOnset= the fewest clients with errors > 0 (Table 12: at the knee, 16 clients)
// On Table 12 itself this gives knee 16 clients, level 1,035.5 req/s (TARGETS: the mean of the
// saturated rows), flatness 1040/1029 = 1.0107, span 52/16 = 3.25.
import type { BenchCurve } from '../bench.ts';

export interface LoadPoint {
  clients: number;
  rps: number;
  errors?: number;
}

export interface Plateau {
  kneeClients: number;
  level: number;
  flatness: number;
  span: number;
  points: number;
  collapsed: boolean;
  errorOnsetClients: number | null;
}

export function plateau(curve: LoadPoint[], opts: { kneeShare?: number; collapseShare?: number } = {}): Plateau {
  if (!curve.length) throw new Error('plateau: empty curve');
  const pts = [...curve].sort((a, b) => a.clients - b.clients);
  const max = Math.max(...pts.map((p) => p.rps));
  if (!(max > 0)) throw new Error('plateau: no throughput in the curve');
  const knee = pts.find((p) => p.rps >= (opts.kneeShare ?? 0.98) * max)!;
  const flat = pts.filter((p) => p.clients >= knee.clients);
  const level = flat.reduce((a, p) => a + p.rps, 0) / flat.length;
  const min = Math.min(...flat.map((p) => p.rps));
  const last = pts.at(-1)!;
  return {
    kneeClients: knee.clients,
    level,
    flatness: min > 0 ? max / min : Infinity,
    span: last.clients / knee.clients,
    points: flat.length,
    collapsed: last.rps < (opts.collapseShare ?? 0.95) * level,
    errorOnsetClients: pts.find((p) => (p.errors ?? 0) > 0)?.clients ?? null,
  };
}

/** One trial round of the scaling series: T(n) for each n, measured together. */
export type ScalingRound = { nodes: number; rps: number }[];

/**
 * Efficiency E(n) = T(n) / (n·T(1)) within each round (the ratio is taken inside one round, so a
 * machine that got slower between rounds does not bias it), then the median over rounds.
 */
export function roundEfficiencies(rounds: ScalingRound[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const r of rounds) {
    const t1 = r.find((p) => p.nodes === 1)?.rps;
    if (!(t1 && t1 > 0)) throw new Error('scaling: a round has no positive 1-node throughput');
    for (const p of r) out.set(p.nodes, [...(out.get(p.nodes) ?? []), p.rps / (p.nodes * t1)]);
  }
  return out;
}

/** The thesis's per-node % of its baseline (Table 13 ÷ 1,032), with n = 1 at 100 % (the baseline itself). */
export function paperEfficiencySeries(perNodePct: Record<number, number>): [number, number][] {
  const pts: [number, number][] = [[1, 100], ...Object.entries(perNodePct).map(([n, v]): [number, number] => [Number(n), v])];
  return pts.sort((a, b) => a[0] - b[0]);
}

export function loadCurves(measured: LoadPoint[], baseline: number, paper: { clients: number; rps: number }[], paperBaseline: number): BenchCurve[] {
  return [
    {
      title: 'One capped traffic node behind the VIP: throughput vs closed-loop clients',
      xLabel: 'clients',
      yLabel: 'req/s',
      series: [{ name: 'measured', points: measured.map((p) => [p.clients, p.rps]) }],
    },
    {
      title: 'Normalised load curve beside Table 12 (throughput ÷ plateau level)',
      xLabel: 'clients',
      yLabel: 'throughput / baseline',
      series: [
        { name: 'measured ÷ measured plateau', points: measured.map((p) => [p.clients, p.rps / baseline]) },
        { name: 'thesis Table 12 ÷ 1,032', points: paper.map((p) => [p.clients, p.rps / paperBaseline]) },
      ],
    },
  ];
}

export function scalingCurves(eff: { nodes: number; efficiencyPct: number; rps: number }[], t1: number, paperPct: [number, number][]): BenchCurve[] {
  return [
    {
      title: 'Per-node efficiency T(n)/(n·T(1)) beside Table 13',
      xLabel: 'traffic nodes',
      yLabel: '% of the 1-node baseline per node',
      series: [
        { name: 'measured', points: eff.map((e) => [e.nodes, e.efficiencyPct]) },
        { name: 'thesis Table 13 ÷ 1,032', points: paperPct },
      ],
    },
    {
      title: 'Cluster throughput vs traffic nodes',
      xLabel: 'traffic nodes',
      yLabel: 'req/s',
      series: [
        { name: 'measured', points: eff.map((e) => [e.nodes, e.rps]) },
        { name: 'linear n·T(1)', points: eff.map((e) => [e.nodes, e.nodes * t1]) },
      ],
    },
  ];
}
