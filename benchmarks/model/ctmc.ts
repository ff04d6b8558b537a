// Steady state of a finite, irreducible continuous-time Markov chain: π Q = 0, Σ π = 1.
//
// Method: GTH (Grassmann–Taksar–Heyman) state reduction. It is Gaussian elimination on the
// generator where the pivot (the diagonal) is never used: it is recomputed as the sum of the
// remaining off-diagonal rates of the row. Every operation then adds or multiplies non-negative
// numbers, so there is no cancellation and the result keeps full relative accuracy even for stiff
// chains (rates 1e-6 beside 1e3) — which is what a 1e-10 reproduction of an availability table
// needs. References: W. K. Grassmann, M. I. Taksar, D. P. Heyman, "Regenerative analysis and
// steady state distributions for Markov chains", Operations Research 33(5), 1985; W. J. Stewart,
// "Introduction to the Numerical Solution of Markov Chains", Princeton 1994, §2.7.
//
// Two implementations of the same algorithm:
//  - `steadyStateDense`: the textbook O(n³) form on a dense matrix (small chains, and a reference);
//  - `steadyStateSparse`: the same reduction on sparse rows, eliminating states in an order that
//    keeps fill-in small (default: a greedy minimum-degree order), for chains of 10⁴–10⁵ states.
// For chains whose fill-in makes GTH too slow (the HAS client chain at 16 nodes: 18,876 states,
// fill-in close to dense), `steadyStateGaussSeidel` iterates to a strict relative tolerance; it
// agrees with GTH to ~4e-15 (relative, every component) where both can run.
// `steadyState` picks one by size.

/** One transition i → j at `rate` (per unit time). Several transitions between the same pair add up. */
export interface Transition {
  from: number;
  to: number;
  rate: number;
}

/** A chain given by its number of states and its off-diagonal rates (the diagonal is implied). */
export interface Ctmc {
  n: number;
  transitions: Transition[];
}

function checkTransitions(c: Ctmc): void {
  for (const t of c.transitions) {
    if (!(t.from >= 0 && t.from < c.n && t.to >= 0 && t.to < c.n) || !Number.isInteger(t.from) || !Number.isInteger(t.to))
      throw new Error(`ctmc: transition ${t.from}→${t.to} outside 0..${c.n - 1}`);
    if (!(t.rate >= 0) || !Number.isFinite(t.rate)) throw new Error(`ctmc: transition ${t.from}→${t.to} has rate ${t.rate}`);
  }
}

/** The dense generator Q (rows sum to 0). */
export function generatorMatrix(c: Ctmc): number[][] {
  checkTransitions(c);
  const q = Array.from({ length: c.n }, () => new Array<number>(c.n).fill(0));
  for (const t of c.transitions) if (t.from !== t.to) q[t.from][t.to] += t.rate;
  for (let i = 0; i < c.n; i++) q[i][i] = -q[i].reduce((a, v, j) => (j === i ? a : a + v), 0);
  return q;
}

/**
 * GTH on a dense generator (only the off-diagonal entries are read). O(n³) time, O(n²) memory.
 * Throws when the chain is not irreducible (a state whose remaining exit rate is 0).
 */
export function steadyStateDense(q: number[][]): Float64Array {
  const n = q.length;
  if (n === 0) throw new Error('ctmc: empty chain');
  const a = q.map((row, i) => {
    if (row.length !== n) throw new Error('ctmc: generator is not square');
    const r = Float64Array.from(row);
    r[i] = 0;
    return r;
  });
  // Reduction: eliminate states n-1 … 1, folding their paths into the remaining ones.
  for (let k = n - 1; k > 0; k--) {
    const rk = a[k];
    let s = 0;
    for (let j = 0; j < k; j++) s += rk[j];
    if (!(s > 0)) throw new Error(`ctmc: chain is not irreducible (state ${k} cannot reach states 0..${k - 1})`);
    for (let i = 0; i < k; i++) {
      const f = a[i][k] / s;
      a[i][k] = f; // kept for the back substitution
      if (f === 0) continue;
      const ri = a[i];
      for (let j = 0; j < k; j++) if (j !== i) ri[j] += f * rk[j];
    }
  }
  // Back substitution: π_k = Σ_{i<k} π_i · a[i][k] (a[i][k] already divided by the exit sum).
  const pi = new Float64Array(n);
  pi[0] = 1;
  for (let k = 1; k < n; k++) {
    let v = 0;
    for (let i = 0; i < k; i++) v += pi[i] * a[i][k];
    pi[k] = v;
  }
  return normalise(pi);
}

export type EliminationOrder = 'min-degree' | 'natural';

