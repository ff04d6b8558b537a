// Validity guard for a throughput figure (TARGETS §A.7 "Validity guards"): a saturation figure
// measures the traffic nodes only if the nodes, not the load generator or the balancer, were the
// bottleneck. From CPU samples of each component and its cap:
//   utilisation = mean over the samples of cpu / cap
//   INVALID when the generator's or the balancer's utilisation > `maxHelperUtilisation`
//           (default 0.80: "generator CPU or director CPU > 80 % of its allocation"); the same
//           for the NFS owner and the host as a whole (every part shares its cores), when sampled
//   and, when `minNodeUtilisation` is set (TARGETS suggests 0.90), when some node's utilisation
//   stays below it (the node was not capacity-bound). Off by default: a warning only.
//   `offeredOverCapacity` (optional): INVALID when offered / (n · B_c) < `minOfferedRatio`
//   (default 1.2: "offered load does not exceed n·B_c by ≥ 20 %").
/** 'nfs': the NFS owner serving the nodes' content; 'host': the whole machine (its busy cores). */
export type Role = 'generator' | 'balancer' | 'node' | 'nfs' | 'host';

export interface CpuSample {
  /** Container / process name. */
  component: string;
  role: Role;
  t?: number;
  /** CPU used, in cores (e.g. 0.43 = 43 % of one core). */
  cpu: number;
  /** CPU allowed, in cores (the cgroup quota, or the host's cores when uncapped). */
  cap: number;
}

export interface ValidityOptions {
  maxHelperUtilisation?: number;
  minNodeUtilisation?: number;
  /** What else made the measurement unusable (a load tool that failed): each is a reason. */
  failures?: string[];
  /** Offered load divided by n·B_c, when known. */
  offeredOverCapacity?: number;
  minOfferedRatio?: number;
}

export interface ComponentUtilisation {
  component: string;
  role: Role;
  samples: number;
  utilisation: number;
}

export interface Validity {
  valid: boolean;
  reasons: string[];
  warnings: string[];
  components: ComponentUtilisation[];
}

export const VALIDITY_DEFAULTS = { maxHelperUtilisation: 0.8, minOfferedRatio: 1.2 } as const;

export function throughputValidity(samples: CpuSample[], opts: ValidityOptions = {}): Validity {
  const maxHelper = opts.maxHelperUtilisation ?? VALIDITY_DEFAULTS.maxHelperUtilisation;
  const minOffered = opts.minOfferedRatio ?? VALIDITY_DEFAULTS.minOfferedRatio;
  const by = new Map<string, { role: Role; sum: number; n: number }>();
  for (const s of samples) {
    if (!(s.cap > 0)) throw new Error(`validity: ${s.component} has cap ${s.cap}`);
    const c = by.get(s.component) ?? { role: s.role, sum: 0, n: 0 };
    c.sum += s.cpu / s.cap;
    c.n++;
    by.set(s.component, c);
  }
  const components = [...by].map(([component, c]) => ({ component, role: c.role, samples: c.n, utilisation: c.sum / c.n }));
  const reasons: string[] = [];
  const warnings: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  for (const c of components) {
    if (c.role !== 'node' && c.utilisation > maxHelper)
      reasons.push(`${c.role} ${c.component} saturated: ${pct(c.utilisation)} of its cap > ${pct(maxHelper)}`);
    if (c.role === 'node' && opts.minNodeUtilisation !== undefined && c.utilisation < opts.minNodeUtilisation)
      reasons.push(`node ${c.component} not capacity-bound: ${pct(c.utilisation)} < ${pct(opts.minNodeUtilisation)}`);
  }
  for (const role of ['generator', 'balancer'] as const)
    if (!components.some((c) => c.role === role)) warnings.push(`no CPU samples for the ${role}: its saturation was not checked`);
  reasons.push(...(opts.failures ?? []));
  if (opts.offeredOverCapacity !== undefined && opts.offeredOverCapacity < minOffered)
    reasons.push(`offered load ${opts.offeredOverCapacity.toFixed(2)}× n·B_c < ${minOffered}×`);
  return { valid: reasons.length === 0, reasons, warnings, components };
}
