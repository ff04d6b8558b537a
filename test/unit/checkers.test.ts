// Checkers on hand-made ledgers and event logs with known answers (pure functions, no Docker).
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateFailovers, failoverOf, failovers } from '../../benchmarks/checkers/failover.ts';
import { availability } from '../../benchmarks/checkers/availability.ts';
import { coefficientOfVariation, percentile, percentileLinear, summarize } from '../../benchmarks/checkers/stats.ts';
import { loadSpread, removalIntervals, servedByRemoved, vipHolderAt, vipOverlaps, vipOwnerOverlaps } from '../../benchmarks/checkers/invariants.ts';
import { scalingEfficiency } from '../../benchmarks/checkers/scaling.ts';
import { throughputValidity, type CpuSample } from '../../benchmarks/checkers/validity.ts';
import { appendJsonl, JsonlWriter, readJsonl, type LedgerEntry, type RunEvent } from '../../benchmarks/ledger.ts';
import { HAS_BASELINE_RPS, HAS_PER_NODE_PCT, HAS_TABLE_13 } from '../../benchmarks/paper-targets.ts';

/** A probe every 10 ms from t=0 for `n` requests (2 ms each; 300 ms for a timeout), failing where `fails(start)`. */
function probe(n: number, fails: (t: number) => LedgerEntry['outcome'] | undefined): LedgerEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const start = i * 10;
    const bad = fails(start);
    return { id: i, start, end: start + (bad === 'timeout' ? 300 : 2), outcome: bad ?? 'ok' };
  });
}

