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
//   10 % TLS, PROBE_RATE_PER_NODE per serving node), so every probe request's outcome and serving
//   node is recorded.
// - Caps: every serving node at the cap over a CFS_PERIOD_MS period. Before measuring, each node's
//   page cache is warmed (the whole docroot read once, uncapped): the figure is a node serving,
//   not a node filling its cache over NFS for the first minutes.
// - Which nodes serve: the others are paused (cgroup freezer), so their traffic-client reports
//   stop and the traffic manager on the masters drops them from the bucket map after its report
//   timeout — the HAS mechanism itself; we wait until the active master's table shows exactly the
//   wanted nodes with equal shares before measuring.
// - CPU: cgroup CPU of the client node (generator), the active master (balancer) and each serving
//   node, the NFS owner, plus the host's busy and softirq time (/proc/stat): nft forwarding runs
//   in softirq, which the kernel charges to whichever context ran it, not to the master's cgroup.
//   Sampled over the middle of the window (CPU_MARGIN_S in from each end): wrk's start-up and the
//   probe's install and ledger copy are not the load being measured.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { labUp, openBackend, readSavedPlan } from '../../lab/lab.ts';
import { loadTopologyFile } from '../../lab/topology/load.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import { hasConfig, type HasConfig } from '../../lab/stacks/has/config.ts';
import { inspectMasters, TM_STATE_PATH } from '../../lab/stacks/has/masters.ts';
import { inspectNfs } from '../../lab/stacks/has/nfs.ts';
import { DOCROOT, fileSetPaths } from '../../lab/stacks/has/traffic.ts';
import { putFile } from '../../lab/stacks/node-files.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import type { Logger } from '../../lab/util/log.ts';
import { UserError } from '../../lab/util/errors.ts';
import { throughputValidity, type CpuSample, type Validity } from '../checkers/validity.ts';
import { parseWrk, runLoadInNode } from '../load/run.ts';
import { lockResident, residentCondition, unlockResident } from './resident.ts';
import type { LoadResult } from '../load/spec.ts';
import type { BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { labDownByName } from '../../lab/lab.ts';
import {
  CPU_MARGIN_S,
  DEFAULT_CAP,
  DEFAULT_CFS_PERIOD_MS,
  HAS16_TOPOLOGY,
  machineConditions,
  makeRunDir,
  numberOption,
  PROBE_RATE_PER_NODE,
  stringOption,
  TLS_SHARE,
  writeJson,
} from './options.ts';

export interface ThroughputLab {
  lab: string;
  cfg: HasConfig;
  backend: DockerBackend;
  client: string;
  /** The master holding the VIP (its nft table is the balancer). */
  balancer: string;
  cap: number;
  /** CFS period the cap is enforced over, ms. */
  periodMs: number;
  /** The NFS server holding the floating IP when the run started (undefined: no NFS in the lab). */
  nfsOwner?: string;
  paths: string[];
  log: Logger;
  /** This run brought the lab up (so it takes it down); false when it reused a running lab. */
  broughtUp: boolean;
  /** MiB of docroot each warmed node holds locked in its page cache (resident.ts). */
  resident: Record<string, number>;
  /** Host CPUs of the traffic nodes and of the rest of the lab, when the run keeps them apart. */
  split?: CpuSplit;
}

/** Which host CPUs the traffic nodes run on, and which the generator, balancer and NFS share. */
export interface CpuSplit {
  nodes: string;
  rest: string;
  /** Every CPU, to hand back at the end. */
  all: string;
  restCount: number;
}

/**
 * `--isolate`: the traffic nodes on the last CPU, everything else on the others; undefined on one
 * CPU. A diagnostic, not the default: this kernel charges softirq time (no IRQ_TIME_ACCOUNTING) to
 * whatever task it interrupts, so on shared CPUs a capped node's quota also pays for the rest of
 * the lab's packets; apart, it pays for its own. Measured 2026-12-05 (README): apart, one node
 * alone on its CPU costs 131–168 µs per request and 16 sharing it 190–224 µs, so the split shows
 * what co-location on one core costs a node, and makes E(n) lower, not higher.
 */
export function cpuSplit(hostCpus: number): CpuSplit | undefined {
  if (hostCpus < 2) return undefined;
  const last = hostCpus - 1;
  return { nodes: String(last), rest: last === 1 ? '0' : `0-${last - 1}`, all: `0-${last}`, restCount: last };
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

/** The topology a throughput bench runs on (`--topology`, default has-16). */
const topologyOf = (args: string[]) => stringOption(args, 'topology') ?? HAS16_TOPOLOGY;

/** The lab a throughput bench runs on with these arguments. */
export async function throughputLabName(args: string[]): Promise<string> {
  return (await loadTopologyFile(topologyOf(args))).plan.lab;
}

/** Bring the HAS lab up (or reuse it when it is up), cap every traffic node at `cap` cores. */
export async function openThroughputLab(topology: string, cap: number, periodMs: number, log: Logger, isolate = false): Promise<ThroughputLab> {
  const backend = await openBackend(log);
  const name = (await loadTopologyFile(topology)).plan.lab;
  const reused = await labAlreadyUp(backend, name);
  const plan = reused ?? (await labUp(topology, log)).plan;
  const cfg = hasConfig(plan);
  if (!backend.setCpuLimit) throw new UserError('this backend cannot change CPU caps live');
  for (const n of cfg.traffic) {
    await backend.start(cfg.lab, n.name); // unpause what an interrupted run left paused
    await backend.setCpuLimit(cfg.lab, n.name, cap, { periodMs });
  }
  const split = isolate ? cpuSplit(cpus().length) : undefined;
  if (split) {
    if (!backend.setCpuSet) throw new UserError('this backend cannot pin nodes to CPUs (run without --isolate)');
    const traffic = new Set(cfg.traffic.map((x) => x.name));
    for (const n of plan.nodes) await backend.setCpuSet(cfg.lab, n.name, traffic.has(n.name) ? split.nodes : split.rest);
    log.info(`${cfg.lab}: traffic nodes on CPU ${split.nodes}, generator, balancer and NFS on CPU ${split.rest}`);
  }
  const ctx = { plan, backend, log, stateDir: labStateDir(cfg.lab) };
  const nfsOwner = cfg.nfs.length ? ((await inspectNfs(ctx, cfg)).owner ?? undefined) : undefined;
  const balancer = (await inspectMasters(ctx, cfg)).find((m) => m.holdsVip)?.node;
  if (!balancer) throw new Error(`${cfg.lab}: no master holds the VIP ${cfg.vip}`);
  const client = cfg.clients.find((c) => c.name === 'client')?.name ?? cfg.clients[0]?.name;
  if (!client) throw new UserError(`${cfg.lab}: the HAS throughput benchmarks need a client node`);
  const paths = fileSetPaths(cfg);
  await putFile(backend, cfg.lab, client, WRK_SCRIPT, wrkFileSetScript(paths));
  return { lab: cfg.lab, cfg, backend, client, balancer, cap, periodMs, nfsOwner, paths, log, broughtUp: !reused, resident: {}, split };
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

const capNode = (t: ThroughputLab, node: string) => t.backend.setCpuLimit!(t.lab, node, t.cap, { periodMs: t.periodMs });

/**
 * Read every file of the docroot once in each node, so the measured windows serve from the page
 * cache (the FUSE mount keeps pages and attributes for params.nfs_cache_seconds), then lock it there
 * for the run (resident.ts: this host's kernel pages out file cache left idle for a minute). The
 * nodes and the NFS owner run uncapped meanwhile (at the cap, filling 16 nodes' caches takes many
 * minutes), eight nodes at a time: each FUSE client sends one call at a time, so a node's warm-up
 * is bound by round trips, not CPU (measured: one node alone 77 s, four at once 71 s each).
 */
export async function warmPageCaches(t: ThroughputLab, nodes: string[], parallel = 8): Promise<void> {
  const t0 = performance.now();
  t.log.info(`warming the page cache of ${nodes.length} node(s) (${t.paths.length} files each, ${parallel} at a time) …`);
  if (t.nfsOwner) await t.backend.setCpuLimit!(t.lab, t.nfsOwner, 0);
  const queue = [...nodes];
  const warmOne = async (n: string) => {
    const t1 = performance.now();
    await t.backend.setCpuLimit!(t.lab, n, 0);
    try {
      // through a pipe: GNU tar writing to /dev/null skips reading the files
      await t.backend.exec(t.lab, n, ['sh', '-c', `tar -cf - -C ${DOCROOT} . | wc -c`], { timeoutMs: 600_000 });
      t.resident[n] = await lockResident(t.backend, t.lab, n, DOCROOT);
    } finally {
      await capNode(t, n);
    }
    t.log.info(`  ${n} warm (${((performance.now() - t1) / 1000).toFixed(1)} s, ${t.resident[n]!.toFixed(1)} MiB locked in memory)`);
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(parallel, nodes.length) }, async () => {
        for (let n = queue.shift(); n; n = queue.shift()) await warmOne(n);
      }),
    );
  } finally {
    if (t.nfsOwner) {
      const own = t.cfg.nfs.find((x) => x.name === t.nfsOwner)?.cpus ?? 0;
      await t.backend.setCpuLimit!(t.lab, t.nfsOwner, own);
    }
  }
  t.log.info(`page caches warm (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
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
        await capNode(t, x.name);
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

interface HostCpu {
  busy: number;
  softirq: number;
  /** Busy seconds of each CPU, by its number. */
  perCpu: number[];
}

/** Host CPU counters (/proc/stat, seconds): busy (user, nice, system, irq, softirq) and softirq, in all and per CPU. */
export function parseProcStat(text: string): HostCpu {
  const hz = 100; // USER_HZ on Linux
  const busyOf = (f: number[]) => {
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
    return { busy: (user + nice + system + irq + softirq) / hz, softirq: softirq / hz };
  };
  const perCpu: number[] = [];
  let all = { busy: 0, softirq: 0 };
  for (const line of text.split('\n')) {
    const m = /^cpu(\d*)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const f = busyOf(m[2]!.split(/\s+/).map(Number));
    if (m[1] === '') all = f;
    else perCpu[Number(m[1])] = f.busy;
  }
  return { ...all, perCpu };
}

const hostCpu = (): HostCpu => parseProcStat(readFileSync('/proc/stat', 'utf8'));

/** CPU numbers of a cpuset list ("0", "0-2", "0,3-4"). */
export function cpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, i) => a! + i);
  });
}

export interface WindowSpec {
  /** Closed-loop clients (wrk connections, plain + TLS). */
  clients: number;
  seconds: number;
  /** Share of the clients on TLS (rounded; 0 below 5 clients at 10 %). Default TLS_SHARE. */
  tlsShare?: number;
  /** Ledger probe rate, requests per second (0 = no probe). Default PROBE_RATE_PER_NODE per serving node. */
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
  /** Probe requests per second the window ran with. */
  probeRate: number;
  latencyP50Ms?: number;
  latencyP99Ms?: number;
  probe?: Pick<LoadResult, 'attempted' | 'ok' | 'failed' | 'byOutcome' | 'servedBy'>;
  /** Cores used over the window. */
  cpu: {
    generator: number;
    balancer: number;
    nfs?: number;
    nodes: Record<string, number>;
    hostBusy: number;
    hostSoftirq: number;
    /** Busy cores of the CPUs the generator, balancer and NFS were kept on (when the run split them). */
    loadSideBusy?: number;
    sampledSeconds: number;
  };
  validity: Validity;
}

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** One measured window of load through the VIP, with the CPU accounting and its validity. */
export async function measureWindow(t: ThroughputLab, serving: string[], w: WindowSpec): Promise<Window> {
  const tlsClients = Math.round(w.clients * (w.tlsShare ?? TLS_SHARE));
  // The probe's own requests are load too: a fixed rate was a large share of one node's capacity
  // and a small one of 16 nodes', which bent E(n) upwards. Per node, it is the same share at every n.
  const probeRate = w.probeRate ?? PROBE_RATE_PER_NODE * serving.length;
  const httpClients = w.clients - tlsClients;
  const who = [t.client, t.balancer, ...serving, ...(t.nfsOwner ? [t.nfsOwner] : [])];
  const toolErrors: string[] = [];
  const wrk = (scheme: 'http' | 'https', c: number) =>
    t.backend
      .exec(
        t.lab,
        t.client,
        ['wrk', '--latency', '-t1', `-c${c}`, `-d${w.seconds}s`, '--timeout', '2s', '-s', WRK_SCRIPT, `${scheme}://${t.cfg.vip}:${scheme === 'http' ? 80 : 443}/`],
        { timeoutMs: w.seconds * 1000 + 30_000 },
      )
      .catch((e: unknown) => {
        // A failed load tool makes this window invalid, not the whole run.
        toolErrors.push(`wrk ${scheme} failed: ${firstLine(e)}`);
        return undefined;
      });
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
  const run = Promise.all([httpClients > 0 ? wrk('http', httpClients) : undefined, tlsClients > 0 ? wrk('https', tlsClients) : undefined]);
  // CPU over the middle of the window: wrk's start, the probe's start-up and its ledger copy
  // afterwards are outside it.
  const margin = Math.min(CPU_MARGIN_S, w.seconds / 4);
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
  await sleep(margin);
  const before = await Promise.all(who.map((n) => t.backend.stats(t.lab, n)));
  const h0 = hostCpu();
  const t0 = performance.now();
  await sleep(w.seconds - 2 * margin);
  const after = await Promise.all(who.map((n) => t.backend.stats(t.lab, n)));
  const h1 = hostCpu();
  const wall = (performance.now() - t0) / 1000;
  const [plain, tls] = await run;
  const probe = await probeRun?.catch((e: unknown) => {
    toolErrors.push(`probe failed: ${firstLine(e)}`);
    return undefined;
  });
  const cores = (i: number) => (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / wall;
  const p = plain ? parseWrk(plain.stdout) : undefined;
  const s = tls ? parseWrk(tls.stdout) : undefined;
  const okRps = (x?: ReturnType<typeof parseWrk>) => (x ? Math.max(0, x.requestsPerSecond - x.errors / w.seconds) : 0);
  const nodes = Object.fromEntries(serving.map((n, i) => [n, cores(i + 2)]));
  const nfsIndex = t.nfsOwner ? 2 + serving.length : -1;
  const hostCores = cpus().length;
  const hostBusy = (h1.busy - h0.busy) / wall;
  const loadSideBusy = t.split ? cpuList(t.split.rest).reduce((a, c) => a + ((h1.perCpu[c] ?? 0) - (h0.perCpu[c] ?? 0)), 0) / wall : undefined;
  // wrk runs one thread per scheme: the generator's allocation is one core per wrk process.
  const generatorCap = Math.min(hostCores, (httpClients > 0 ? 1 : 0) + (tlsClients > 0 ? 1 : 0));
  const samples: CpuSample[] = [
    { component: t.client, role: 'generator', cpu: cores(0), cap: generatorCap },
    { component: t.balancer, role: 'balancer', cpu: cores(1), cap: after[1]!.cpuLimit ?? hostCores },
    ...serving.map((n, i): CpuSample => ({ component: n, role: 'node', cpu: cores(i + 2), cap: after[i + 2]!.cpuLimit ?? t.cap })),
    ...(nfsIndex > 0 ? [{ component: t.nfsOwner!, role: 'nfs' as const, cpu: cores(nfsIndex), cap: after[nfsIndex]!.cpuLimit ?? hostCores }] : []),
    // The host as a whole: every part shares its cores, so a busy host slows them all.
    { component: 'host', role: 'host', cpu: hostBusy, cap: hostCores },
    // Kept apart, the load side has its own CPUs: the generator, balancer and NFS starve there first.
    ...(loadSideBusy !== undefined ? [{ component: `host CPU ${t.split!.rest}`, role: 'host' as const, cpu: loadSideBusy, cap: t.split!.restCount }] : []),
  ];
  return {
    clients: w.clients,
    tlsClients,
    seconds: w.seconds,
    rps: okRps(p) + okRps(s),
    tlsRps: okRps(s),
    errors: (p?.errors ?? 0) + (s?.errors ?? 0),
    probeRate,
    latencyP50Ms: p?.latencyP50Ms,
    latencyP99Ms: p?.latencyP99Ms,
    probe: probe && {
      attempted: probe.result.attempted,
      ok: probe.result.ok,
      failed: probe.result.failed,
      byOutcome: probe.result.byOutcome,
      servedBy: probe.result.servedBy,
    },
    cpu: {
      generator: cores(0),
      balancer: cores(1),
      nfs: nfsIndex > 0 ? cores(nfsIndex) : undefined,
      nodes,
      hostBusy,
      hostSoftirq: (h1.softirq - h0.softirq) / wall,
      loadSideBusy,
      sampledSeconds: wall,
    },
    // A node at ≥ 90 % of its cap was capacity-bound (TARGETS §A.7); below that, something else limited it.
    validity: throughputValidity(samples, { minNodeUtilisation: 0.9, failures: toolErrors }),
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
  if (t.split) for (const n of readSavedPlan(t.lab)?.nodes ?? []) await t.backend.setCpuSet!(t.lab, n.name, t.split.all);
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
  const periodMs = numberOption(opts.args, 'cfs-period-ms', DEFAULT_CFS_PERIOD_MS, 1, 1000);
  const topology = topologyOf(opts.args);
  const t = await openThroughputLab(topology, cap, periodMs, opts.log, opts.args.includes('--isolate'));
  const conditions = {
    ...machineConditions(),
    'CPU cap': `${cap} cores per traffic node over a ${periodMs} ms CFS period`,
    CPUs: t.split
      ? `traffic nodes on CPU ${t.split.nodes}, generator, balancer, NFS and the rest of the lab on CPU ${t.split.rest} (softirq time is charged to the task it interrupts)`
      : 'both shared by every node (--isolate keeps the traffic nodes on a CPU of their own)',
  };
  try {
    const runDir = makeRunDir(t.lab, bench);
    const { raw, summary } = await measure(t, runDir);
    writeJson(runDir, 'windows.json', raw);
    const out: BenchSummary = { ...summary, conditions: { ...summary.conditions, ...conditions, 'page cache': residentCondition(t.resident) }, runDir };
    if (t.broughtUp && opts.keepLab) out.labLeftUp = t.lab;
    writeJson(runDir, 'summary.json', out);
    return out;
  } finally {
    if (t.broughtUp && !opts.args.includes('--keep') && !opts.keepLab) await labDownByName(t.lab, opts.log, t.backend);
    else {
      await restoreNodes(t);
      await unlockResident(t.backend, t.lab, Object.keys(t.resident));
    }
  }
}
