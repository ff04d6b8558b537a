// The papers' reference values that checkers and benchmarks compare with. Data only; every value
// carries its source (from ../shared/papers/TARGETS.md beside the project, which quotes the seed texts).
//   003 = I. Haddad, The HAS Architecture, PhD thesis, Concordia University, 2006
//   001 = Garvin, Baldwin, Chang, Service Recovery in a Loosely Coupled Distributed Computing
//         Environment, New Mexico Tech, 2001
import { TABLE_15 } from './model/has-availability.ts';

export interface Cited<T> {
  value: T;
  source: string;
  note?: string;
}

/** Table 12 (p.144): the standalone node's capacity the thesis scales against. */
export const HAS_BASELINE_RPS: Cited<number> = {
  value: 1032,
  source: '003 §4.4, Table 12 (p.144)',
  note: 'the stated "average capacity"; the mean of the saturated rows is 1,035.5 — keep 1,032 (TARGETS D.5)',
};

/** Table 12 (p.144), verbatim: clients → req/s (and the error column, unit unstated). */
export const HAS_TABLE_12: Cited<{ clients: number; rps: number; bytesPerSec: number; errors: number }[]> = {
  source: '003 §4.4, Table 12 (p.144)',
  note: 'the 32-client error count 1012 is suspect (TARGETS §A.3 item 4)',
  value: [
    { clients: 1, rps: 143, bytesPerSec: 825609, errors: 0 },
    { clients: 4, rps: 567, bytesPerSec: 3249304, errors: 0 },
    { clients: 8, rps: 917, bytesPerSec: 5240358, errors: 0 },
    { clients: 12, rps: 1012, bytesPerSec: 5769305, errors: 0 },
    { clients: 16, rps: 1036, bytesPerSec: 5924397, errors: 212 },
    { clients: 20, rps: 1036, bytesPerSec: 6044917, errors: 456 },
    { clients: 24, rps: 1038, bytesPerSec: 6058103, errors: 692 },
    { clients: 28, rps: 1040, bytesPerSec: 6063940, errors: 932 },
    { clients: 32, rps: 1037, bytesPerSec: 6046431, errors: 1012 },
    { clients: 36, rps: 1037, bytesPerSec: 6052267, errors: 1252 },
    { clients: 40, rps: 1037, bytesPerSec: 6049699, errors: 1484 },
    { clients: 44, rps: 1029, bytesPerSec: 6008823, errors: 1736 },
    { clients: 48, rps: 1032, bytesPerSec: 6020502, errors: 1983 },
    { clients: 52, rps: 1033, bytesPerSec: 6032181, errors: 2237 },
  ],
};

/** Table 13 (p.148), verbatim: traffic nodes → average successful transactions per second. */
export const HAS_TABLE_13: Cited<{ test: string; nodes: number; total: number; perNode: number }[]> = {
  source: '003 §4.6, Table 13 (p.148)',
  value: [
    { test: 'Test-1', nodes: 2, total: 2068, perNode: 1034 },
    { test: 'Test-2', nodes: 4, total: 4143, perNode: 1036 },
    { test: 'Test-3', nodes: 8, total: 8143, perNode: 1017 },
    { test: 'Test-4', nodes: 16, total: 16001, perNode: 1000 },
  ],
};

/** Per-node % of the 1,032 baseline = (Table 13 total / n) / 1,032, rounded to 0.1 % [derived]. */
export const HAS_PER_NODE_PCT: Cited<Record<number, number>> = {
  value: { 2: 100.2, 4: 100.4, 8: 98.6, 16: 96.9 },
  source: '003 Table 13 ÷ Table 12 baseline [derived, TARGETS §A.2.3]',
};

/** Acceptance floor of the thesis itself: "an acceptable decline in scalability to be less than 10%". */
export const HAS_MIN_EFFICIENCY: Cited<number> = { value: 0.9, source: '003 §1.3' };

/** Master failover: detection / new master receiving traffic "within a delay of 200 ms". */
export const HAS_MASTER_FAILOVER_MS: Cited<{ target: number; stretch: number[] }> = {
  value: { target: 200, stretch: [150, 100] },
  source: '003 §3.5.1, §3.18.1, §3.24.7, §4.8.1.5',
  note: '200 ms detection; 150 ms after the author\'s heartbeat changes, 100 ms expected (TARGETS §A.3 item 1)',
};

/** NIC failover by erd: "within a range of 350 ms to 400 ms" (§4.8.1.2); "less than 350 ms" (§3.6.3). */
export const HAS_NIC_FAILOVER_MS: Cited<{ min: number; max: number; stretch: number }> = {
  value: { min: 350, max: 400, stretch: 350 },
  source: '003 §4.8.1.2 (350–400 ms), §3.6.3 (< 350 ms)',
};

