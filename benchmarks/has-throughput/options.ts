// What the two HAS throughput benchmarks share: the default cap and its budget, their command-line
// options, the run directory, and the conditions every summary carries.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../lab/util/errors.ts';

/**
 * Per-traffic-node CPU cap, cores. Chosen so that 16 saturated nodes, the generator, the balancer
 * and the idle rest of the lab fit in 2 cores with a quarter left over (BUDGET_CORES), from what
 * was measured here (2026-11-25, has-16, host saturated by other labs, see README.md): an idle
 * traffic node burns ≈ 0.015 cores in its own daemons (traffic client, erd, watchdog, Apache),
 * the idle masters, NFS servers and client ≈ 0.16 cores, and wrk spends about half a node's CPU
 * per request, the balancer's own cgroup nothing measurable (nft forwarding runs in softirq).
 *   16 × 0.05 × (1 + 0.5) + 0.16 ≈ 1.36 cores ≤ 1.5
 * 0.05 leaves each node ≈ 0.035 cores for serving above its daemons; a smaller cap would leave
 * the daemons' noise most of the node. has-baseline re-measures the costs and prints the
 * projection and the largest cap that fits, so a clean run can confirm or move this value.
 */
export const DEFAULT_CAP = 0.05;
/** Host cores the 16-node run may use: the 2 cores less a quarter for dockerd, the host, noise. */
export const BUDGET_CORES = 1.5;
/** Share of the closed-loop clients on TLS (WebBench's 90 % static / 10 % SSL mix). */
export const TLS_SHARE = 0.1;
/** Ledger probe beside wrk: new connection per request, requests per second. */
export const PROBE_RATE = 20;

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