/**
 * GTH on sparse rows. States are eliminated in `order` (default: greedy minimum degree, i.e. the
 * state with the fewest in×out neighbours among those still present, which keeps fill-in small).
 * The arithmetic per eliminated state is the dense algorithm's, restricted to its neighbours.
 */
export function steadyStateSparse(c: Ctmc, opts: { order?: EliminationOrder } = {}): Float64Array {
  checkTransitions(c);
  const n = c.n;
  if (n === 0) throw new Error('ctmc: empty chain');
  const out: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  const inn: Set<number>[] = Array.from({ length: n }, () => new Set());
  for (const t of c.transitions) {
    if (t.from === t.to || t.rate === 0) continue;
    const m = out[t.from];
    m.set(t.to, (m.get(t.to) ?? 0) + t.rate);
    inn[t.to].add(t.from);
  }
  const alive = new Uint8Array(n).fill(1);
  // For the back substitution: per eliminated state k, the states i still present then and the
  // factor a(i,k)/s_k.
  const colFrom: Int32Array[] = new Array(n);
  const colVal: Float64Array[] = new Array(n);
  const eliminated: number[] = [];

  const degree = (k: number) => inn[k].size * out[k].size;
  // Lazy binary min-heap of [degree, state] (ties: lower state first); stale entries are skipped.
  const heap: [number, number][] = [];
  const less = (x: [number, number], y: [number, number]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  const push = (d: number, k: number) => {
    const e: [number, number] = [d, k];
    let i = heap.length;
    heap.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(e, heap[p])) break;
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = e;
  };
  const pop = (): [number, number] => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = -1;
      let best = last;
      if (l < heap.length && less(heap[l], best)) (m = l), (best = heap[l]);
      if (r < heap.length && less(heap[r], best)) (m = r), (best = heap[r]);
      if (m < 0) break;
      heap[i] = heap[m];
      i = m;
    }
    heap[i] = last;
    return top;
  };

  const minDegree = (opts.order ?? 'min-degree') === 'min-degree';
  if (minDegree) for (let k = 0; k < n; k++) push(degree(k), k);
  let natural = n - 1;

  for (let step = 0; step < n - 1; step++) {
    let k: number;
    if (minDegree) {
      for (;;) {
        const [d, s] = pop();
        if (alive[s] && d === degree(s)) {
          k = s;
          break;
        }
      }
    } else k = natural--;
    alive[k] = 0;
    const rk = out[k];
    let s = 0;
    for (const [j, v] of rk) if (alive[j]) s += v;
    if (!(s > 0)) throw new Error(`ctmc: chain is not irreducible (state ${k} has no exit to the states left)`);
    const froms: number[] = [];
    const vals: number[] = [];
    for (const i of inn[k]) {
      if (!alive[i]) continue;
      const ri = out[i];
      const f = ri.get(k)! / s;
      ri.delete(k);
      froms.push(i);
      vals.push(f);
      for (const [j, v] of rk) {
        if (j === i || !alive[j]) continue;
        const old = ri.get(j);
        if (old === undefined) {
          ri.set(j, f * v);
          inn[j].add(i);
        } else ri.set(j, old + f * v);
      }
    }
    colFrom[k] = Int32Array.from(froms);
    colVal[k] = Float64Array.from(vals);
    eliminated.push(k);
    // Free memory and refresh the degrees that changed.
    for (const j of rk.keys()) inn[j].delete(k);
    out[k] = new Map();
    inn[k] = new Set();
    if (minDegree) {
      const touched = new Set<number>(froms);
      for (const j of rk.keys()) if (alive[j]) touched.add(j);
      for (const t of touched) push(degree(t), t);
    }
  }
  const pi = new Float64Array(n);
  let root = -1;
  for (let k = 0; k < n; k++) if (alive[k]) root = k;
  pi[root] = 1;
  for (let e = eliminated.length - 1; e >= 0; e--) {
    const k = eliminated[e];
    const fr = colFrom[k];
    const fv = colVal[k];
    let v = 0;
    for (let x = 0; x < fr.length; x++) v += pi[fr[x]] * fv[x];
    pi[k] = v;
  }
  return normalise(pi);
}

export interface IterativeOptions {
  /** Stop when no component changed by more than `tol` relative to itself over a sweep (default 1e-14). */
  tol?: number;
  /** Give up (throw) after this many sweeps (default 200,000). */
  maxSweeps?: number;
}

/**
 * Gauss–Seidel on the balance equations π_j (−q_jj) = Σ_{i≠j} π_i q_ij, with forward and backward
 * sweeps alternating (symmetric Gauss–Seidel) and renormalisation after each pair. For chains too
 * big for GTH's fill-in. Converged when every component's relative change over a sweep pair is
 * ≤ tol; throws when that does not happen within maxSweeps. Its answers are checked against GTH on
 * the chains small enough for both (test/unit/ctmc.test.ts).
 */
