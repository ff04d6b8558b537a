// The thin layer of the HAS throughput benchmarks that touches the lab: bring the HAS lab up, cap
// the traffic nodes, choose how many of them serve, and measure one window of closed-loop load
// through the VIP with the CPU of every part recorded.
//
// - Load: wrk (Debian) in the client node, the tool load-calibration chose (halab's Node generator
//   reaches well under 0.8× wrk here). The WebBench mix: 90 % of the connections plain HTTP, 10 %
//   TLS (wrk binds a connection to one scheme, so the mix is by connection; the measured request
//   share is reported), each request for a random file of the traffic nodes' file set (a Lua
//   script). Keep-alive, like WebBench's default.
// - Ledger: halab's generator runs beside wrk as an open-loop probe (new connection per request,
//   10 % TLS), so every probe request's outcome and serving node is recorded.
// - Which nodes serve: the others are paused (cgroup freezer), so their traffic-client reports
//   stop and the traffic manager on the masters drops them from the bucket map after its report
//   timeout — the HAS mechanism itself; we wait until the active master's table shows exactly the
//   wanted nodes with equal shares before measuring.
// - CPU: cgroup CPU of the client node (generator), the active master (balancer) and each serving
//   node over the window, plus the host's busy and softirq time (/proc/stat): nft forwarding runs
//   in softirq, which the kernel charges to whichever context ran it, not to the master's cgroup.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { labUp, openBackend, readSavedPlan } from '../../lab/lab.ts';
import { loadTopologyFile } from '../../lab/topology/load.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import { hasConfig, type HasConfig } from '../../lab/stacks/has/config.ts';
import { inspectMasters, TM_STATE_PATH } from '../../lab/stacks/has/masters.ts';
import { fileSetPaths } from '../../lab/stacks/has/traffic.ts';
import { putFile } from '../../lab/stacks/node-files.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import type { Logger } from '../../lab/util/log.ts';
import { UserError } from '../../lab/util/errors.ts';
import { throughputValidity, type CpuSample, type Validity } from '../checkers/validity.ts';
import { parseWrk, runLoadInNode } from '../load/run.ts';
import type { LoadResult } from '../load/spec.ts';
import type { BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { labDownByName } from '../../lab/lab.ts';
import { DEFAULT_CAP, HAS16_TOPOLOGY, machineConditions, makeRunDir, numberOption, PROBE_RATE, stringOption, TLS_SHARE, writeJson } from './options.ts';

export interface ThroughputLab {
  lab: string;
  cfg: HasConfig;
  backend: DockerBackend;
  client: string;
  /** The master holding the VIP (its nft table is the balancer). */
  balancer: string;
  cap: number;
  paths: string[];
  log: Logger;
  /** This run brought the lab up (so it takes it down); false when it reused a running lab. */
  broughtUp: boolean;
}

const WRK_SCRIPT = '/etc/halab/wrk-fileset.lua';

/** wrk script: each request for a random file of the set; each thread seeded differently. */
export function wrkFileSetScript(paths: string[]): string {
  return [
    `local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}`,
    'local n = 0',
    'function setup(thread) n = n + 1; thread:set("seed", n) end',
    'function init(args) math.randomseed(1032 + (seed or 0)) end',
    'function request() return wrk.format("GET", paths[math.random(#paths)]) end',
    '',
  ].join('\n');
}

/** The lab's plan when every node of it exists (running or paused): then no redeploy is needed. */
export async function labAlreadyUp(backend: DockerBackend, lab: string): Promise<LabPlan | undefined> {
  const plan = readSavedPlan(lab);
  if (!plan) return undefined;
  const states = await Promise.all(plan.nodes.map((n) => backend.inspect(lab, n.name).then((i) => i.state, () => 'missing')));
  return states.every((s) => s === 'running' || s === 'paused') ? plan : undefined;
}

/** Bring the HAS lab up (or reuse it when it is up), cap every traffic node at `cap` cores. */
export async function openThroughputLab(topology: string, cap: number, log: Logger): Promise<ThroughputLab> {
  const backend = await openBackend(log);
  const name = (await loadTopologyFile(topology)).plan.lab;
  const reused = await labAlreadyUp(backend, name);
  const plan = reused ?? (await labUp(topology, log)).plan;
  const cfg = hasConfig(plan);
  if (!backend.setCpuLimit) throw new UserError('this backend cannot change CPU caps live');
  for (const n of cfg.traffic) {
    await backend.start(cfg.lab, n.name); // unpause what an interrupted run left paused
    await backend.setCpuLimit(cfg.lab, n.name, cap);
  }
  const ctx = { plan, backend, log, stateDir: labStateDir(cfg.lab) };
  const balancer = (await inspectMasters(ctx, cfg)).find((m) => m.holdsVip)?.node;
  if (!balancer) throw new Error(`${cfg.lab}: no master holds the VIP ${cfg.vip}`);
  const client = cfg.clients.find((c) => c.name === 'client')?.name ?? cfg.clients[0]?.name;
  if (!client) throw new UserError(`${cfg.lab}: the HAS throughput benchmarks need a client node`);
  const paths = fileSetPaths(cfg);
  await putFile(backend, cfg.lab, client, WRK_SCRIPT, wrkFileSetScript(paths));
  return { lab: cfg.lab, cfg, backend, client, balancer, cap, paths, log, broughtUp: !reused };
}

interface TmState {
  t: number;
  nodes: { name: string; buckets: number; healthy: boolean; index: number; reportAgeMs: number | null }[];
}

/** The balancer's traffic-manager table (bucket counts, health, report ages), if readable. */
async function tmState(t: ThroughputLab): Promise<TmState | undefined> {
  const r = await t.backend.exec(t.lab, t.balancer, ['cat', TM_STATE_PATH], { check: false });
  try {
    return JSON.parse(r.stdout) as TmState;
  } catch {
    return undefined;
  }
}

/** Why a table is not the wanted one, for the error message: the manager's own view of each node. */
function describeTable(s: TmState | undefined): string {
  if (!s) return 'no traffic-manager state';
  const nodes = s.nodes
    .filter((n) => n.buckets > 0 || n.healthy)
    .map((n) => `${n.name}: ${n.buckets} buckets, ${n.healthy ? 'healthy' : 'failed check'}, index ${n.index}, last report ${n.reportAgeMs ?? '—'} ms ago`);
  return `state written ${Date.now() - s.t} ms ago; ${nodes.join('; ')}`;
}

/**
 * The bucket map holds exactly `serving`, none of them below half an equal share. Shares are not
 * exactly equal: the traffic manager weights nodes by their load index, which moves with each
 * node's recent CPU use (the node that just served is "busier" than one just resumed). Keep-alive
 * connections stay where they were hashed, so what matters is that every serving node gets enough
 * of them to saturate, which half a share with ≥ 12 clients per node gives.
 */
export function tableServes(table: Record<string, number>, serving: string[], minShare = 0.5): boolean {
  const total = Object.values(table).reduce((a, b) => a + b, 0);
  if (!total || !serving.length) return false;
  const fair = total / serving.length;
  return Object.entries(table).every(([name, b]) => (serving.includes(name) ? b >= minShare * fair : b === 0));
}

/**
 * Freeze a node. The freezer must catch every task at a safe point, and a task throttled by a
 * small CPU cap may not run for a whole CFS period, so runc gives up ("unable to freeze") on a
 * busy host: lift the cap first (a frozen node uses no CPU anyway) and retry a few times.
 */
async function pauseNode(t: ThroughputLab, node: string): Promise<void> {
  await t.backend.setCpuLimit!(t.lab, node, 0);
  for (let attempt = 1; ; attempt++) {
    try {
      return await t.backend.pause(t.lab, node);
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** Let only the first n traffic nodes serve; wait until the balancer's map says so. */
export async function useNodes(t: ThroughputLab, n: number, timeoutMs = 90_000): Promise<string[]> {
  if (n < 1 || n > t.cfg.traffic.length) throw new UserError(`${t.lab} has ${t.cfg.traffic.length} traffic nodes, asked for ${n}`);
  const serving = t.cfg.traffic.slice(0, n).map((x) => x.name);
  await Promise.all(
    t.cfg.traffic.map(async (x, i) => {
      const state = (await t.backend.inspect(t.lab, x.name)).state;
      if (i < n && state === 'paused') {
        await t.backend.resume(t.lab, x.name);
        await t.backend.setCpuLimit!(t.lab, x.name, t.cap);
      }
      if (i >= n && state === 'running') await pauseNode(t, x.name);
    }),
  );
  const t0 = Date.now();
  let state: TmState | undefined;
  while (Date.now() - t0 < timeoutMs) {
    state = await tmState(t);
    if (state && tableServes(Object.fromEntries(state.nodes.map((x) => [x.name, x.buckets])), serving)) return serving;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${t.lab}: the balancer's bucket map did not settle on ${n} node(s) in ${timeoutMs / 1000} s (${describeTable(state)})`);
}

/** Host CPU counters (/proc/stat, seconds): busy (user, nice, system, irq, softirq) and softirq. */
function hostCpu(): { busy: number; softirq: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
  const hz = 100; // USER_HZ on Linux
  return { busy: (user + nice + system + irq + softirq) / hz, softirq: softirq / hz };
}

export interface WindowSpec {
  /** Closed-loop clients (wrk connections, plain + TLS). */
  clients: number;
  seconds: number;
  /** Share of the clients on TLS (rounded; 0 below 5 clients at 10 %). Default TLS_SHARE. */
  tlsShare?: number;
  /** Ledger probe rate, requests per second (0 = no probe). Default PROBE_RATE. */
  probeRate?: number;
  /** Copy the probe's ledger here on the host. */
  ledgerFile?: string;
}

export interface Window {
  clients: number;
  tlsClients: number;
  seconds: number;
  /** Successful requests per second (wrk, plain + TLS; non-2xx and socket errors excluded). */
  rps: number;
  tlsRps: number;
  /** wrk errors: socket connect/read/write/timeout + non-2xx. */
  errors: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  probe?: Pick<LoadResult, 'attempted' | 'ok' | 'failed' | 'byOutcome' | 'servedBy'>;
  /** Cores used over the window. */
  cpu: { generator: number; balancer: number; nodes: Record<string, number>; hostBusy: number; hostSoftirq: number };
  validity: Validity;
}

/** One measured window of load through the VIP, with the CPU accounting and its validity. */
export async function measureWindow(t: ThroughputLab, serving: string[], w: WindowSpec): Promise<Window> {
  const tlsClients = Math.round(w.clients * (w.tlsShare ?? TLS_SHARE));
  const probeRate = w.probeRate ?? PROBE_RATE;
  const httpClients = w.clients - tlsClients;
  const who = [t.client, t.balancer, ...serving];
  const before = await Promise.all(who.map((n) => t.backend.stats(t.lab, n)));
  const h0 = hostCpu();
  const t0 = performance.now();
  const wrk = (scheme: 'http' | 'https', c: number) =>
    t.backend.exec(
      t.lab,
      t.client,
      ['wrk', '--latency', '-t1', `-c${c}`, `-d${w.seconds}s`, '--timeout', '2s', '-s', WRK_SCRIPT, `${scheme}://${t.cfg.vip}:${scheme === 'http' ? 80 : 443}/`],
      { timeoutMs: w.seconds * 1000 + 30_000 },
    );
  // The probe runs beside wrk but starts later and ends later (it installs itself, starts a node
  // process, copies its ledger back): the CPU window is wrk's alone, or the nodes' idle tail
  // after wrk would dilute their utilisation.
  const probeRun =
    probeRate > 0
      ? runLoadInNode(
          t.backend,
          t.lab,
          t.client,
          {
            mode: 'open',
            httpUrl: `http://${t.cfg.vip}:80`,
            httpsUrl: `https://${t.cfg.vip}:443`,
            tlsShare: 0.1,
            paths: t.paths,
            rate: probeRate,
            durationSeconds: w.seconds,
            warmupSeconds: 0,
            keepAlive: false,
            ledgerPath: '/tmp/halab-throughput-ledger.jsonl',
          },
          { ledgerFile: w.ledgerFile },
        )
      : undefined;
  probeRun?.catch(() => {}); // handled below, after wrk; a failure must not go unhandled meanwhile
  const [plain, tls] = await Promise.all([httpClients > 0 ? wrk('http', httpClients) : undefined, tlsClients > 0 ? wrk('https', tlsClients) : undefined]);
  const wall = (performance.now() - t0) / 1000;
  const h1 = hostCpu();
  const after = await Promise.all(who.map((n) => t.backend.stats(t.lab, n)));
  const probe = await probeRun;
  const cores = (i: number) => (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / wall;
  const p = plain ? parseWrk(plain.stdout) : undefined;
  const s = tls ? parseWrk(tls.stdout) : undefined;
  const okRps = (x?: ReturnType<typeof parseWrk>) => (x ? Math.max(0, x.requestsPerSecond - x.errors / w.seconds) : 0);
  const nodes = Object.fromEntries(serving.map((n, i) => [n, cores(i + 2)]));
  const hostCores = cpus().length;
  // wrk runs one thread per scheme: the generator's allocation is one core per wrk process.
  const generatorCap = Math.min(hostCores, (plain ? 1 : 0) + (tls ? 1 : 0));
  const samples: CpuSample[] = [
    { component: t.client, role: 'generator', cpu: cores(0), cap: generatorCap },
    { component: t.balancer, role: 'balancer', cpu: cores(1), cap: after[1]!.cpuLimit ?? hostCores },
    ...serving.map((n, i): CpuSample => ({ component: n, role: 'node', cpu: cores(i + 2), cap: after[i + 2]!.cpuLimit ?? t.cap })),
  ];
  return {
    clients: w.clients,
    tlsClients,
    seconds: wall,
    rps: okRps(p) + okRps(s),
    tlsRps: okRps(s),
    errors: (p?.errors ?? 0) + (s?.errors ?? 0),
    latencyP50Ms: p?.latencyP50Ms,
    latencyP99Ms: p?.latencyP99Ms,
    probe: probe && {
      attempted: probe.result.attempted,
      ok: probe.result.ok,
      failed: probe.result.failed,
      byOutcome: probe.result.byOutcome,
      servedBy: probe.result.servedBy,
    },
    cpu: { generator: cores(0), balancer: cores(1), nodes, hostBusy: (h1.busy - h0.busy) / wall, hostSoftirq: (h1.softirq - h0.softirq) / wall },
    // A node at ≥ 90 % of its cap was capacity-bound (TARGETS §A.7); below that, something else limited it.
    validity: throughputValidity(samples, { minNodeUtilisation: 0.9 }),
  };
}

/** Probe requests served by a node outside `serving` (the balancer must not send any there). */
export function strayServers(probe: Window['probe'], serving: string[]): string[] {
  return Object.keys(probe?.servedBy ?? {}).filter((n) => !serving.includes(n));
}

/** The ledger's rows over a run: failed requests (wrk + probe), and the bucket-map invariant. */
export function ledgerRows(windows: { w: Window; serving: string[] }[]): BenchRow[] {
  const stray = windows.flatMap(({ w, serving }) => strayServers(w.probe, serving));
  const sum = (f: (w: Window) => number) => windows.reduce((a, x) => a + f(x.w), 0);
  const probeFailed = sum((w) => w.probe?.failed ?? 0);
  return [
    {
      figure: 'failed requests: wrk errors + failed probe requests',
      measured: sum((w) => w.errors) + probeFailed,
      unit: `(probe: ${probeFailed} of ${sum((w) => w.probe?.attempted ?? 0)})`,
      verdict: 'info',
      note: 'the probe opens a new connection per request; a modern client queues where WebBench timed out',
    },
    {
      figure: 'probe requests served by a node outside the bucket map',
      measured: stray.length,
      unit: '',
      reference: 0,
      referenceSource: 'invariant',
      verdict: stray.length === 0 ? 'pass' : 'fail',
      note: stray.length ? `served by ${[...new Set(stray)].join(', ')}` : '',
    },
  ];
}

/** Cores each node of the lab uses with no load at all, over `seconds`. */
export async function idleCores(t: ThroughputLab, seconds: number): Promise<Record<string, number>> {
  const names = (readSavedPlan(t.lab)?.nodes ?? []).map((n) => n.name);
  const running = (await Promise.all(names.map(async (n) => ((await t.backend.inspect(t.lab, n)).state === 'running' ? n : undefined)))).filter(
    (n): n is string => !!n,
  );
  const before = await Promise.all(running.map((n) => t.backend.stats(t.lab, n)));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const after = await Promise.all(running.map((n) => t.backend.stats(t.lab, n)));
  const wall = (performance.now() - t0) / 1000;
  return Object.fromEntries(running.map((n, i) => [n, (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / wall]));
}

/** Leave a lab that stays up as its topology made it: every traffic node running at its own cap. */
async function restoreNodes(t: ThroughputLab): Promise<void> {
  for (const n of t.cfg.traffic) {
    await t.backend.start(t.lab, n.name);
    await t.backend.setCpuLimit!(t.lab, n.name, n.cpus ?? 0);
  }
}

/**
 * A benchmark run around `measure`: open (or reuse) the lab (--topology, default has-16) capped at
 * --cap cores, give it a run
 * directory, write its raw windows and the summary there with the machine's conditions, and take
 * the lab down afterwards if this run brought it up (unless --keep).
 */
export async function withThroughputRun(
  opts: BenchOptions,
  bench: string,
  measure: (t: ThroughputLab, runDir: string) => Promise<{ raw: unknown; summary: BenchSummary }>,
): Promise<BenchSummary> {
  const cap = numberOption(opts.args, 'cap', DEFAULT_CAP, 0.01, 2);
  const topology = stringOption(opts.args, 'topology') ?? HAS16_TOPOLOGY;
  const conditions = machineConditions();
  const t = await openThroughputLab(topology, cap, opts.log);
  try {
    const runDir = makeRunDir(t.lab, bench);
    const { raw, summary } = await measure(t, runDir);
    writeJson(runDir, 'windows.json', raw);
    const out = { ...summary, conditions: { ...summary.conditions, ...conditions }, runDir };
    writeJson(runDir, 'summary.json', out);
    return out;
  } finally {
    if (t.broughtUp && !opts.args.includes('--keep')) await labDownByName(t.lab, opts.log, t.backend);
    else await restoreNodes(t);
  }
}
