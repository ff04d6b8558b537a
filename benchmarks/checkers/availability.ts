// Availability of a run, from the client's ledger: ok / attempted, and the downtime windows —
// maximal runs of consecutive failed requests (in order of their starts), each from the first
// failure's start to the start of the next ok request (or, for a run that never ended, the last
// request's end). Total downtime is the sum of the windows.
import type { LedgerEntry } from '../ledger.ts';

export interface DowntimeWindow {
  start: number;
  end: number;
  /** Failed requests in the window. */
  failed: number;
}

export interface Availability {
  attempted: number;
  ok: number;
  /** ok / attempted (NaN when nothing was attempted). */
  okRate: number;
  windows: DowntimeWindow[];
  downtimeMs: number;
  /** First request's start to last request's end. */
  spanMs: number;
  /** 1 − downtime / span (NaN when the span is 0). */
  timeAvailability: number;
}

export function availability(ledger: LedgerEntry[]): Availability {
  const sorted = [...ledger].sort((a, b) => a.start - b.start || a.id - b.id);
  const windows: DowntimeWindow[] = [];
  let open: { start: number; failed: number } | undefined;
  for (const r of sorted) {
    if (r.outcome !== 'ok') {
      if (open) open.failed++;
      else open = { start: r.start, failed: 1 };
    } else if (open) {
      windows.push({ start: open.start, end: r.start, failed: open.failed });
      open = undefined;
    }
  }
  const lastEnd = sorted.length ? Math.max(...sorted.map((r) => r.end)) : 0;
  if (open) windows.push({ start: open.start, end: Math.max(open.start, lastEnd), failed: open.failed });
  const ok = sorted.filter((r) => r.outcome === 'ok').length;
  const spanMs = sorted.length ? lastEnd - sorted[0]!.start : 0;
  const downtimeMs = windows.reduce((a, w) => a + (w.end - w.start), 0);
  return {
    attempted: sorted.length,
    ok,
    okRate: sorted.length ? ok / sorted.length : NaN,
    windows,
    downtimeMs,
    spanMs,
    timeAvailability: spanMs > 0 ? 1 - downtimeMs / spanMs : NaN,
  };
}
