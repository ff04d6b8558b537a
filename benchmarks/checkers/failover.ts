// Failover per fault, from the client's ledger (Jepsen-style: a pure function of the history).
//   outage_ms   = first ok request of a run of `stableOk` consecutive oks after the fault's start
//                 (its start time) − the fault's start; 0 when no request failed in the window
//   gap_ms      = that request's start − end of the last ok request that started before the fault
//   failed, timeouts: non-ok requests that started in [fault start, recovery)
//   detection_ms: first matching event (e.g. a VRRP MASTER on another node) after the fault start
import type { FaultRecord, LedgerEntry, RunEvent } from '../ledger.ts';

export interface FailoverResult {
  fault: string;
  kind: string;
  target: string;
  outageMs: number;
  gapMs: number | null;
  failed: number;
  timeouts: number;
  /** Recovered within the window (false: the service did not come back while observed). */
  recovered: boolean;
  /** Failed requests after the fault was lifted (fail-back, restart), until the next fault. */
  failbackFailed: number;
  detectionMs: number | null;
}

export interface FailoverOptions {
  /** Consecutive ok requests that count as recovered. */
  stableOk?: number;
  /** Which event marks detection (default: a VRRP state MASTER). */
  isDetection?: (e: RunEvent) => boolean;
  /** End of the observation window per fault (default: next fault's start, or the end of the ledger). */
  windowEnd?: number;
}

const vrrpMaster = (e: RunEvent) => e.source === 'vrrp' && e.type === 'state' && e.data?.state === 'MASTER';

export function failoverOf(ledger: LedgerEntry[], fault: FaultRecord, events: RunEvent[] = [], opts: FailoverOptions = {}): FailoverResult {
  const stable = opts.stableOk ?? 3;
  const sorted = [...ledger].sort((a, b) => a.start - b.start);
  // The failover window ends when the fault is lifted; what fails afterwards is fail-back.
  const nextStart = opts.windowEnd ?? Infinity;
  const windowEnd = Math.min(nextStart, fault.end ?? Infinity);
  const lastOkBefore = sorted.filter((r) => r.start < fault.start && r.outcome === 'ok').at(-1);
  const after = sorted.filter((r) => r.start >= fault.start && r.start < windowEnd);
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
      recoveredAt = undefined;
      continue;
    }
    if (!sawFailure) continue;
    const run = after.slice(i, i + stable);
    if (run.length === stable && run.every((x) => x.outcome === 'ok')) {
      recoveredAt = r;
      break;
    }
  }
  const detection = events
    .filter((e) => e.t >= fault.start && (opts.isDetection ?? vrrpMaster)(e))
    .sort((a, b) => a.t - b.t)[0];
  const recovered = !sawFailure || recoveredAt !== undefined;
  const outageMs = !sawFailure ? 0 : recoveredAt ? recoveredAt.start - fault.start : (after.at(-1)?.end ?? fault.start) - fault.start;
  return {
    fault: fault.id,
    kind: fault.kind,
    target: fault.target,
    outageMs,
    gapMs: !sawFailure ? 0 : recoveredAt && lastOkBefore ? recoveredAt.start - lastOkBefore.end : null,
    failed,
    timeouts,
    recovered,
    failbackFailed: sorted.filter((r) => r.start >= windowEnd && r.start < nextStart && r.outcome !== 'ok').length,
    detectionMs: detection ? detection.t - fault.start : null,
  };
}

/** Each fault observed until the next one starts. */
export function failovers(ledger: LedgerEntry[], faults: FaultRecord[], events: RunEvent[] = [], opts: FailoverOptions = {}): FailoverResult[] {
  const fs = [...faults].sort((a, b) => a.start - b.start);
  return fs.map((f, i) => failoverOf(ledger, f, events, { ...opts, windowEnd: fs[i + 1]?.start ?? opts.windowEnd }));
}