describe('checkers: failover', () => {
  it('a gap of exactly 180 ms gives 180 ms', () => {
    // the last ok before the fault ends at 1000; requests starting 1000..1170 time out; the one
    // starting at 1178 succeeds at 1180
    const ledger: LedgerEntry[] = [
      ...Array.from({ length: 100 }, (_, i): LedgerEntry => ({ id: i, start: 8 + i * 10, end: 10 + i * 10, outcome: 'ok' })), // ends 10..1000
      ...Array.from({ length: 18 }, (_, i): LedgerEntry => ({ id: 100 + i, start: 1000 + i * 10, end: 1300 + i * 10, outcome: 'timeout' })),
      ...Array.from({ length: 10 }, (_, i): LedgerEntry => ({ id: 200 + i, start: 1178 + i * 10, end: 1180 + i * 10, outcome: 'ok' })),
    ];
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'm1', start: 1000 });
    expect(r.lastOkBefore).to.equal(1000);
    expect(r.firstOkAfter).to.equal(1180);
    expect(r.gapMs).to.equal(180);
    expect(r.outageMs).to.equal(178);
    expect(r.failed).to.equal(18);
    expect(r.timeouts).to.equal(18);
    expect(r.recovered).to.equal(true);
  });

  it('on a 10 ms probe, 18 timed-out requests from the fault on give an outage of 180 ms', () => {
    // fault at t=1000; requests starting at 1000..1170 time out; 1180 onward ok
    const ledger = probe(300, (t) => (t >= 1000 && t < 1180 ? 'timeout' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'm1', start: 1000 });
    expect(r.outageMs).to.equal(180);
    expect(r.failed).to.equal(18);
    expect(r.timeouts).to.equal(18);
    expect(r.recovered).to.equal(true);
    // gap: end of the first ok after (1182) − end of the last ok before (992)
    expect(r.gapMs).to.equal(1182 - 992);
  });

  it('counts failed and timed-out requests separately, and only until recovery', () => {
    const ledger = probe(300, (t) => (t >= 1000 && t < 1100 ? (t % 20 === 0 ? 'timeout' : 'reset') : t === 1500 ? 'refused' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'x', target: 'm1', start: 1000 });
    expect([r.failed, r.timeouts, r.outageMs]).to.deep.equal([10, 5, 100]);
    expect(r.gapMs).to.equal(1102 - 992);
  });

  it('a partial outage: every failure while the fault held counts, and the last one says how long it lasted', () => {
    // one request in four (the lost node's share) times out from 1000 until 1400; the fault held until 2000
    const ledger = probe(300, (t) => (t >= 1000 && t < 1400 && t % 40 === 0 ? 'timeout' : t === 2500 ? 'reset' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'web-1', start: 1000, end: 2000 });
    expect([r.failed, r.outageMs]).to.deep.equal([1, 10]); // 3 oks in a row after the first failure
    expect([r.failedWhileHeld, r.timedOutWhileHeld, r.lastFailureMs]).to.deep.equal([10, 10, 360]);
    expect(r.failbackFailed).to.equal(1);
    expect(failoverOf(probe(300, () => undefined), { id: 'g', kind: 'x', target: 'y', start: 1000 }).lastFailureMs).to.equal(null);
  });

  it('K consecutive oks are needed for recovery', () => {
    // fail 1000..1090, ok 1100, 1110, fail 1120, then ok: with K=3 recovery is at 1130
    const ledger = probe(300, (t) => ((t >= 1000 && t < 1100) || t === 1120 ? 'error' : undefined));
    expect(failoverOf(ledger, { id: 'f', kind: 'x', target: 'y', start: 1000 }, [], { stableOk: 3 }).outageMs).to.equal(130);
    expect(failoverOf(ledger, { id: 'f', kind: 'x', target: 'y', start: 1000 }, [], { stableOk: 1 }).outageMs).to.equal(100);
  });

  it('no failure after a fault is an outage of 0', () => {
    const r = failoverOf(probe(100, () => undefined), { id: 'f', kind: 'x', target: 'y', start: 500 });
    expect([r.outageMs, r.failed, r.recovered, r.gapMs]).to.deep.equal([0, 0, true, 502 - 492]);
  });

  it('a service that never comes back is not recovered', () => {
    const r = failoverOf(probe(100, (t) => (t >= 500 ? 'refused' : undefined)), { id: 'f', kind: 'x', target: 'y', start: 500 });
    expect(r.recovered).to.equal(false);
    expect(r.failed).to.equal(50);
    expect(r.gapMs).to.equal(null);
  });

  it('detection time: first VRRP MASTER on another node after the fault', () => {
    const r = failoverOf(probe(50, () => undefined), { id: 'f', kind: 'x', target: 'm1', start: 100 }, [
      { t: 50, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
      { t: 120, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'MASTER' } }, // the target itself: not detection
      { t: 172, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
    ]);
    expect(r.detectionMs).to.equal(72);
    const custom = failoverOf(probe(50, () => undefined), { id: 'f', kind: 'nic', target: 't1', start: 100 }, [{ t: 455, node: 't1', source: 'erd', type: 'switch' }], {
      isDetection: (e) => e.source === 'erd',
    });
    expect(custom.detectionMs).to.equal(355);
  });

  it('observes each fault until the next one starts, and aggregates over trials', () => {
    const ledger = probe(400, (t) => ((t >= 1000 && t < 1100) || (t >= 3000 && t < 3050) ? 'reset' : undefined));
    const rs = failovers(ledger, [
      { id: 'b', kind: 'x', target: 'y', start: 3000 },
      { id: 'a', kind: 'x', target: 'y', start: 1000 },
    ]);
    expect(rs.map((r) => [r.fault, r.outageMs, r.failed])).to.deep.equal([
      ['a', 100, 10],
      ['b', 50, 5],
    ]);
    const agg = aggregateFailovers(rs);
    expect(agg.trials).to.equal(2);
    expect(agg.recovered).to.equal(2);
    expect(agg.outageMs).to.include({ n: 2, min: 50, median: 50, max: 100, p95: 100 });
    expect(agg.detectionMs.n).to.equal(0);
  });

  it('failures after the fault was lifted count as fail-back, not as the failover', () => {
    const ledger = probe(400, (t) => ((t >= 1000 && t < 1060) || (t >= 2500 && t < 2520) ? 'timeout' : undefined));
    const r = failoverOf(ledger, { id: 'f', kind: 'node-kill', target: 'm1', start: 1000, end: 2000 });
    expect([r.outageMs, r.failed, r.failbackFailed]).to.deep.equal([60, 6, 2]);
  });
});

