// CPU-cap arithmetic for the HAS throughput benchmarks (TARGETS §A.7 "Capacity normalisation"):
// every traffic node is capped at q cores; at saturation n nodes serve n·q/a requests per second
// (a = node CPU seconds per request), and the generator and the balancer pay their own CPU per
// request on top, all on the same host, and so does the NFS owner for what the nodes' caches miss.
// So the host needs
//   cores(n, q) = n·q · (1 + (g + b + f) / a) + idle
// (g, b, f = generator, balancer and NFS owner CPU seconds per request; idle = what the rest of the lab burns
// doing nothing: masters' VRRP adverts, traffic managers, idle daemons). The cap fits when
// cores(16, q) ≤ budget, the budget being the host's cores times a headroom share.

export interface PerRequestCosts {
  /** Traffic node CPU seconds per request (at its cap, saturated). */
  node: number;
  /** Load generator CPU seconds per request. */
  generator: number;
  /** Balancer (active master) CPU seconds per request. */
  balancer: number;
  /** NFS owner CPU seconds per request (0 without NFS). */
  nfs?: number;
  /** Cores the rest of the lab uses regardless of load. */
  idleCores: number;
}

/** Per-request costs from one saturated measurement: cores used by each part and the rate served. */
export function perRequestCosts(m: { rps: number; nodeCores: number; generatorCores: number; balancerCores: number; nfsCores?: number; idleCores: number }): PerRequestCosts {
  if (!(m.rps > 0)) throw new Error(`cap: need a positive request rate, got ${m.rps}`);
  return { node: m.nodeCores / m.rps, generator: m.generatorCores / m.rps, balancer: m.balancerCores / m.rps, nfs: (m.nfsCores ?? 0) / m.rps, idleCores: m.idleCores };
}

/** CPU the generator, balancer and NFS owner spend per unit of node CPU. */
const helpersPerNode = (c: PerRequestCosts) => (c.generator + c.balancer + (c.nfs ?? 0)) / c.node;

/** Host cores n nodes capped at q need when saturated. */
export function coresNeeded(nodes: number, cap: number, c: PerRequestCosts): number {
  if (!(c.node > 0)) throw new Error(`cap: node CPU per request must be > 0, got ${c.node}`);
  return nodes * cap * (1 + helpersPerNode(c)) + c.idleCores;
}

/** The largest cap (a multiple of `step`) with coresNeeded(nodes, cap) ≤ budget; 0 when none fits. */
export function largestCap(nodes: number, budgetCores: number, c: PerRequestCosts, step = 0.005): number {
  const perCap = nodes * (1 + helpersPerNode(c));
  const raw = (budgetCores - c.idleCores) / perCap;
  if (raw <= 0) return 0;
  // Round down on the step grid (guard against 0.03/0.005 = 5.999…).
  return Math.floor(raw / step + 1e-9) * step;
}
