// Failover per fault, from the client's ledger (Jepsen-style: a pure function of the history).
// Each fault is observed from its start until it is lifted or the next fault starts (the window).
//   gapMs        time without a successful response: end of the first ok request that started in
//                the window − the latest end of an ok request that started before the fault (or
//                the fault's start when there is none). With no failure it is just the probe spacing.
//   maxGapMs     the longest time without a successful response while the fault held: over the
//                last ok before the fault and the ends of the ok requests that started in the
//                window (those ending before that last ok dropped), the longest step between
//                consecutive ones. Catches a disruption that starts later than the fault (a paused
//                master whose kernel keeps forwarding until the peer takes the VIP).
//   outageMs     recovery to steady state: start of the first request of a run of `stableOk`
//                consecutive ok requests after the first failure − the fault's start; 0 when no
//                request failed in the window; when never recovered, up to the last request seen.
//   failed, timeouts   non-ok requests (and those of them that timed out) that started in
//                [fault start, recovery); after the fault was lifted they count as failbackFailed.
//   failedWhileHeld, timedOutWhileHeld   the same over the whole window: a partial outage (one
//                traffic node of four dead until the balancer removes it) fails one request in
//                four, so K oks in a row come early and "until recovery" would miss most failures.
//   lastFailureMs  start of the last non-ok request in the window − the fault's start (how long
//                the fault disturbed the service at all); null when none failed.
//   detectionMs  first matching event at or after the fault's start − the fault's start (default:
//                a VRRP state MASTER on a node other than the fault's target).
import type { FaultRecord, LedgerEntry, RunEvent } from '../ledger.ts';
import { summarize, type Summary } from './stats.ts';

export interface FailoverResult {
  fault: string;
  kind: string;
  target: string;
  /** Recovery to steady state (see the header). */
  outageMs: number;
  /** Gap between successful responses around the fault; null when nothing succeeded after it. */
  gapMs: number | null;
  /** Longest time without a successful response while the fault held; null as gapMs. */
  maxGapMs: number | null;
  /** End of the last ok before the fault (or the fault's start when there is none). */
  lastOkBefore: number;
  /** End of the first ok after the fault's start (null: none in the window). */
  firstOkAfter: number | null;
  failed: number;
  timeouts: number;
  /** Non-ok requests (and timed-out ones) that started at any time while the fault held. */
  failedWhileHeld: number;
  timedOutWhileHeld: number;
  /** Start of the last non-ok request while the fault held − the fault's start; null: none failed. */
  lastFailureMs: number | null;
  /** Recovered within the window (false: the service did not come back while observed). */
  recovered: boolean;
  /** Failed requests after the fault was lifted (fail-back, restart), until the next fault. */
  failbackFailed: number;
  detectionMs: number | null;
}

export interface FailoverOptions {
  /** Consecutive ok requests that count as recovered (K; default 3). */
  stableOk?: number;
  /** Which event marks detection (default: a VRRP state MASTER on a node other than the target). */
  isDetection?: (e: RunEvent, fault: FaultRecord) => boolean;
  /** End of the observation window (default: the fault's end, else the end of the ledger). */
  windowEnd?: number;
}

/** Default detection: VRRP went MASTER on another node than the one the fault hit. */
export const vrrpMasterElsewhere = (e: RunEvent, fault: FaultRecord): boolean =>
  e.source === 'vrrp' && e.type === 'state' && e.data?.state === 'MASTER' && e.node !== fault.target;

