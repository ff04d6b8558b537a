// Availability of a run: ok / attempted, and the downtime windows (maximal runs of failed
// requests, from the first failure's start to the next ok request's start).
import type { LedgerEntry } from '../ledger.ts';

export interface Availability {
  attempted: number;
  ok: number;
  okRate: number;
  windows: { start: number; end: number; failed: number }[];
  downtimeMs: number;
}

export function availability(ledger: LedgerEntry[]): Availability {
  const sorted = [...ledger].sort((a, b) => a.start - b.start);
  const windows: Availability['windows'] = [];
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
  if (open) windows.push({ start: open.start, end: sorted.at(-1)!.end, failed: open.failed });
  const ok = sorted.filter((r) => r.outcome === 'ok').length;
  return {
    attempted: sorted.length,
    ok,
    okRate: sorted.length ? ok / sorted.length : NaN,
    windows,
    downtimeMs: windows.reduce((a, w) => a + (w.end - w.start), 0),
  };
}