describe('checkers: availability', () => {
  it('ok rate, downtime windows and total downtime', () => {
    const a = availability(probe(100, (t) => ((t >= 200 && t < 250) || (t >= 600 && t < 700) ? 'timeout' : undefined)));
    expect(a.attempted).to.equal(100);
    expect(a.ok).to.equal(85);
    expect(a.okRate).to.equal(0.85);
    expect(a.windows).to.deep.equal([
      { start: 200, end: 250, failed: 5 },
      { start: 600, end: 700, failed: 10 },
    ]);
    expect(a.downtimeMs).to.equal(150);
    expect(a.spanMs).to.equal(992);
  });

  it('a window still open at the end lasts to the last request', () => {
    const a = availability(probe(10, (t) => (t >= 80 ? 'refused' : undefined)));
    expect(a.windows).to.deep.equal([{ start: 80, end: 92, failed: 2 }]);
  });

  it('an empty ledger', () => {
    const a = availability([]);
    expect([a.attempted, a.downtimeMs, a.windows.length]).to.deep.equal([0, 0, 0]);
    expect(a.okRate).to.be.NaN;
  });
});

describe('checkers: stats', () => {
  it('nearest-rank percentiles on known arrays', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(xs, 50), percentile(xs, 95), percentile(xs, 99), percentile(xs, 100), percentile(xs, 0)]).to.deep.equal([50, 95, 99, 100, 1]);
    const ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect([percentile(ten, 50), percentile(ten, 95), percentile(ten, 11)]).to.deep.equal([50, 100, 20]);
    expect(percentile([], 50)).to.be.NaN;
    expect(() => percentile(xs, 101)).to.throw();
  });

  it('linear-interpolation percentiles on known arrays', () => {
    expect(percentileLinear([1, 2, 3, 4], 50)).to.equal(2.5);
    expect(percentileLinear([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 95)).to.be.closeTo(95.5, 1e-12);
  });

  it('summary and coefficient of variation', () => {
    expect(summarize([3, 1, 2])).to.include({ n: 3, min: 1, median: 2, max: 3, mean: 2 });
    expect(coefficientOfVariation([2, 4, 4, 4, 5, 5, 7, 9])).to.equal(2 / 5);
  });
});

