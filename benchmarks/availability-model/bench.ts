// Availability-model benchmark: the HAS / HA-OSCAR SRN rebuilt as a CTMC (benchmarks/model/),
// solved for every Table 15 configuration and printed beside the paper's digits; then the same
// model with the servers' and LANs' 30 s takeovers multiplied in, and — given measured failover
// times — the availability the measured failover gives.
//   npx tsx benchmarks/availability-model/bench.ts [--failover-ms 120,95,…] [--nic-failover-ms 380,…] [--json]
// Every figure is computed here; TABLE_15 is only the comparison data (003 Table 15, p.160).
import { pathToFileURL } from 'node:url';
import type { Benchmark, BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import {
  majorityQuorum,
  paramsWithMeasuredFailover,
  solveHasAvailability,
  TABLE_14,
  TABLE_15,
  type HasAvailability,
} from '../model/has-availability.ts';

/** Table 15 agreement required per row (TARGETS §A.6 acceptance 1). */
export const TABLE_15_TOLERANCE = 1e-9;

export interface ModelRow {
  nodes: number;
  quorum: number;
  paperAvailability: number;
  /** Client (compute-node) sub-model alone — what Table 15 publishes. */
  availability: number;
  absDiff: number;
  paperDowntimeMinPerYear: number;
  downtimeMinPerYear: number;
  verdict: 'pass' | 'fail';
  states: number;
  method: string;
}

export interface SystemRow {
  nodes: number;
  quorum: number;
  /** client × server × LAN with the takeover times in use. */
  availability: number;
  downtimeMinPerYear: number;
  serverUnavailability: number;
  lanUnavailability: number;
}

export interface AvailabilityModelSummary {
  bench: 'availability-model';
  model: string;
  source: string;
  tolerance: number;
  /** Compute-node sub-model alone, per Table 15 row. */
  table15: ModelRow[];
  allPass: boolean;
  /** With the servers' and LANs' 30 s takeover (Table 14), per Table 15 configuration. */
  withTakeover: SystemRow[];
  /** With measured failover times in place of the takeovers (when given). */
  measured?: {
    serverTakeoverMs: number;
    lanTakeoverMs: number;
    rows: SystemRow[];
    /** The thesis's "over four nines" hypothesis (§1.2, §5.3; TARGETS H21): A ≥ 0.9999 at every size. */
    fourNines: boolean;
  };
}

export interface AvailabilityModelOptions {
  json?: boolean;
  /** Measured master (VIP) failover times in ms: replace 1/μ_st (and 1/μ_lt unless NIC times are given). */
  measuredFailoverMs?: number[];
  /** Measured NIC (erd) failover times in ms: replace 1/μ_lt. */
  measuredNicFailoverMs?: number[];
}

const systemRow = (a: HasAvailability): SystemRow => ({
  nodes: a.nodes,
  quorum: a.quorum,
  availability: a.system.availability,
  downtimeMinPerYear: a.system.downtimeMinPerYear,
  serverUnavailability: a.server.unavailability,
  lanUnavailability: a.lan.unavailability,
});

export function runAvailabilityModelBench(opts: AvailabilityModelOptions = {}): AvailabilityModelSummary {
  const table15: ModelRow[] = [];
  const withTakeover: SystemRow[] = [];
  for (const p of TABLE_15) {
    const a = solveHasAvailability(TABLE_14, p.nodes, p.quorum);
    const absDiff = Math.abs(a.client.availability - p.availability);
    table15.push({
      nodes: p.nodes,
      quorum: p.quorum,
      paperAvailability: p.availability,
      availability: a.client.availability,
      absDiff,
      paperDowntimeMinPerYear: p.downtimeMinPerYear,
      downtimeMinPerYear: a.client.downtimeMinPerYear,
      verdict: absDiff <= TABLE_15_TOLERANCE ? 'pass' : 'fail',
      states: a.client.states,
      method: a.client.method,
    });
    withTakeover.push(systemRow(a));
  }
  const summary: AvailabilityModelSummary = {
    bench: 'availability-model',
    model: 'CTMC R1 (TARGETS §A.6, reconstructed): client sub-model with quorum guard; server/LAN primary–standby pairs with takeover',
    source: '003 §4.9, Table 14 (p.158) parameters, Table 15 (p.160) results',
    tolerance: TABLE_15_TOLERANCE,
    table15,
    allPass: table15.every((r) => r.verdict === 'pass'),
    withTakeover,
  };
  if (opts.measuredFailoverMs?.length) {
    const params = paramsWithMeasuredFailover({ serverTakeoverMs: opts.measuredFailoverMs, lanTakeoverMs: opts.measuredNicFailoverMs });
    const rows = TABLE_15.map((p) => systemRow(solveHasAvailability(params, p.nodes, p.quorum)));
    summary.measured = {
      serverTakeoverMs: params.serverTakeoverS * 1000,
      lanTakeoverMs: params.lanTakeoverS * 1000,
      rows,
      fourNines: rows.every((r) => r.availability >= 0.9999),
    };
  }
  if (opts.json) process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The plain-text table the script prints. */
export function formatAvailabilityModel(s: AvailabilityModelSummary): string {
  const pad = (x: string, w: number) => x.padStart(w);
  const head = ['nodes/Q', 'paper A', 'ours A (sub-model)', '|diff|', 'down paper', 'down ours', 'verdict'];
  const w = [8, 15, 19, 9, 14, 14, 8];
  const line = (cells: string[]) => cells.map((c, i) => pad(c, w[i])).join('  ');
  const out = [
    `HAS availability model — ${s.source}`,
    `${s.model}`,
    `downtime in minutes per 365-day year; verdict: |diff| ≤ ${s.tolerance.toExponential(0)}`,
    '',
    line(head),
    ...s.table15.map((r) =>
      line([
        `${r.nodes}/Q${r.quorum}`,
        r.paperAvailability.toFixed(12),
        r.availability.toFixed(12),
        r.absDiff.toExponential(2),
        r.paperDowntimeMinPerYear.toFixed(10),
        r.downtimeMinPerYear.toFixed(10),
        r.verdict.toUpperCase(),
      ]),
    ),
    '',
    'with the servers\' and LANs\' 30 s takeover (Table 14; does not match Table 15, see TARGETS §A.6):',
    ...s.withTakeover.map(
      (r) =>
        `  ${`${r.nodes}/Q${r.quorum}`.padStart(6)}  A = ${r.availability.toFixed(10)}  down = ${r.downtimeMinPerYear.toFixed(4)} min/yr  (U_server ${r.serverUnavailability.toExponential(4)}, U_LAN ${r.lanUnavailability.toExponential(4)})`,
    ),
  ];
  if (s.measured) {
    out.push(
      '',
      `with measured failover (mean master ${s.measured.serverTakeoverMs.toFixed(1)} ms → 1/μ_st, NIC ${s.measured.lanTakeoverMs.toFixed(1)} ms → 1/μ_lt):`,
      ...s.measured.rows.map(
        (r) => `  ${`${r.nodes}/Q${r.quorum}`.padStart(6)}  A = ${r.availability.toFixed(10)}  down = ${r.downtimeMinPerYear.toFixed(4)} min/yr`,
      ),
      `  four nines (A ≥ 0.9999, thesis §1.2/§5.3): ${s.measured.fourNines ? 'yes' : 'NO'}`,
    );
  }
  return out.join('\n') + '\n';
}

/** The same figures as a generic BenchSummary (for `halab bench` and reports). */
export function toBenchSummary(s: AvailabilityModelSummary): BenchSummary {
  const rows: BenchRow[] = [];
  for (const r of s.table15)
    rows.push({
      figure: `A, client sub-model, ${r.nodes} nodes / Q${r.quorum}`,
      measured: r.availability,
      unit: '',
      reference: r.paperAvailability,
      referenceSource: '003 Table 15',
      ratio: r.availability / r.paperAvailability,
      verdict: r.verdict,
      note: `|diff| ${r.absDiff.toExponential(2)}; downtime ${r.downtimeMinPerYear.toFixed(6)} vs ${r.paperDowntimeMinPerYear} min/yr`,
    });
  for (const r of s.withTakeover)
    rows.push({ figure: `A with 30 s takeovers, ${r.nodes} nodes / Q${r.quorum}`, measured: r.availability, unit: '', verdict: 'info', note: `${r.downtimeMinPerYear.toFixed(3)} min/yr` });
  for (const r of s.measured?.rows ?? [])
    rows.push({
      figure: `A with measured failover, ${r.nodes} nodes / Q${r.quorum}`,
      measured: r.availability,
      unit: '',
      reference: 0.9999,
      referenceSource: '003 §1.2 four nines',
      verdict: r.availability >= 0.9999 ? 'pass' : 'fail',
      note: `${r.downtimeMinPerYear.toFixed(3)} min/yr`,
    });
  return {
    bench: 'availability-model',
    conditions: { model: s.model, tolerance: s.tolerance, ...(s.measured ? { serverTakeoverMs: s.measured.serverTakeoverMs, lanTakeoverMs: s.measured.lanTakeoverMs } : {}) },
    rows,
  };
}

/** Parse "--failover-ms 120,95" / "--failover-ms=120,95". */
function listArg(args: string[], name: string): number[] | undefined {
  const i = args.findIndex((a) => a === name || a.startsWith(name + '='));
  if (i < 0) return undefined;
  const raw = args[i].includes('=') ? args[i].slice(name.length + 1) : args[i + 1];
  const xs = (raw ?? '').split(',').filter(Boolean).map(Number);
  if (!xs.length || xs.some((x) => !(x > 0))) throw new Error(`${name}: expected a comma-separated list of positive milliseconds, got ${raw}`);
  return xs;
}

export function optionsFromArgs(args: string[]): AvailabilityModelOptions {
  return { json: args.includes('--json'), measuredFailoverMs: listArg(args, '--failover-ms'), measuredNicFailoverMs: listArg(args, '--nic-failover-ms') };
}

/** For benchmarks/index.ts: `halab bench availability-model [--failover-ms …] [--nic-failover-ms …]`. */
export const availabilityModelBenchmark: Benchmark = {
  name: 'availability-model',
  description: 'HAS/HA-OSCAR availability model as a CTMC: Table 15 reproduced, plus takeovers and measured failover',
  async run(opts: BenchOptions): Promise<BenchSummary> {
    const s = runAvailabilityModelBench({ ...optionsFromArgs(opts.args), json: false });
    return toBenchSummary(s);
  },
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const o = optionsFromArgs(process.argv.slice(2));
  const s = runAvailabilityModelBench(o);
  if (!o.json) process.stdout.write(formatAvailabilityModel(s));
  process.exitCode = s.allPass ? 0 : 1;
}
