// The NMT recovery benchmark's rows beside the paper's Tables 1–3 (pure). Full mode: seconds at
// M = 4/8/16/32 beside the tables. Quick mode (time-scaled by k: M' = M/k): detection and response
// as fractions of M' beside the paper's D/M and R/M at M = k·M', Table 3's M/R, and migration in
// seconds (not scaled: the failover path is never scaled, TARGETS §D rule 2).
import type { BenchRow } from '../bench.ts';
import { ratio } from '../bench.ts';
import { summarize } from '../checkers/stats.ts';
import { NMT_TABLE_1, NMT_TABLE_2, type NmtRow } from '../paper-targets.ts';
import type { TrialFigures } from './figures.ts';

export type FaultClass = 'transient' | 'overload';
export const PAPER_NAME: Record<string, NmtRow['service']> = { web: 'httpd', mail: 'sendmail', name: 'named', monitor: 'monitor' };

export interface TrialRecord extends TrialFigures {
  fault: FaultClass;
  /** The monitor interval used (s). */
  m: number;
}

function paperRow(fault: FaultClass, service: string, m: number): NmtRow | undefined {
  const t = fault === 'transient' ? NMT_TABLE_1 : NMT_TABLE_2;
  return t.value.find((r) => r.service === PAPER_NAME[service] && r.monitorIntervalS === m);
}

function figureRow(figure: string, values: number[], unit: string, reference: number | undefined, source: string, note?: string): BenchRow {
  const s = summarize(values);
  const measured = s.n ? Number(s.median.toFixed(3)) : null;
  return {
    figure,
    measured,
    unit,
    reference: reference ?? null,
    referenceSource: source,
    ratio: ratio(measured, reference),
    verdict: s.n ? 'info' : 'invalid',
    trials: s.n,
    spread: s.n ? { min: Number(s.min.toFixed(3)), p95: Number(s.p95.toFixed(3)), max: Number(s.max.toFixed(3)) } : undefined,
    note,
  };
}

/**
 * One group of rows per (fault, service, M). `scale` = k (1 in full mode): the paper row compared
 * is the one at M·k.
 */
export function recoveryRows(trials: TrialRecord[], scale: number): BenchRow[] {
  const rows: BenchRow[] = [];
  const keys = [...new Set(trials.map((t) => `${t.fault}|${t.service}|${t.m}`))];
  for (const key of keys) {
    const [fault, service, mText] = key.split('|') as [FaultClass, string, string];
    const m = Number(mText);
    const ts = trials.filter((t) => t.fault === fault && t.service === service && t.m === m);
    const done = ts.filter((t) => t.responseMs !== null);
    const failed = ts.length - done.length;
    const paperM = Math.round(m * scale);
    const p = paperRow(fault, service, paperM);
    const src = `001 ${fault === 'transient' ? 'Table 1' : 'Table 2'}, ${PAPER_NAME[service]} M=${paperM}`;
    const label = `${fault} ${service} M=${m}s`;
    const note = failed ? `${failed} of ${ts.length} trials did not recover within the trial's limit` : undefined;
    const d = done.map((t) => t.detectionMs! / 1000);
    const mig = done.map((t) => t.migrationMs! / 1000);
    const r = done.map((t) => t.responseMs! / 1000);
    if (scale === 1) {
      rows.push(figureRow(`${label}: detection`, d, 's', p?.detectionS, src, note));
      rows.push(figureRow(`${label}: migration`, mig, 's', p?.migrationS, src));
      rows.push(figureRow(`${label}: response`, r, 's', p?.responseS, src));
    } else {
      rows.push(figureRow(`${label}: detection / M`, d.map((x) => x / m), '', p ? p.detectionS / paperM : undefined, `${src} (D/M)`, note));
      rows.push(figureRow(`${label}: migration (not scaled)`, mig, 's', p?.migrationS, src));
      rows.push(figureRow(`${label}: response / M`, r.map((x) => x / m), '', p ? p.responseS / paperM : undefined, `${src} (R/M)`));
    }
    // Table 3: M/R, the reference recomputed from Tables 1–2 (so named transient M=16 is 1.67, not the printed 1.70).
    rows.push(figureRow(`${label}: M/R (Table 3)`, r.map((x) => m / x), '', p ? Number((paperM / p.responseS).toFixed(2)) : undefined, `001 Table 3 (= M/R of ${fault === 'transient' ? 'Table 1' : 'Table 2'})`));
  }
  return rows;
}