describe('checkers: invariants', () => {
  const ev = (t: number, node: string, state: string): RunEvent => ({ t, node, source: 'vrrp', type: 'state', data: { state, instance: 'VI_lan1' } });

  it('catches overlapping VIP ownership with its duration', () => {
    const split = vipOverlaps([ev(0, 'm1', 'MASTER'), ev(100, 'm2', 'MASTER'), ev(430, 'm1', 'BACKUP')], 'VI_lan1', 1000);
    expect(split).to.deep.equal([{ start: 100, end: 430, durationMs: 330, nodes: ['m1', 'm2'] }]);
    const open = vipOverlaps([ev(0, 'm1', 'MASTER'), ev(900, 'm2', 'MASTER')], 'VI_lan1', 1000);
    expect(open).to.deep.equal([{ start: 900, end: 1000, durationMs: 100, nodes: ['m1', 'm2'] }]);
  });

  it('passes a non-overlapping handover (also one at the same instant)', () => {
    expect(vipOverlaps([ev(0, 'm1', 'MASTER'), ev(100, 'm1', 'FAULT'), ev(160, 'm2', 'MASTER')], 'VI_lan1', 1000)).to.deep.equal([]);
    expect(vipOverlaps([ev(0, 'm1', 'MASTER'), ev(100, 'm2', 'MASTER'), ev(100, 'm1', 'BACKUP')], 'VI_lan1', 1000)).to.deep.equal([]);
    // another instance's MASTER is not an overlap
    const other = { ...ev(50, 'm2', 'MASTER'), data: { state: 'MASTER', instance: 'VI_lan2' } };
    expect(vipOverlaps([ev(0, 'm1', 'MASTER'), other], 'VI_lan1', 1000)).to.deep.equal([]);
  });

  it('reads ownership from the kernel address events when the run has them, with killed nodes dropped', () => {
    const vip = (t: number, node: string, state: string): RunEvent => ({ ...ev(t, node, state), source: 'vip' });
    // keepalived's scripts came out of order (m2 BACKUP before MASTER): read alone, a 900 ms overlap
    const vrrp = [ev(0, 'm1', 'MASTER'), ev(100, 'm2', 'BACKUP'), ev(105, 'm2', 'MASTER')];
    expect(vipOwnerOverlaps(vrrp, [], 'VI_lan1', 1000)).to.deep.include({ source: 'vrrp', overlaps: [{ start: 105, end: 1000, durationMs: 895, nodes: ['m1', 'm2'] }] });
    // the kernel's record of the same flap: m2 held the address 4 ms
    const kernel = [...vrrp, vip(0, 'm1', 'MASTER'), vip(98, 'm2', 'MASTER'), vip(102, 'm2', 'BACKUP')];
    expect(vipOwnerOverlaps(kernel, [], 'VI_lan1', 1000)).to.deep.equal({ source: 'vip', overlaps: [{ start: 98, end: 102, durationMs: 4, nodes: ['m1', 'm2'] }] });
    // a killed holder cannot report losing the address: it holds nothing from the kill on
    const killed = [vip(0, 'm1', 'MASTER'), vip(300, 'm2', 'MASTER')];
    expect(vipOwnerOverlaps(killed, [{ t: 250, node: 'm1' }], 'VI_lan1', 1000).overlaps).to.deep.equal([]);
    expect(vipOwnerOverlaps(killed, [], 'VI_lan1', 1000).overlaps).to.have.length(1);
  });

  const bal = (t: number, node: string, weight: number): RunEvent => ({ t, node: 'm1', source: 'balancer', type: 'weight', data: { node, weight, healthy: weight > 0 } });

  it('flags a request served by a node the balancer had removed (beyond the grace)', () => {
    const events = [bal(0, 't1', 5), bal(0, 't2', 5), bal(1000, 't2', 0), bal(5000, 't2', 3)];
    expect(removalIntervals(events)).to.deep.equal([{ server: 't2', start: 1000, end: 5000 }]);
    const ledger: LedgerEntry[] = [
      { id: 1, start: 900, end: 905, outcome: 'ok', server: 't2' }, // before removal
      { id: 2, start: 1200, end: 1205, outcome: 'ok', server: 't2' }, // within the 500 ms grace
      { id: 3, start: 2000, end: 2005, outcome: 'ok', server: 't2' }, // violation
      { id: 4, start: 2000, end: 2005, outcome: 'ok', server: 't1' },
      { id: 5, start: 3000, end: 3005, outcome: 'http_error', server: 't2' }, // not served ok
      { id: 6, start: 5100, end: 5105, outcome: 'ok', server: 't2' }, // re-added
    ];
    const bad = servedByRemoved(ledger, events, { graceMs: 500 });
    expect(bad.map((b) => [b.request.id, b.sinceRemovalMs])).to.deep.equal([[3, 1000]]);
    expect(servedByRemoved(ledger, events, { graceMs: 1500 })).to.deep.equal([]);
  });

  it('the VIP holder at an instant: the newest MASTER still holding, nobody after a kill', () => {
    const vip = (t: number, node: string, state: string): RunEvent => ({ t, node, source: 'vip', type: 'state', data: { state, instance: 'VI_lan1' } });
    const events = [vip(0, 'm1', 'MASTER'), vip(100, 'm2', 'MASTER'), vip(150, 'm1', 'BACKUP'), vip(500, 'm1', 'MASTER'), vip(520, 'm2', 'BACKUP')];
    const at = vipHolderAt(events, [{ t: 800, node: 'm1' }], 'VI_lan1');
    expect([-1, 0, 50, 120, 200, 510, 600, 900].map(at)).to.deep.equal([undefined, 'm1', 'm1', 'm2', 'm2', 'm1', 'm1', undefined]);
  });

  it('judged by the active balancer: the standby\'s inert table does not count, its own removals do', () => {
    const w = (t: number, balancer: string, node: string, weight: number): RunEvent => ({ t, node: balancer, source: 'balancer', type: 'weight', data: { node, weight, healthy: weight > 0 } });
    // m2 (standby until 10 s) drops t2 at 1 s and never puts it back; m1 drops t1 at 2 s, then dies at 6 s
    const events = [w(1000, 'm2', 't2', 0), w(2000, 'm1', 't1', 0)];
    const active = (t: number) => (t < 10_000 ? 'm1' : 'm2');
    const ledger: LedgerEntry[] = [
      { id: 1, start: 4000, end: 4001, outcome: 'ok', server: 't2' }, // m2's removal, m2 not active: fine
      { id: 2, start: 4000, end: 4001, outcome: 'ok', server: 't1' }, // m1 active and had t1 removed: violation
      { id: 3, start: 11_000, end: 11_001, outcome: 'ok', server: 't2' }, // m2 active now, t2 removed there: violation
      { id: 4, start: 11_000, end: 11_001, outcome: 'ok', server: 't1' }, // m2 never removed t1
    ];
    const bad = servedByRemoved(ledger, events, { activeBalancer: active });
    expect(bad.map((b) => b.request.id)).to.deep.equal([2, 3]);
    expect(servedByRemoved(ledger, events).map((b) => b.request.id), 'every balancer as one').to.deep.equal([1, 2, 3, 4]);
    // m1 killed at 3 s: its open removal of t1 ends there (a restarted manager starts afresh)
    const afterDown = servedByRemoved(ledger, events, { activeBalancer: active, downs: [{ t: 3000, node: 'm1' }] });
    expect(afterDown.map((b) => b.request.id)).to.deep.equal([3]);
  });

  it('health events remove a node too', () => {
    const events: RunEvent[] = [{ t: 10, node: 'm1', source: 'balancer', type: 'health', data: { node: 't3', healthy: false } }];
    const bad = servedByRemoved([{ id: 1, start: 5000, end: 5001, outcome: 'ok', server: 't3' }], events);
    expect(bad).to.have.length(1);
    expect(bad[0]!.removal.end).to.equal(Infinity);
  });

  it('load spread over the healthy nodes', () => {
    const mk = (server: string, n: number) => Array.from({ length: n }, (_, i): LedgerEntry => ({ id: i, start: i, end: i + 1, outcome: 'ok', server }));
    const even = loadSpread([...mk('a', 100), ...mk('b', 100)], { healthy: ['a', 'b'] });
    expect([even.cv, even.maxMinRatio]).to.deep.equal([0, 1]);
    const skew = loadSpread([...mk('a', 300), ...mk('b', 100)], { healthy: ['a', 'b', 'c'] });
    expect(skew.counts).to.deep.equal({ a: 300, b: 100, c: 0 });
    expect(skew.maxMinRatio).to.equal(Infinity);
    expect(skew.shares.a).to.equal(0.75);
  });
});