/** HA-NFS server failover: "no interruption", "a delay ranging between 450 ms and 700 ms". */
export const HAS_NFS_FAILOVER: Cited<{ failedRequests: number; addedLatencyMinMs: number; addedLatencyMaxMs: number }> = {
  value: { failedRequests: 0, addedLatencyMinMs: 450, addedLatencyMaxMs: 700 },
  source: '003 §4.8.2, Figure 91',
};

/** Four nines: the thesis's availability hypothesis ("over four nines", 52 min 33 s a year). */
export const HAS_FOUR_NINES: Cited<number> = { value: 0.9999, source: '003 §1.2, §5.3, Table 1 (p.5)' };

/** Table 15 (p.160): the availability model's results (see model/has-availability.ts). */
export const HAS_TABLE_15: Cited<typeof TABLE_15> = {
  value: TABLE_15,
  source: '003 §4.9.4, Table 15 (p.160), from [43]',
  note: '"Mean cluster down time" is minutes per 365-day year [derived, TARGETS §A.3 item 18]',
};

export interface NmtRow {
  service: 'httpd' | 'sendmail' | 'named' | 'monitor';
  monitorIntervalS: number;
  detectionS: number;
  migrationS: number;
  responseS: number;
}

const nmt = (rows: [NmtRow['service'], number, number, number, number][]): NmtRow[] =>
  rows.map(([service, monitorIntervalS, detectionS, migrationS, responseS]) => ({ service, monitorIntervalS, detectionS, migrationS, responseS }));

/** NMT Table 1, verbatim: average response time at transient failures (s). */
export const NMT_TABLE_1: Cited<NmtRow[]> = {
  source: '001 Table 1',
  value: nmt([
    ['httpd', 4, 2.3, 1.4, 3.7], ['httpd', 8, 4.7, 1.4, 6.1], ['httpd', 16, 8.9, 1.4, 10.3], ['httpd', 32, 16.8, 1.4, 18.2],
    ['sendmail', 4, 2.3, 0.9, 3.2], ['sendmail', 8, 4.7, 0.9, 5.6], ['sendmail', 16, 8.9, 0.9, 9.8], ['sendmail', 32, 16.8, 0.9, 17.7],
    ['named', 4, 2.3, 0.7, 3.0], ['named', 8, 4.7, 0.7, 5.4], ['named', 16, 8.9, 0.7, 9.6], ['named', 32, 16.8, 0.7, 17.5],
    ['monitor', 4, 2.2, 0.5, 2.7], ['monitor', 8, 4.7, 0.5, 5.2], ['monitor', 16, 8.8, 0.5, 9.3], ['monitor', 32, 16.7, 0.5, 17.2],
  ]),
};

/** NMT Table 2, verbatim: average response time at system overloads (s). */
export const NMT_TABLE_2: Cited<NmtRow[]> = {
  source: '001 Table 2',
  value: nmt([
    ['httpd', 4, 2.5, 2.2, 4.7], ['httpd', 8, 5.1, 2.2, 7.3], ['httpd', 16, 9.3, 2.2, 11.5], ['httpd', 32, 17.6, 2.2, 19.8],
    ['sendmail', 4, 2.6, 1.7, 4.3], ['sendmail', 8, 5.3, 1.7, 7.0], ['sendmail', 16, 9.5, 1.7, 11.2], ['sendmail', 32, 18.0, 1.7, 19.7],
    ['named', 4, 2.4, 1.5, 3.9], ['named', 8, 5.1, 1.5, 6.6], ['named', 16, 9.1, 1.5, 10.6], ['named', 32, 17.3, 1.5, 18.8],
    ['monitor', 4, 2.4, 1.3, 3.7], ['monitor', 8, 5.1, 1.3, 6.4], ['monitor', 16, 9.1, 1.3, 10.4], ['monitor', 32, 17.2, 1.3, 18.5],
  ]),
};

/**
 * NMT Table 3, verbatim: cost-effectiveness M/R per service and M = 4/8/16/32. The named transient
 * M=16 cell prints 1.70; 16/9.6 = 1.67 — compare with 1.67 (TARGETS §B.3, D.5).
 */
export const NMT_TABLE_3: Cited<Record<'transient' | 'overload', Record<NmtRow['service'], [number, number, number, number]>>> = {
  source: '001 Table 3',
  note: 'named transient M=16: printed 1.70, use 1.67',
  value: {
    transient: { httpd: [1.08, 1.31, 1.55, 1.76], sendmail: [1.25, 1.43, 1.63, 1.81], named: [1.33, 1.48, 1.7, 1.83], monitor: [1.48, 1.54, 1.72, 1.86] },
    overload: { httpd: [0.85, 1.1, 1.39, 1.62], sendmail: [0.93, 1.14, 1.43, 1.62], named: [1.03, 1.21, 1.51, 1.7], monitor: [1.08, 1.25, 1.54, 1.73] },
  },
};