export function failoverOf(ledger: LedgerEntry[], fault: FaultRecord, events: RunEvent[] = [], opts: FailoverOptions = {}): FailoverResult {
  const stable = Math.max(1, opts.stableOk ?? 3);
  const sorted = [...ledger].sort((a, b) => a.start - b.start || a.id - b.id);
  // The failover window ends when the fault is lifted; what fails afterwards is fail-back.
  const nextStart = opts.windowEnd ?? Infinity;
  const windowEnd = Math.min(nextStart, fault.end ?? Infinity);
  const okBefore = sorted.filter((r) => r.start < fault.start && r.outcome === 'ok');
  const lastOkBefore = okBefore.length ? Math.max(...okBefore.map((r) => r.end)) : fault.start;
  const after = sorted.filter((r) => r.start >= fault.start && r.start < windowEnd);
  const okAfter = after.filter((r) => r.outcome === 'ok');
  const firstOkAfter = okAfter.length ? Math.min(...okAfter.map((r) => r.end)) : null;
  const marks = [lastOkBefore, ...okAfter.map((r) => r.end).filter((e) => e >= lastOkBefore)].sort((a, b) => a - b);
  const maxGapMs = okAfter.length ? Math.max(0, ...marks.slice(1).map((m, i) => m - marks[i]!)) : null;
  let failed = 0;
  let timeouts = 0;
  let recoveredAt: LedgerEntry | undefined;
  let sawFailure = false;
  for (let i = 0; i < after.length; i++) {
    const r = after[i]!;
    if (r.outcome !== 'ok') {
      sawFailure = true;
      failed++;
      if (r.outcome === 'timeout') timeouts++;
      continue;
    }
    if (!sawFailure) continue;
    const run = after.slice(i, i + stable);
    if (run.length === stable && run.every((x) => x.outcome === 'ok')) {
      recoveredAt = r;
      break;
    }
  }
  const isDet = opts.isDetection ?? vrrpMasterElsewhere;
  const detection = events.filter((e) => e.t >= fault.start && e.t < nextStart && isDet(e, fault)).sort((a, b) => a.t - b.t)[0];
  const recovered = !sawFailure || recoveredAt !== undefined;
  const failedHeld = after.filter((r) => r.outcome !== 'ok');
  const lastSeen = after.length ? Math.max(...after.map((r) => r.end)) : fault.start;
  const outageMs = !sawFailure ? 0 : recoveredAt ? recoveredAt.start - fault.start : lastSeen - fault.start;
  return {
    fault: fault.id,
    kind: fault.kind,
    target: fault.target,
    outageMs,
    gapMs: firstOkAfter === null ? null : firstOkAfter - lastOkBefore,
    maxGapMs,
    lastOkBefore,
    firstOkAfter,
    failed,
    timeouts,
    failedWhileHeld: failedHeld.length,
    timedOutWhileHeld: failedHeld.filter((r) => r.outcome === 'timeout').length,
    lastFailureMs: failedHeld.length ? Math.max(...failedHeld.map((r) => r.start)) - fault.start : null,
    recovered,
    failbackFailed: sorted.filter((r) => r.start >= windowEnd && r.start < nextStart && r.outcome !== 'ok').length,
    detectionMs: detection ? detection.t - fault.start : null,
  };
}

/** Each fault observed until the next one starts (results in the order of the faults' starts). */
export function failovers(ledger: LedgerEntry[], faults: FaultRecord[], events: RunEvent[] = [], opts: FailoverOptions = {}): FailoverResult[] {
  const fs = [...faults].sort((a, b) => a.start - b.start);
  return fs.map((f, i) => failoverOf(ledger, f, events, { ...opts, windowEnd: fs[i + 1]?.start ?? opts.windowEnd }));
}

export interface FailoverAggregate {
  trials: number;
  recovered: number;
  outageMs: Summary;
  /** Over the trials where something succeeded after the fault. */
  gapMs: Summary;
  /** Longest time without a successful response while the fault held, over the same trials. */
  maxGapMs: Summary;
  /** Over the trials with a detection event. */
  detectionMs: Summary;
  failed: Summary;
  timeouts: Summary;
}

/** Median/p95/p99/min/max/n over trials (nearest-rank percentiles, see stats.ts). */
export function aggregateFailovers(results: FailoverResult[]): FailoverAggregate {
  const nums = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
  return {
    trials: results.length,
    recovered: results.filter((r) => r.recovered).length,
    outageMs: summarize(results.map((r) => r.outageMs)),
    gapMs: summarize(nums(results.map((r) => r.gapMs))),
    maxGapMs: summarize(nums(results.map((r) => r.maxGapMs))),
    detectionMs: summarize(nums(results.map((r) => r.detectionMs))),
    failed: summarize(results.map((r) => r.failed)),
    timeouts: summarize(results.map((r) => r.timeouts)),
  };
}