describe('checkers: scaling', () => {
  it('efficiency T(n)/(n·T(1))', () => {
    const rows = scalingEfficiency([
      { nodes: 4, throughput: 380 },
      { nodes: 1, throughput: 100 },
      { nodes: 2, throughput: 200 },
    ]);
    expect(rows.map((r) => r.nodes)).to.deep.equal([1, 2, 4]);
    expect(rows.map((r) => r.efficiency)).to.deep.equal([1, 1, 0.95]);
    expect(rows[2]!.perNodePctOfBaseline).to.equal(null);
  });

  it('Table 13 ÷ 1,032 gives the paper\'s 100.2 / 100.4 / 98.6 / 96.9 %', () => {
    const rows = scalingEfficiency(HAS_TABLE_13.value.map((r) => ({ nodes: r.nodes, throughput: r.total })), { baseline: HAS_BASELINE_RPS.value });
    expect(rows.map((r) => Math.round(r.perNodePctOfBaseline! * 10) / 10)).to.deep.equal([2, 4, 8, 16].map((n) => HAS_PER_NODE_PCT.value[n]));
    expect(rows.every((r) => r.efficiency === null)).to.equal(true);
  });
});

describe('checkers: validity', () => {
  const s = (component: string, role: CpuSample['role'], cpu: number, cap: number): CpuSample => ({ component, role, cpu, cap });

  it('a saturated generator makes the figure invalid', () => {
    const v = throughputValidity([s('gen', 'generator', 0.9, 1), s('gen', 'generator', 0.86, 1), s('lb', 'balancer', 0.2, 1), s('t1', 'node', 0.05, 0.05)]);
    expect(v.valid).to.equal(false);
    expect(v.reasons).to.have.length(1);
    expect(v.reasons[0]).to.match(/generator gen saturated: 88\.0 %/);
  });

  it('saturated nodes with idle helpers are valid; thresholds are parameters', () => {
    const samples = [s('gen', 'generator', 0.5, 1), s('lb', 'balancer', 0.3, 0.5), s('t1', 'node', 0.05, 0.05), s('t2', 'node', 0.049, 0.05)];
    expect(throughputValidity(samples).valid).to.equal(true);
    expect(throughputValidity(samples, { maxHelperUtilisation: 0.55 }).valid).to.equal(false); // lb at 60 %
    expect(throughputValidity([...samples, s('t3', 'node', 0.02, 0.05)], { minNodeUtilisation: 0.9 }).reasons[0]).to.match(/t3 not capacity-bound/);
    expect(throughputValidity(samples, { offeredOverCapacity: 1.1 }).valid).to.equal(false);
  });

  it('a busy host or NFS owner, or a failed load tool, makes the figure invalid', () => {
    const base = [s('gen', 'generator', 0.5, 1), s('lb', 'balancer', 0.3, 0.5), s('t1', 'node', 0.05, 0.05)];
    expect(throughputValidity([...base, s('host', 'host', 1.7, 2)]).reasons[0]).to.match(/host host saturated: 85\.0 %/);
    expect(throughputValidity([...base, s('nfs1', 'nfs', 0.22, 0.25)]).valid).to.equal(false);
    expect(throughputValidity([...base, s('host', 'host', 1.2, 2)]).valid).to.equal(true);
    const failed = throughputValidity(base, { failures: ['wrk https failed: exit 1'] });
    expect([failed.valid, failed.reasons]).to.deep.equal([false, ['wrk https failed: exit 1']]);
  });

  it('warns when the generator or balancer was not sampled', () => {
    expect(throughputValidity([s('t1', 'node', 0.05, 0.05)]).warnings).to.have.length(2);
  });
});

describe('ledger: JSON Lines', () => {
  it('appends, buffers and reads back, skipping a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'halab-ledger-'));
    try {
      const file = join(dir, 'run', 'ledger.jsonl');
      appendJsonl<LedgerEntry>(file, { id: 1, start: 0, end: 1, outcome: 'ok' });
      const w = new JsonlWriter<LedgerEntry>(file, { maxBuffered: 2 });
      w.write({ id: 2, start: 1, end: 2, outcome: 'timeout' });
      expect(readJsonl<LedgerEntry>(file)).to.have.length(1); // still buffered
      w.write({ id: 3, start: 2, end: 3, outcome: 'ok', server: 't1' });
      expect(readJsonl<LedgerEntry>(file)).to.have.length(3); // flushed at 2
      w.write({ id: 4, start: 3, end: 4, outcome: 'reset' });
      w.close();
      appendFileSync(file, '{"id":5,"sta');
      const back = readJsonl<LedgerEntry>(file);
      expect(back.map((r) => r.id)).to.deep.equal([1, 2, 3, 4]);
      expect(readFileSync(file, 'utf8').split('\n')).to.have.length(5);
      expect(readJsonl(join(dir, 'missing.jsonl'))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
