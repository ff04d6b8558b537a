// Scaling efficiency from throughput per node count (DESIGN "Measuring"; TARGETS H3/H4):
//   efficiency(n)      = T(n) / (n · T(1))          (T(1) measured in the same series)
//   perNodePctOfBase   = T(n) / n / baseline × 100   (the paper: Table 13 ÷ 1,032 req/s, Table 12)
// With the paper's Table 13 and 1,032 this gives 100.2 / 100.4 / 98.6 / 96.9 % for 2/4/8/16 nodes.
export interface ThroughputPoint {
  nodes: number;
  /** Throughput (e.g. successful requests per second) with `nodes` traffic nodes. */
  throughput: number;
}

export interface ScalingRow {
  nodes: number;
  throughput: number;
  perNode: number;
  /** T(n) / (n·T(1)); null when the series has no 1-node point. */
  efficiency: number | null;
  /** per-node throughput as a percentage of `baseline`; null when no baseline was given. */
  perNodePctOfBaseline: number | null;
}

export function scalingEfficiency(points: ThroughputPoint[], opts: { baseline?: number } = {}): ScalingRow[] {
  for (const p of points)
    if (!(Number.isInteger(p.nodes) && p.nodes >= 1) || !(p.throughput >= 0)) throw new Error(`scaling: bad point ${JSON.stringify(p)}`);
  const one = points.filter((p) => p.nodes === 1);
  const t1 = one.length ? one.reduce((a, p) => a + p.throughput, 0) / one.length : undefined;
  const base = opts.baseline;
  if (base !== undefined && !(base > 0)) throw new Error(`scaling: baseline must be > 0, got ${base}`);
  return [...points]
    .sort((a, b) => a.nodes - b.nodes)
    .map((p) => ({
      nodes: p.nodes,
      throughput: p.throughput,
      perNode: p.throughput / p.nodes,
      efficiency: t1 ? p.throughput / (p.nodes * t1) : null,
      perNodePctOfBaseline: base ? (p.throughput / p.nodes / base) * 100 : null,
    }));
}
