// What the two HAS throughput benchmarks share: the default cap and its budget, their command-line
// options, the run directory, and the conditions every summary carries.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../lab/util/errors.ts';

/**
 * Per-traffic-node CPU cap, cores. Chosen so that 16 saturated nodes, the generator, the balancer,
 * the NFS owner and the idle rest of the lab fit in 2 cores with a quarter left over
 * (BUDGET_CORES). Measured here (2026-12-03/04, has-16, quiet machine; README.md): per request a
 * node spends ≈ 0.23–0.33 ms, wrk ≈ 0.14–0.18 ms, the NFS owner ≈ 0.03–0.1 ms (warm caches), and
 * the idle masters, NFS servers and client ≈ 0.16 cores. At 0.05 the host reached 1.56–1.61 of
 * its 2 cores with 16 nodes serving, at the 80 % validity edge (two of five rounds invalid); 0.04
 * projects to ≈ 1.35 cores. has-baseline re-measures the costs and prints the projection and the
 * largest cap that fits, so a clean run can confirm or move this value.
 */
export const DEFAULT_CAP = 0.04;
/**
 * CFS period the cap is enforced over, ms: 0.04 cores over the kernel's 100 ms is 4 ms slices, and a
 * node never reached its cap (requests waited whole periods behind its own daemons); over 500 ms
 * the same share comes in 20 ms slices.
 */
export const DEFAULT_CFS_PERIOD_MS = 500;
/** Host cores the 16-node run may use: the 2 cores less a quarter for dockerd, the host, noise. */
export const BUDGET_CORES = 1.5;
/** Share of the closed-loop clients on TLS (WebBench's 90 % static / 10 % SSL mix). */
export const TLS_SHARE = 0.1;
/** Ledger probe beside wrk: new connection per request, requests per second per serving node. */
export const PROBE_RATE_PER_NODE = 2;
/** CPU is sampled over a window less this many seconds at each end. */
export const CPU_MARGIN_S = 1;

export const HAS16_TOPOLOGY = fileURLToPath(new URL('../../topologies/has-16.yaml', import.meta.url));

/** `--name value` options of a benchmark (numbers and number lists), with clear errors. */
export function numberOption(args: string[], name: string, dflt: number, min: number, max: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < min || v > max) throw new UserError(`--${name} must be a number in [${min}, ${max}], got ${args[i + 1]}`);
  return v;
}

export function listOption(args: string[], name: string, dflt: number[], min: number, max: number): number[] {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = (args[i + 1] ?? '').split(',').map(Number);
  if (!v.length || v.some((x) => !Number.isInteger(x) || x < min || x > max))
    throw new UserError(`--${name} must be a comma-separated list of integers in [${min}, ${max}], got ${args[i + 1]}`);
  return v;
}

export function stringOption(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
}

/** runs/<lab>/<time>-<bench>/ for the raw windows and ledgers. */
export function makeRunDir(lab: string, bench: string): string {
  const dir = join('runs', lab, `${new Date().toISOString().replace(/[:.]/g, '-')}-${bench}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeJson(dir: string, file: string, data: unknown): void {
  writeFileSync(join(dir, file), JSON.stringify(data, null, 2) + '\n');
}

/** The machine and load conditions a summary states. */
export function machineConditions(): Record<string, string> {
  const c = cpus();
  return {
    machine: `${c.length} × ${c[0]?.model ?? 'cpu'}`,
    'host load average at start (1 min)': loadavg()[0]!.toFixed(2),
    date: new Date().toISOString(),
  };
}
