// Checkers on hand-made ledgers with known answers.
import { expect } from 'chai';
import { failoverOf, failovers } from '../../benchmarks/checkers/failover.ts';
import { availability } from '../../benchmarks/checkers/availability.ts';
import { percentile, summarize } from '../../benchmarks/checkers/stats.ts';
import { vipOverlaps } from '../../benchmarks/checkers/invariants.ts';
import type { LedgerEntry } from '../../benchmarks/ledger.ts';

/** A probe every 10 ms from t=0 for `n` requests, failing where `fails(start)`. */
function probe(n: number, fails: (t: number) => LedgerEntry['outcome'] | undefined): LedgerEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const start = i * 10;
    const bad = fails(start);
    return { id: i, start, end: start + (bad === 'timeout' ? 300 : 2), outcome: bad ?? 'ok' };
  });
}

describe('checkers', () => {
  it('a gap of exactly 180 ms gives 180 ms', () => {
    // fault at t=1000; requests starting at 1000..1170 time out; 1180 onward ok
    const ledger = probe(300, (t) => (t >= 1000 && t < 1180 ? 'timeout' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'm1', start: 1000 });
    expect(r.outageMs).to.equal(180);
    expect(r.failed).to.equal(18);
    expect(r.timeouts).to.equal(18);
    expect(r.recovered).to.equal(true);
    expect(r.gapMs).to.equal(1180 - 992); // last ok before started at 990, ended 992
  });

  it('no failure after a fault is an outage of 0', () => {
    const r = failoverOf(probe(100, () => undefined), { id: 'f', kind: 'x', target: 'y', start: 500 });
    expect([r.outageMs, r.failed, r.recovered]).to.deep.equal([0, 0, true]);
  });

  it('a service that never comes back is not recovered', () => {
    const r = failoverOf(probe(100, (t) => (t >= 500 ? 'refused' : undefined)), { id: 'f', kind: 'x', target: 'y', start: 500 });
    expect(r.recovered).to.equal(false);
    expect(r.failed).to.equal(50);
  });

  it('detection time comes from the first VRRP MASTER event after the fault', () => {
    const r = failoverOf(probe(50, () => undefined), { id: 'f', kind: 'x', target: 'm1', start: 100 }, [
      { t: 50, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
      { t: 172, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
    ]);
    expect(r.detectionMs).to.equal(72);
  });

  it('observes each fault until the next one starts', () => {
    const ledger = probe(400, (t) => ((t >= 1000 && t < 1100) || (t >= 3000 && t < 3050) ? 'reset' : undefined));
    const rs = failovers(ledger, [
      { id: 'b', kind: 'x', target: 'y', start: 3000 },
      { id: 'a', kind: 'x', target: 'y', start: 1000 },
    ]);
    expect(rs.map((r) => [r.fault, r.outageMs, r.failed])).to.deep.equal([
      ['a', 100, 10],
      ['b', 50, 5],
    ]);
  });

  it('availability and downtime windows', () => {
    const a = availability(probe(100, (t) => (t >= 200 && t < 250 ? 'timeout' : undefined)));
    expect(a.attempted).to.equal(100);
    expect(a.ok).to.equal(95);
    expect(a.windows).to.deep.equal([{ start: 200, end: 250, failed: 5 }]);
    expect(a.downtimeMs).to.equal(50);
  });

  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 95), percentile(xs, 99), percentile(xs, 100)]).to.deep.equal([50, 95, 99, 100]);
    expect(summarize([3, 1, 2])).to.include({ n: 3, min: 1, median: 2, max: 3, mean: 2 });
  });

  it('catches overlapping VIP ownership with its duration, and passes a clean handover', () => {
    const ev = (t: number, node: string, state: string) => ({ t, node, source: 'vrrp', type: 'state', data: { state, instance: 'VI_lan1' } });
    const split = vipOverlaps([ev(0, 'm1', 'MASTER'), ev(100, 'm2', 'MASTER'), ev(430, 'm1', 'BACKUP')], 'VI_lan1', 1000);
    expect(split).to.have.length(1);
    expect(split[0]!.end - split[0]!.start).to.equal(330);
    const clean = vipOverlaps([ev(0, 'm1', 'MASTER'), ev(100, 'm1', 'FAULT'), ev(160, 'm2', 'MASTER')], 'VI_lan1', 1000);
    expect(clean).to.deep.equal([]);
  });
});

describe('checkers: fail-back', () => {
  it('failures after the fault was lifted count as fail-back, not as the failover', () => {
    const ledger = probe(400, (t) => ((t >= 1000 && t < 1060) || (t >= 2500 && t < 2520) ? 'timeout' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'm1', start: 1000, end: 2000 });
    expect([r.outageMs, r.failed, r.failbackFailed]).to.deep.equal([60, 6, 2]);
  });
});