export function steadyStateGaussSeidel(c: Ctmc, opts: IterativeOptions = {}): { pi: Float64Array; sweeps: number } {
  checkTransitions(c);
  const n = c.n;
  const tol = opts.tol ?? 1e-14;
  const maxSweeps = opts.maxSweeps ?? 200_000;
  // Incoming rates per state (CSR by target) and each state's total exit rate.
  const exit = new Float64Array(n);
  const count = new Int32Array(n + 1);
  const ts = c.transitions.filter((t) => t.from !== t.to && t.rate > 0);
  for (const t of ts) {
    exit[t.from] += t.rate;
    count[t.to + 1]++;
  }
  for (let j = 0; j < n; j++) count[j + 1] += count[j];
  const src = new Int32Array(ts.length);
  const rate = new Float64Array(ts.length);
  const fill = count.slice(0, n);
  for (const t of ts) {
    const x = fill[t.to]++;
    src[x] = t.from;
    rate[x] = t.rate;
  }
  for (let j = 0; j < n; j++) if (!(exit[j] > 0) && n > 1) throw new Error(`ctmc: chain is not irreducible (state ${j} has no exit)`);
  const pi = new Float64Array(n).fill(1 / n);
  const prev = new Float64Array(n);
  const update = (j: number) => {
    let v = 0;
    for (let x = count[j]; x < count[j + 1]; x++) v += pi[src[x]] * rate[x];
    pi[j] = v / exit[j];
  };
  for (let sweep = 1; sweep <= maxSweeps; sweep++) {
    prev.set(pi);
    for (let j = 0; j < n; j++) update(j);
    for (let j = n - 1; j >= 0; j--) update(j);
    normalise(pi);
    let change = 0;
    for (let j = 0; j < n; j++) if (pi[j] > 0) change = Math.max(change, Math.abs(pi[j] - prev[j]) / pi[j]);
    if (change <= tol) return { pi, sweeps: sweep };
  }
  throw new Error(`ctmc: Gauss–Seidel did not converge to ${tol} in ${maxSweeps} sweeps`);
}

function normalise(pi: Float64Array): Float64Array {
  let sum = 0;
  for (const v of pi) sum += v;
  if (!(sum > 0) || !Number.isFinite(sum)) throw new Error('ctmc: steady state could not be normalised');
  for (let i = 0; i < pi.length; i++) pi[i] /= sum;
  return pi;
}

export type SteadyStateMethod = 'auto' | 'gth-dense' | 'gth-sparse' | 'gauss-seidel';

/**
 * Steady-state vector π of a chain. 'auto': dense GTH up to `denseMax` states (default 1,000),
 * Gauss–Seidel above (GTH's fill-in makes chains of 10⁴ states with many paths too slow).
 */
export function steadyState(c: Ctmc, opts: { method?: SteadyStateMethod; denseMax?: number; order?: EliminationOrder } & IterativeOptions = {}): Float64Array {
  const method = opts.method ?? 'auto';
  if (method === 'gth-dense' || (method === 'auto' && c.n <= (opts.denseMax ?? 1000))) return steadyStateDense(generatorMatrix(c));
  if (method === 'gth-sparse') return steadyStateSparse(c, opts);
  return steadyStateGaussSeidel(c, opts).pi;
}

/** Which method `steadyState` uses for a chain of n states. */
export const autoMethod = (n: number, denseMax = 1000): SteadyStateMethod => (n <= denseMax ? 'gth-dense' : 'gauss-seidel');

/** ‖π Q‖∞: how far a vector is from solving the balance equations. */
export function residual(c: Ctmc, pi: ArrayLike<number>): number {
  const r = new Float64Array(c.n);
  for (const t of c.transitions) {
    if (t.from === t.to) continue;
    const f = pi[t.from] * t.rate;
    r[t.to] += f;
    r[t.from] -= f;
  }
  let m = 0;
  for (const v of r) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * A chain built from a state type: states are discovered from `initial` by following
 * `next(state)`; `key` names a state. Returns the chain and its states (index = position).
 */
export function exploreChain<S>(initial: S, key: (s: S) => string, next: (s: S) => { to: S; rate: number }[]): { chain: Ctmc; states: S[] } {
  const index = new Map<string, number>([[key(initial), 0]]);
  const states: S[] = [initial];
  const transitions: Transition[] = [];
  for (let i = 0; i < states.length; i++) {
    for (const { to, rate } of next(states[i])) {
      if (rate === 0) continue;
      const k = key(to);
      let j = index.get(k);
      if (j === undefined) {
        j = states.length;
        index.set(k, j);
        states.push(to);
      }
      transitions.push({ from: i, to: j, rate });
    }
  }
  return { chain: { n: states.length, transitions }, states };
}
