// Pure analysis of the HAS throughput curves (thesis 003 Tables 12–13; TARGETS H1–H4).
//
// Load curve (throughput vs closed-loop clients, Table 12's shape):
//   reference = the median L of the upper half of the curve (by clients: the points past the
//               middle are saturated when the curve has a plateau). Not the maximum: on a machine
//               whose windows vary ±15 %, the maximum is an outlier, and "98 % of the maximum"
//               put the knee wherever the lucky window was.
//   band      = max(1 − kneeShare, 2 × 1.4826 × MAD / L) over that upper half (two robust
//               standard deviations of the window noise, at least 2 %)
//   knee      = the fewest clients whose throughput reaches L × (1 − band)
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

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export function plateau(curve: LoadPoint[], opts: { kneeShare?: number; collapseShare?: number } = {}): Plateau {
  if (!curve.length) throw new Error('plateau: empty curve');
  const pts = [...curve].sort((a, b) => a.clients - b.clients);
  if (!(Math.max(...pts.map((p) => p.rps)) > 0)) throw new Error('plateau: no throughput in the curve');
  const upper = pts.slice(Math.floor(pts.length / 2)).map((p) => p.rps);
  const ref = median(upper);
  const mad = median(upper.map((r) => Math.abs(r - ref)));
  const band = Math.max(1 - (opts.kneeShare ?? 0.98), (2 * 1.4826 * mad) / ref);
  const knee = pts.find((p) => p.rps >= ref * (1 - band)) ?? pts.at(-1)!;
  const flat = pts.filter((p) => p.clients >= knee.clients);
  const level = flat.reduce((a, p) => a + p.rps, 0) / flat.length;
  const min = Math.min(...flat.map((p) => p.rps));
  const max = Math.max(...flat.map((p) => p.rps));
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

/** One trial round of the scaling series: T(n) for each n, measured together, with each window's validity. */
export type ScalingRound = { nodes: number; rps: number; valid?: boolean }[];

/**
 * Efficiency E(n) = T(n) / (n·T(1)) within each round (the ratio is taken inside one round, so a
 * machine that got slower between rounds does not bias it). `all` has every round's ratio, `valid`
 * only those of rounds where both T(n) and T(1) were valid windows.
 */
export function roundEfficiencies(rounds: ScalingRound[]): { all: Map<number, number[]>; valid: Map<number, number[]> } {
  const all = new Map<number, number[]>();
  const valid = new Map<number, number[]>();
  const add = (m: Map<number, number[]>, n: number, e: number) => m.set(n, [...(m.get(n) ?? []), e]);
  for (const r of rounds) {
    const one = r.find((p) => p.nodes === 1);
    if (!(one && one.rps > 0)) throw new Error('scaling: a round has no positive 1-node throughput');
    for (const p of r) {
      const e = p.rps / (p.nodes * one.rps);
      add(all, p.nodes, e);
      if (p.valid !== false && one.valid !== false) add(valid, p.nodes, e);
    }
  }
  return { all, valid };
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

/** One window's share of the decomposition: throughput and the CPU its serving nodes used. */
export type CpuPoint = { nodes: number; rps: number; nodeCores: number };

/**
 * Why E(n) is what it is. With every node capped at q, T(n) = n·q·u(n)/c(n), u = the nodes' mean
 * utilisation of their caps and c = node CPU seconds per request, so
 *   E(n) = [u(n)/u(1)] × [c(1)/c(n)]
 * The first factor is whether the nodes got their CPU (distribution, idle nodes); the second,
 * whether a request cost them the same CPU as one node alone (on one shared host it need not: 16
 * nodes' working sets share one L3, and their slices interleave). Per round, then the median.
 */
export function efficiencyFactors(rounds: CpuPoint[][]): Map<number, { utilisation: number; cost: number; costUs: number; costUs1: number }> {
  const per = new Map<number, { u: number[]; c: number[]; us: number[]; us1: number[] }>();
  for (const r of rounds) {
    const one = r.find((p) => p.nodes === 1);
    if (!one || !(one.rps > 0) || !(one.nodeCores > 0)) continue;
    const c1 = one.nodeCores / one.rps;
    for (const p of r) {
      if (!(p.rps > 0) || !(p.nodeCores > 0)) continue;
      const cn = p.nodeCores / p.rps;
      const x = per.get(p.nodes) ?? { u: [], c: [], us: [], us1: [] };
      x.u.push(p.nodeCores / p.nodes / one.nodeCores);
      x.c.push(c1 / cn);
      x.us.push(cn * 1e6);
      x.us1.push(c1 * 1e6);
      per.set(p.nodes, x);
    }
  }
  return new Map([...per].map(([n, x]) => [n, { utilisation: median(x.u), cost: median(x.c), costUs: median(x.us), costUs1: median(x.us1) }]));
}
