// CTMC steady-state solver on chains with closed-form answers, and the HAS availability model
// against the thesis's Table 15 (003 p.160) and the R1 reconstruction (TARGETS §A.6).
import { expect } from 'chai';
import {
  generatorMatrix,
  residual,
  steadyState,
  steadyStateDense,
  steadyStateGaussSeidel,
  steadyStateSparse,
  type Ctmc,
} from '../../benchmarks/model/ctmc.ts';
import {
  availabilityWithMeasuredFailover,
  clientChain,
  majorityQuorum,
  MINUTES_PER_YEAR,
  solveHasAvailability,
  TABLE_14,
  TABLE_15,
} from '../../benchmarks/model/has-availability.ts';
import { runAvailabilityModelBench } from '../../benchmarks/availability-model/bench.ts';

const relErr = (x: number, y: number) => Math.abs(x - y) / Math.abs(y);
const solvers: [string, (c: Ctmc) => Float64Array][] = [
  ['dense GTH', (c) => steadyStateDense(generatorMatrix(c))],
  ['sparse GTH (min-degree)', (c) => steadyStateSparse(c)],
  ['sparse GTH (natural)', (c) => steadyStateSparse(c, { order: 'natural' })],
  ['Gauss–Seidel', (c) => steadyStateGaussSeidel(c).pi],
];

describe('ctmc: steady state', () => {
  for (const [name, solve] of solvers) {
    describe(name, () => {
      it('2-state up/down: A = μ/(λ+μ)', () => {
        const l = 1 / 5000;
        const m = 1 / 4;
        const pi = solve({ n: 2, transitions: [{ from: 0, to: 1, rate: l }, { from: 1, to: 0, rate: m }] });
        expect(relErr(pi[0], m / (l + m))).to.be.below(1e-14);
        expect(relErr(pi[1], l / (l + m))).to.be.below(1e-14);
      });

      it('3-state birth–death: π1/π0 = λ0/μ1, π2/π1 = λ1/μ2', () => {
        const [l0, l1, m1, m2] = [2, 0.5, 3, 7];
        const pi = solve({
          n: 3,
          transitions: [
            { from: 0, to: 1, rate: l0 },
            { from: 1, to: 2, rate: l1 },
            { from: 1, to: 0, rate: m1 },
            { from: 2, to: 1, rate: m2 },
          ],
        });
        const w = [1, l0 / m1, (l0 / m1) * (l1 / m2)];
        const s = w[0] + w[1] + w[2];
        w.forEach((x, i) => expect(relErr(pi[i], x / s)).to.be.below(1e-14));
      });

      it('stiff chain (rates 1e-6 beside 1e3) keeps full relative accuracy in the tiny states', () => {
        // birth–death 0 ⇄ 1 ⇄ 2 with λ = 1e-6, μ = 1e3: π ∝ 1, 1e-9, 1e-18
        const pi = solve({
          n: 3,
          transitions: [
            { from: 0, to: 1, rate: 1e-6 },
            { from: 1, to: 2, rate: 1e-6 },
            { from: 1, to: 0, rate: 1e3 },
            { from: 2, to: 1, rate: 1e3 },
          ],
        });
        const r = 1e-9;
        const s = 1 + r + r * r;
        expect(relErr(pi[0], 1 / s)).to.be.below(1e-14);
        expect(relErr(pi[1], r / s)).to.be.below(1e-13);
        expect(relErr(pi[2], (r * r) / s)).to.be.below(1e-13);
      });
    });
  }

  it('a chain with two closed classes is refused; a transient state gets π = 0', () => {
    const two: Ctmc = { n: 4, transitions: [{ from: 0, to: 1, rate: 1 }, { from: 1, to: 0, rate: 1 }, { from: 2, to: 3, rate: 1 }, { from: 3, to: 2, rate: 1 }] };
    expect(() => steadyStateDense(generatorMatrix(two))).to.throw(/irreducible/);
    expect(() => steadyStateSparse(two, { order: 'natural' })).to.throw(/irreducible/);
    const transient: Ctmc = { n: 3, transitions: [{ from: 0, to: 1, rate: 1 }, { from: 1, to: 0, rate: 3 }, { from: 2, to: 0, rate: 1 }] };
    expect(Array.from(steadyState(transient))).to.deep.equal([0.75, 0.25, 0]);
  });

  it('the solvers agree on the HAS client chain (8 and 10 nodes) to 1e-13 relative', function () {
    this.timeout(30_000); // dense GTH on the 10-node chain: ~1 s alone, more on a busy machine
    for (const [n, q] of [[8, 5], [10, 6]]) {
      const { chain } = clientChain(TABLE_14, n, q);
      const ref = steadyStateDense(generatorMatrix(chain));
      const gs = steadyStateGaussSeidel(chain).pi;
      const sp = n === 8 ? steadyStateSparse(chain) : ref;
      let worst = 0;
      for (let i = 0; i < chain.n; i++) worst = Math.max(worst, relErr(gs[i], ref[i]), relErr(sp[i], ref[i]));
      expect(worst, `${n} nodes`).to.be.below(1e-13);
      expect(residual(chain, ref)).to.be.below(1e-16);
    }
  });
});

