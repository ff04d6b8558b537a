// has-failover's pure parts on hand-made trials with known answers: trial aggregation (the
// failover checker over one probed trial), per-kind bounds and verdicts, targets, detection events.
import { expect } from 'chai';
import type { FailoverResult } from '../../benchmarks/checkers/failover.ts';
import type { FaultRecord, LedgerEntry, RunEvent } from '../../benchmarks/ledger.ts';
import { trialFailover } from '../../benchmarks/has-failover/probe.ts';
import { faultTargets, isDetection, KINDS, kindRows, overlapRow, planFor, trialProblem, type KindOutcome } from '../../benchmarks/has-failover/kinds.ts';
import { parseArgs } from '../../benchmarks/has-failover/bench.ts';
import type { LabPlan } from '../../lab/topology/types.ts';

/** A probe every 10 ms from t=0 (2 ms per answer); requests starting in [from, to) time out (300 ms). */
function trialLedger(n: number, from: number, to: number): LedgerEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const start = i * 10;
    const bad = start >= from && start < to;
    return { id: i, start, end: start + (bad ? 300 : 2), outcome: bad ? 'timeout' : 'ok' };
  });
}

/** A failover result with the given gap (ms), as the checker would give it. */
const result = (gapMs: number | null, over: Partial<FailoverResult> = {}): FailoverResult => ({
  fault: 'f',
  kind: 'node-kill',
  target: 'm1',
  outageMs: gapMs ?? 0,
  gapMs,
  maxGapMs: gapMs,
  lastOkBefore: 0,
  firstOkAfter: gapMs,
  failed: gapMs === null ? 10 : Math.max(0, Math.floor(gapMs / 10) - 1),
  timeouts: 0,
  failedWhileHeld: gapMs === null ? 10 : Math.max(0, Math.floor(gapMs / 10) - 1),
  timedOutWhileHeld: 0,
  lastFailureMs: gapMs === null ? 0 : gapMs > 10 ? gapMs - 10 : null,
  recovered: gapMs !== null,
  failbackFailed: 0,
  detectionMs: gapMs === null ? null : gapMs - 20,
  ...over,
});

const outcome = (name: keyof typeof KINDS, gaps: (number | null)[], extra: Partial<KindOutcome> = {}): KindOutcome => ({
  kind: KINDS[name],
  results: gaps.map((g) => result(g)),
  overlapMs: gaps.map(() => 0),
  ...extra,
});

