// Host side of load runs: install the generator in a node, run it bounded, bring the ledger back.
// Also wrk (Debian) on the same target, for calibration and for throughput runs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../lab/backends/backend.ts';
import { installDaemon, putFile } from '../../lab/stacks/node-files.ts';
import { DEFAULT_LOAD, type LoadResult, type LoadSpec } from './spec.ts';

const GENERATOR = fileURLToPath(new URL('./generator.ts', import.meta.url));

export interface LoadRun {
  result: LoadResult;
  /** CPU seconds the whole client node used during the run (cgroup), and its wall time. */
  nodeCpuSeconds: number;
  wallSeconds: number;
  /** Where the ledger was copied on the host (when asked for). */
  ledgerFile?: string;
}

export async function runLoadInNode(
  backend: Backend,
  lab: string,
  node: string,
  spec: Partial<LoadSpec> & Pick<LoadSpec, 'httpUrl' | 'paths'>,
  opts: { ledgerFile?: string } = {},
): Promise<LoadRun> {
  const full: LoadSpec = { ...DEFAULT_LOAD, ledgerPath: '/tmp/halab-ledger.jsonl', ...spec };
  const argv = await installDaemon(backend, lab, node, 'loadgen', GENERATOR);
  const specPath = '/tmp/halab-load-spec.json';
  await putFile(backend, lab, node, specPath, JSON.stringify(full));
  const cpu0 = (await backend.stats(lab, node)).cpuSeconds;
  const t0 = performance.now();
  const r = await backend.exec(lab, node, [...argv, specPath], { timeoutMs: full.durationSeconds * 1000 + 60_000 });
  const wallSeconds = (performance.now() - t0) / 1000;
  const nodeCpuSeconds = (await backend.stats(lab, node)).cpuSeconds - cpu0;
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as LoadResult;
  let ledgerFile: string | undefined;
  if (opts.ledgerFile) {
    const ledger = await backend.exec(lab, node, ['cat', full.ledgerPath]);
    writeFileSync(opts.ledgerFile, ledger.stdout);
    ledgerFile = opts.ledgerFile;
  }
  return { result, nodeCpuSeconds, wallSeconds, ledgerFile };
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  errors: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  nodeCpuSeconds: number;
  seconds: number;
}

/** Parse wrk's text output (with --latency). */
export function parseWrk(out: string): Omit<WrkResult, 'nodeCpuSeconds' | 'seconds'> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!Number.isFinite(rps) || !Number.isFinite(requests)) throw new Error(`cannot read wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
  const toMs = (v?: string, unit?: string) =>
    v === undefined ? undefined : Number(v) * (unit === 's' ? 1000 : unit === 'us' ? 0.001 : 1);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  return { requestsPerSecond: rps, requests, errors, latencyP50Ms: toMs(p50?.[1], p50?.[2]), latencyP99Ms: toMs(p99?.[1], p99?.[2]) };
}

export async function runWrkInNode(
  backend: Backend,
  lab: string,
  node: string,
  url: string,
  opts: { threads?: number; connections?: number; seconds?: number } = {},
): Promise<WrkResult> {
  const seconds = opts.seconds ?? 10;
  const cpu0 = (await backend.stats(lab, node)).cpuSeconds;
  const r = await backend.exec(
    lab,
    node,
    ['wrk', '--latency', '-t', String(opts.threads ?? 1), '-c', String(opts.connections ?? 8), '-d', `${seconds}s`, '--timeout', '2s', url],
    { timeoutMs: seconds * 1000 + 30_000 },
  );
  const nodeCpuSeconds = (await backend.stats(lab, node)).cpuSeconds - cpu0;
  return { ...parseWrk(r.stdout), nodeCpuSeconds, seconds };
}