describe('HAS availability model (003 §4.9)', function () {
  this.timeout(60_000);
  // R1 column of TARGETS §A.6 (12 digits) and its downtime.
  const R1: Record<number, [number, number]> = {
    4: [0.999933474809, 34.9656403644],
    6: [0.999933335581, 35.0388187674],
    8: [0.999933335302, 35.0389654056],
    16: [0.999933335301, 35.0389656991],
  };
  const states: Record<number, number> = { 4: 29, 6: 148, 8: 540, 16: 18876 };

  for (const row of TABLE_15) {
    it(`${row.nodes} nodes / Q${row.quorum}: client sub-model within 1e-9 of Table 15 and 1e-12 of R1`, () => {
      const a = solveHasAvailability(TABLE_14, row.nodes, row.quorum);
      expect(a.client.states).to.equal(states[row.nodes]);
      expect(Math.abs(a.client.availability - row.availability)).to.be.at.most(1e-9);
      expect(Math.abs(a.client.availability - R1[row.nodes][0])).to.be.at.most(1e-12);
      expect(Math.abs(a.client.downtimeMinPerYear - R1[row.nodes][1])).to.be.below(1e-6);
      expect(Math.abs(a.client.downtimeMinPerYear - row.downtimeMinPerYear)).to.be.below(1e-9 * MINUTES_PER_YEAR);
      expect(a.client.downtimeMinPerYear).to.be.closeTo((1 - a.client.availability) * MINUTES_PER_YEAR, 1e-9);
    });
  }

  it('quorum is ⌊N/2⌋+1 as in Table 15', () => {
    for (const r of TABLE_15) expect(majorityQuorum(r.nodes)).to.equal(r.quorum);
  });

  it('with the servers\' 30 s takeover: U_server ≈ 2.2995e-6, U_LAN ≈ 8.363e-7, A ≈ 0.99993034 / 0.99993020', () => {
    const a4 = solveHasAvailability(TABLE_14, 4, 3);
    const a6 = solveHasAvailability(TABLE_14, 6, 4);
    expect(a4.server.unavailability).to.be.closeTo(2.2995e-6, 1e-10);
    expect(a4.lan.unavailability).to.be.closeTo(8.363e-7, 1e-10);
    expect(a4.system.availability).to.be.closeTo(0.999930339, 1e-9);
    expect(a6.system.availability).to.be.closeTo(0.9999302, 1e-9);
    // and that is NOT Table 15
    expect(Math.abs(a6.system.availability - TABLE_15[1].availability)).to.be.above(1e-6);
  });

  it('measured failover replaces the takeover times', () => {
    const base = solveHasAvailability(TABLE_14, 6, 4);
    const same = availabilityWithMeasuredFailover([30_000], 6, 4);
    expect(same.system.availability).to.be.closeTo(base.system.availability, 1e-15);
    const fast = availabilityWithMeasuredFailover({ serverTakeoverMs: [120, 95, 175], lanTakeoverMs: [380] }, 6);
    expect(fast.params.serverTakeoverS).to.be.closeTo(0.13, 1e-12);
    expect(fast.params.lanTakeoverS).to.be.closeTo(0.38, 1e-12);
    expect(fast.system.availability).to.be.above(base.system.availability);
    // the takeover term (λ_ps × 30 s ≈ 1.66e-6) all but vanishes; both-down terms remain
    expect(fast.system.availability - base.system.availability).to.be.closeTo(2.47e-6, 0.05e-6);
    expect(fast.client.availability).to.equal(base.client.availability);
    expect(() => availabilityWithMeasuredFailover([], 6)).to.throw();
  });

  it('the bench summary computes every row and passes', () => {
    const s = runAvailabilityModelBench({ measuredFailoverMs: [150, 200] });
    expect(s.allPass).to.equal(true);
    expect(s.table15.map((r) => r.nodes)).to.deep.equal([4, 6, 8, 16]);
    expect(s.withTakeover).to.have.length(4);
    expect(s.measured?.fourNines).to.equal(true);
    expect(s.measured?.serverTakeoverMs).to.be.closeTo(175, 1e-9);
  });
});

describe('CTMC steady state: closed forms through the public entry points', () => {
  it('two-state up/down: A = μ / (λ + μ)', () => {
    const lambda = 1 / 1000;
    const mu = 1 / 2;
    const c: Ctmc = { n: 2, transitions: [{ from: 0, to: 1, rate: lambda }, { from: 1, to: 0, rate: mu }] };
    const pi = steadyState(c);
    expect(pi[0]).to.be.closeTo(mu / (lambda + mu), 1e-15);
  });

  it('birth–death chain: π_k ∝ (λ/μ)^k, dense and sparse', () => {
    const l = 2;
    const m = 3;
    const c: Ctmc = { n: 3, transitions: [{ from: 0, to: 1, rate: l }, { from: 1, to: 2, rate: l }, { from: 1, to: 0, rate: m }, { from: 2, to: 1, rate: m }] };
    const r = l / m;
    const z = 1 + r + r * r;
    for (const pi of [steadyStateDense(generatorMatrix(c)), steadyStateSparse(c)]) {
      expect(pi[0]).to.be.closeTo(1 / z, 1e-14);
      expect(pi[2]).to.be.closeTo((r * r) / z, 1e-14);
    }
  });

  it('stays accurate on a stiff chain (1e-6 beside 1e3)', () => {
    const a = 1e-6;
    const b = 1e3;
    const c: Ctmc = { n: 2, transitions: [{ from: 0, to: 1, rate: a }, { from: 1, to: 0, rate: b }] };
    const pi = steadyState(c);
    expect(pi[1]).to.be.closeTo(a / (a + b), 1e-21);
    expect(residual(c, pi)).to.be.below(1e-12);
  });
});