describe('has-failover: one trial through the failover checker', () => {
  it('a gap of exactly 180 ms gives 180 ms (last ok before the fault → first ok after)', () => {
    // ok until the request starting at 990 (ends 992); 1000..1170 time out; 1180 ends at 1182
    const ledger = trialLedger(300, 1000, 1180);
    const fault: FaultRecord = { id: 'master-kill-0', kind: 'node-kill', target: 'm1', start: 1000, end: 2000 };
    const r = trialFailover({ ledger, faults: [fault] });
    expect([r.lastOkBefore, r.firstOkAfter, r.gapMs]).to.deep.equal([992, 1182, 190]);
    // an exact 180 ms: the last ok ends at 1000 and the first ok after ends at 1180
    const exact: LedgerEntry[] = [
      { id: 0, start: 990, end: 1000, outcome: 'ok' },
      { id: 1, start: 1000, end: 1300, outcome: 'timeout' },
      { id: 2, start: 1170, end: 1180, outcome: 'ok' },
      { id: 3, start: 1180, end: 1182, outcome: 'ok' },
      { id: 4, start: 1190, end: 1192, outcome: 'ok' },
    ];
    expect(trialFailover({ ledger: exact, faults: [{ ...fault }] }).gapMs).to.equal(180);
    expect(trialFailover({ ledger: exact, faults: [{ ...fault }] }).maxGapMs).to.equal(180);
  });

  it('the longest gap while the fault held catches a disruption that starts after the fault', () => {
    // a paused master's kernel keeps forwarding: ok until 1400, then 1400..1590 time out, ok again
    const ledger = trialLedger(400, 1400, 1600);
    const fault: FaultRecord = { id: 'p', kind: 'node-pause', target: 'm1', start: 1000, end: 3000 };
    const r = trialFailover({ ledger, faults: [fault] });
    expect(r.gapMs).to.equal(10); // 992 → 1002: the checker's first-ok gap sees nothing
    expect(r.maxGapMs).to.equal(1602 - 1392);
    // an ok request started before the fault ending after the first one after it: never negative
    const late: LedgerEntry[] = [
      { id: 0, start: 990, end: 1030, outcome: 'ok' },
      { id: 1, start: 1000, end: 1019, outcome: 'ok' },
      { id: 2, start: 1010, end: 1040, outcome: 'ok' },
    ];
    const l = trialFailover({ ledger: late, faults: [fault] });
    expect([l.gapMs, l.maxGapMs]).to.deep.equal([-11, 10]);
  });

  it('the NICs of one trial are one fault: from the first start to the last rollback', () => {
    const ledger = trialLedger(400, 1010, 1110);
    const faults: FaultRecord[] = [
      { id: 'd-0n1', kind: 'nic-down', target: 'm1:eth1', start: 1004, end: 3000 },
      { id: 'd-0n0', kind: 'nic-down', target: 'm1:eth0', start: 1001, end: 3010 },
    ];
    // the link comes back at 3010; failures after that are fail-back
    const withFailback = ledger.map((l) => (l.start >= 3100 && l.start < 3150 ? { ...l, outcome: 'reset' as const } : l));
    const r = trialFailover({ ledger: withFailback, faults });
    expect(r.target).to.equal('m1:eth0');
    expect([r.failed, r.failbackFailed]).to.deep.equal([10, 5]);
  });

  it('detection is the first matching event of the kind after the fault', () => {
    const fault: FaultRecord = { id: 'x', kind: 'nic-down', target: 'm1:eth0', start: 1000, end: 3000 };
    const events: RunEvent[] = [
      { t: 990, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER', instance: 'VI_lan1' } },
      { t: 1040, node: 'nfs2', source: 'vrrp', type: 'state', data: { state: 'MASTER', instance: 'VI_NFS' } },
      { t: 1050, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'FAULT', instance: 'VI_lan1' } },
      { t: 1072, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER', instance: 'VI_lan1' } },
    ];
    const r = trialFailover({ ledger: trialLedger(300, 1000, 1100), faults: [fault] }, events, { isDetection: (e, f) => isDetection(KINDS['master-nic-down'], e, f) });
    expect(r.detectionMs).to.equal(72);
    const nfs = trialFailover({ ledger: trialLedger(300, 2000, 2000), faults: [{ ...fault, target: 'nfs1:eth0' }] }, events, {
      isDetection: (e, f) => isDetection(KINDS['nfs-loss'], e, f),
    });
    expect(nfs.detectionMs).to.equal(40);
    const removed: RunEvent = { t: 3500, node: 'm1', source: 'balancer', type: 'health', data: { node: 'web-2', healthy: false } };
    expect(isDetection(KINDS['traffic-node-loss'], removed, { ...fault, target: 'web-2' })).to.equal(true);
    expect(isDetection(KINDS['traffic-node-loss'], removed, { ...fault, target: 'web-1' })).to.equal(false);
    const erd: RunEvent = { t: 1030, node: 'web-1', source: 'erd', type: 'failover', data: { from: 'eth0', to: 'eth1' } };
    expect(isDetection(KINDS['traffic-nic-down'], erd, { ...fault, target: 'web-1:eth0' })).to.equal(true);
  });
});

describe('has-failover: usable trials', () => {
  const fault: FaultRecord = { id: 'k', kind: 'node-kill', target: 'm1', start: 1500, end: 3500 };
  it('a trial with steady service before the fault that probes until the rollback is usable', () => {
    expect(trialProblem(trialLedger(500, 1500, 1700), fault)).to.equal(null);
  });
  it('a starved probe (mostly timeouts before the fault) is not', () => {
    expect(trialProblem(trialLedger(500, 1000, 1700), fault)).to.match(/no steady service before the fault: 100\/150/);
  });
  it('a probe that ended before the fault was lifted is not', () => {
    expect(trialProblem(trialLedger(300, 9999, 9999), fault)).to.match(/stopped 510 ms before the fault was lifted/);
    expect(trialProblem(trialLedger(100, 0, 0).map((l) => ({ ...l, start: l.start + 2000 })), fault)).to.match(/no request before the fault/);
  });
});

describe('has-failover: per-kind rows and verdicts', () => {
  const failoverRow = (o: KindOutcome) => kindRows(o)[0]!;

  it('master kinds: median ≤ 100 ms and p99 ≤ 200 ms pass, beside the paper\'s 200 ms', () => {
    const r = failoverRow(outcome('master-kill', [60, 70, 80, 90, 180]));
    expect([r.measured, r.reference, r.trials, r.verdict]).to.deep.equal([80, 200, 5, 'pass']);
    expect(r.spread).to.deep.equal({ min: 60, p95: 180, max: 180 });
    expect(r.ratio).to.equal(0.4);
  });

  it('master kinds: a median over 100 ms fails, and so does one trial over 200 ms', () => {
    expect(failoverRow(outcome('master-stop', [120, 110, 130])).verdict).to.equal('fail');
    expect(failoverRow(outcome('master-pause', [50, 60, 70, 80, 201])).verdict).to.equal('fail');
  });

  it('a trial that never answered again fails the kind even when the others are fast', () => {
    const r = failoverRow(outcome('master-kill', [50, 60, null]));
    expect(r.trials).to.equal(2);
    expect(r.verdict).to.equal('fail');
    expect(r.note).to.match(/1 trial\(s\) without any ok answer/);
  });

  it('NIC kinds: every trial < 350 ms passes; 350 ms fails', () => {
    expect(failoverRow(outcome('traffic-nic-down', [100, 349])).verdict).to.equal('pass');
    expect(failoverRow(outcome('master-nic-down', [100, 350])).verdict).to.equal('fail');
    expect(failoverRow(outcome('master-nic-down', [100, 350])).reference).to.equal(350);
  });

  it('detection: master ≤ 200 ms passes; erd is judged against 400 ms', () => {
    expect(kindRows(outcome('master-kill', [90, 100]))[1]!.verdict).to.equal('pass'); // detections 70, 80
    expect(kindRows(outcome('master-kill', [250, 260]))[1]!.verdict).to.equal('fail');
    expect(kindRows(outcome('traffic-nic-down', [300, 420]))[1]!.verdict).to.equal('pass'); // detections 280, 400
    expect(kindRows(outcome('traffic-nic-down', [300, 421]))[1]!.verdict).to.equal('fail'); // 401 > 400
  });

  it('NFS: 0 failed requests passes only when NFS is in the request path; otherwise it says so', () => {
    const ok = outcome('nfs-loss', [10, 10], { nfsInPath: true, results: [result(10, { failedWhileHeld: 0 }), result(10, { failedWhileHeld: 0 })] });
    expect(kindRows(ok)[2]).to.include({ measured: 0, reference: 0, verdict: 'pass' });
    const bad = outcome('nfs-loss', [10, 10], { nfsInPath: true, results: [result(10, { failedWhileHeld: 0 }), result(10, { failedWhileHeld: 3 })] });
    expect(kindRows(bad)[2]).to.include({ measured: 3, verdict: 'fail' });
    const local = outcome('nfs-loss', [10, 10], { nfsInPath: false, results: [result(10, { failedWhileHeld: 0 }), result(10, { failedWhileHeld: 0 })] });
    expect(kindRows(local)[2]!.verdict).to.equal('info');
    expect(kindRows(local)[2]!.note).to.match(/NOT A TEST OF HA-NFS YET/);
  });

  it('traffic node loss has no paper figure: info rows, every failure while held, and how long requests failed', () => {
    // one node of four lost: requests kept failing until 3.6 s and 3.4 s, though 3 oks in a row came after 40 ms
    const lost = (lastFailureMs: number, failedWhileHeld: number) => result(10, { outageMs: 40, failed: 2, failedWhileHeld, lastFailureMs });
    const rows = kindRows(outcome('traffic-node-loss', [10, 10, 10], { results: [lost(3600, 90), lost(3400, 85), result(10, { failedWhileHeld: 0, lastFailureMs: null })] }));
    expect(rows.map((r) => r.verdict)).to.deep.equal(['info', 'info', 'info', 'info']);
    expect(rows[2]).to.include({ measured: 175 });
    expect(rows[3]).to.include({ measured: 3400, trials: 2 });
    expect(rows[3]!.note).to.match(/no request failed in 1 trial/);
  });

  it('the VIP-owner invariant: any overlap fails, except under pause (reported, not judged)', () => {
    const clean = overlapRow([outcome('master-kill', [50]), { ...outcome('master-pause', [50]), overlapMs: [2000] }]);
    expect([clean.measured, clean.verdict]).to.deep.equal([0, 'pass']);
    expect(clean.note).to.match(/master-pause 2000 ms/);
    const split = overlapRow([{ ...outcome('master-disconnect', [50, 60]), overlapMs: [0, 35] }]);
    expect([split.measured, split.verdict]).to.deep.equal([35, 'fail']);
  });
});

describe('has-failover: plans, targets, arguments', () => {
  const plan = {
    lab: 'has-4',
    vip: '198.18.24.100',
    nodes: [
      { name: 'm1', role: 'master', nics: [{ ifname: 'eth0', network: 'lan1' }, { ifname: 'eth1', network: 'lan2' }] },
      { name: 'web-1', role: 'traffic', nics: [{ ifname: 'eth0', network: 'lan1' }, { ifname: 'eth1', network: 'lan2' }] },
      { name: 'web-2', role: 'traffic', nics: [{ ifname: 'eth0', network: 'lan1' }, { ifname: 'eth1', network: 'lan2' }] },
      { name: 'nfs2', role: 'nfs', nics: [{ ifname: 'eth0', network: 'lan1' }, { ifname: 'eth1', network: 'lan2' }] },
    ],
  } as unknown as LabPlan;
  const facts = (trial: number) => ({ plan, vipNetwork: 'lan1', activeMaster: 'm1', activeNfs: 'nfs2', trial });

  it('quick = 2 trials of master kill and traffic-node NIC down on has-1; full = every kind × 10 on has-4', () => {
    expect(planFor(true)).to.deep.equal({ lab: 'has-1', kinds: ['master-kill', 'traffic-nic-down'], trials: 2 });
    const full = planFor(false);
    expect([full.lab, full.trials, full.kinds.length]).to.deep.equal(['has-4', 10, 8]);
    expect(planFor(false, { trials: 3, kinds: ['nfs-loss'] })).to.deep.equal({ lab: 'has-4', kinds: ['nfs-loss'], trials: 3 });
  });

  it('targets: the active master, its NICs, the VIP NIC, traffic nodes in turn, the NFS IP holder', () => {
    expect(faultTargets('active-master', facts(0))).to.deep.equal(['m1']);
    expect(faultTargets('active-master-all-nics', facts(0))).to.deep.equal(['m1:eth0', 'm1:eth1']);
    expect(faultTargets('active-master-vip-nic', facts(0))).to.deep.equal(['m1:eth0']);
    expect([0, 1, 2].map((t) => faultTargets('traffic-vip-nic', facts(t))[0])).to.deep.equal(['web-1:eth0', 'web-2:eth0', 'web-1:eth0']);
    expect(faultTargets('traffic-node', facts(1))).to.deep.equal(['web-2']);
    expect(faultTargets('active-nfs-all-nics', facts(0))).to.deep.equal(['nfs2:eth0', 'nfs2:eth1']);
    expect(() => faultTargets('active-master', { ...facts(0), activeMaster: undefined })).to.throw(/no active master/);
  });

  it('arguments: --trials, --kinds, --lab are checked', () => {
    expect(parseArgs(['--trials', '3', '--kinds=master-kill,nfs-loss', '--lab', 'has-1'])).to.deep.equal({ trials: 3, kinds: ['master-kill', 'nfs-loss'], lab: 'has-1' });
    expect(() => parseArgs(['--trials', '0'])).to.throw(/--trials/);
    expect(() => parseArgs(['--kinds', 'master-boom'])).to.throw(/unknown master-boom/);
    expect(() => parseArgs(['--lab', 'has-2'])).to.throw(/has-1 or has-4/);
  });
});
