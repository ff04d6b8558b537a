// The CTMC steady-state solver on chains with closed-form answers.
import { expect } from 'chai';
import { steadyState, steadyStateDense, steadyStateSparse, generatorMatrix, residual, type Ctmc } from '../../benchmarks/model/ctmc.ts';

describe('CTMC steady state (GTH)', () => {
  it('two-state up/down: A = μ / (λ + μ)', () => {
    const lambda = 1 / 1000;
    const mu = 1 / 2;
    const c: Ctmc = { n: 2, transitions: [{ from: 0, to: 1, rate: lambda }, { from: 1, to: 0, rate: mu }] };
    const pi = steadyState(c);
    expect(pi[0]).to.be.closeTo(mu / (lambda + mu), 1e-15);
  });

  it('birth–death chain: π_k ∝ (λ/μ)^k', () => {
    const l = 2;
    const m = 3;
    const c: Ctmc = { n: 3, transitions: [{ from: 0, to: 1, rate: l }, { from: 1, to: 2, rate: l }, { from: 1, to: 0, rate: m }, { from: 2, to: 1, rate: m }] };
    const r = l / m;
    const z = 1 + r + r * r;
    const dense = steadyStateDense(generatorMatrix(c));
    const sparse = steadyStateSparse(c);
    for (const pi of [dense, sparse]) {
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
