// `halab bench has-failover [--quick] [--json] [--trials N] [--kinds a,b] [--lab has-1|has-4]`:
// repeated failover trials on one HAS lab, one fault at a time. Each trial waits for steady state
// (one VIP holder, the preferred master, every traffic node healthy, one NFS IP holder, a 200
// through the VIP), then runs the open-loop probe (a new connection every 10 ms) with the fault
// applied 1.5 s in through the chaos engine (journal first, verify, rollback, redeploy after a
// restart). The run directory holds every ledger line, fault and daemon event; the checkers turn
// them into per-kind failover/detection/failed-request figures beside the thesis's bounds, the
// VIP-owner invariant, and the availability the measured failover gives in the CTMC model.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark, BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { labDownByName, labUp, openBackend } from '../../lab/lab.ts';
import { labAlreadyUp } from '../has-throughput/run.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { Logger } from '../../lab/util/log.ts';
import { labStateDir, runsRoot } from '../../lab/util/paths.ts';
import { UserError } from '../../lab/util/errors.ts';
import { hasConfig, type HasConfig } from '../../lab/stacks/has/config.ts';
import { inspectMasters } from '../../lab/stacks/has/masters.ts';
import { inspectNfs } from '../../lab/stacks/has/nfs.ts';
import { loadStack } from '../../lab/stacks/index.ts';
import { fileSetPaths } from '../../lab/stacks/has/traffic.ts';
import type { StackContext } from '../../lab/stacks/stack.ts';
import { gatherEvents, injectFault, liftFault } from '../../chaos/runner.ts';
import { healLab } from '../../chaos/rollback.ts';
import { resolveRuntime } from '../../chaos/targets.ts';
import { servedByRemoved, stoppedNodes, vipHolderAt, vipOwnerOverlaps } from '../checkers/invariants.ts';
import type { FailoverResult } from '../checkers/failover.ts';
import type { FaultRecord, LedgerEntry, RunEvent } from '../ledger.ts';
import { availabilityWithMeasuredFailover, TABLE_14 } from '../model/has-availability.ts';
import { HAS_FOUR_NINES } from '../paper-targets.ts';
import { probeAroundFault, trialFailover } from './probe.ts';
import { ALL_KINDS, faultTargets, trialProblem, isDetection, KINDS, kindRows, overlapRow, planFor, type FailoverKind, type KindName, type KindOutcome } from './kinds.ts';

const PROBE_INTERVAL_MS = 10;
const PROBE_TIMEOUT_MS = 300;
const LEAD_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Trial {
  kind: KindName;
  n: number;
  faults: FaultRecord[];
  ledger: LedgerEntry[];
  error?: string;
}

/** What keeps the lab from steady state (null: steady). `strict` also wants the preferred master
 * holding the VIP and the preferred NFS server the NFS IP (no fail-back pending), and every
 * traffic node in rotation. */
async function steadyProblem(ctx: StackContext, cfg: HasConfig, strict: boolean): Promise<string | null> {
  const preferred = cfg.masters[0]!.name;
  const client = cfg.clients.find((c) => c.name === 'client') ?? cfg.clients[0]!;
  const ms = await inspectMasters(ctx, cfg);
  const holders = ms.filter((m) => m.holdsVip);
  if (holders.length !== 1) return `${holders.length} VIP holders`;
  if (ms.some((m) => m.vrrp === 'STOPPED' || m.vrrp.includes('FAULT') || m.vrrp === 'INIT')) return `VRRP ${ms.map((m) => `${m.node} ${m.vrrp}`).join(', ')}`;
  if (strict && holders[0]!.node !== preferred) return `${holders[0]!.node} holds the VIP (fail-back to ${preferred} pending)`;
  const sick = holders[0]!.table?.nodes.filter((n) => !n.healthy || n.buckets === 0).map((n) => n.name) ?? ['(no table)'];
  if (strict && sick.length) return `not in rotation: ${sick.join(', ')}`;
  if (cfg.nfs.length) {
    const { owner } = await inspectNfs(ctx, cfg);
    if (!owner || owner.includes('+')) return `NFS IP holder: ${owner ?? 'none'}`;
    // The preferred server takes the IP back preempt_delay after it returns: a trial that started
    // before that found no holder at all when the fail-back happened between two checks.
    if (strict && owner !== cfg.nfs[0]!.name) return `${owner} holds the NFS IP (fail-back to ${cfg.nfs[0]!.name} pending)`;
  }
  const r = await ctx.backend.exec(cfg.lab, client.name, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '2', `http://${cfg.vip}:80${cfg.health.path}`], { check: false });
  return r.stdout.trim() === '200' ? null : `HTTP ${r.stdout.trim() || 'no answer'} through the VIP`;
}

/** Steady state before a trial: what a failover needs to be measurable and comparable. */
async function waitSteady(ctx: StackContext, cfg: HasConfig, log: Logger): Promise<void> {
  for (const [strict, budgetMs] of [[true, 60_000], [false, 60_000]] as const) {
    const end = Date.now() + budgetMs;
    let why: string | null = 'not checked';
    while (Date.now() < end && (why = await steadyProblem(ctx, cfg, strict))) await sleep(500);
    if (!why) return;
    log.warn(`steady state (${strict ? 'strict' : 'relaxed'}) not reached in ${budgetMs / 1000} s: ${why}`);
  }
  throw new UserError(`${cfg.lab}: no steady state to start a trial from (see the warnings above)`);
}

async function nfsHolder(ctx: StackContext, cfg: HasConfig): Promise<string | undefined> {
  const { owner } = await inspectNfs(ctx, cfg);
  return owner && !owner.includes('+') ? owner : undefined;
}

/** Is the NFS export in the request path (a FUSE/NFS mount on the traffic nodes)? */
async function nfsInRequestPath(backend: DockerBackend, cfg: HasConfig): Promise<boolean> {
  const r = await backend.exec(cfg.lab, cfg.traffic[0]!.name, ['sh', '-c', "awk '$3 ~ /^(fuse|nfs)/' /proc/mounts"], { check: false });
  return r.stdout.trim().length > 0;
}

async function runTrial(ctx: StackContext, cfg: HasConfig, plan: LabPlan, kind: FailoverKind, n: number, paths: string[], log: Logger): Promise<Trial> {
  const backend = ctx.backend as DockerBackend;
  await waitSteady(ctx, cfg, log);
  const [activeMaster] = kind.target.startsWith('active-master') ? await resolveRuntime(backend, plan, 'master:active') : [];
  const activeNfs = kind.target === 'active-nfs-all-nics' ? await nfsHolder(ctx, cfg) : undefined;
  const targets = faultTargets(kind.target, { plan, vipNetwork: cfg.vipNetwork, activeMaster, activeNfs, trial: n });
  log.info(`${kind.name} #${n + 1}: ${kind.fault} on ${targets.join(', ')}`);
  const t = await probeAroundFault(
    backend,
    plan.lab,
    {
      client: 'client',
      origin: `http://${cfg.vip}:80`,
      paths,
      intervalMs: PROBE_INTERVAL_MS,
      timeoutMs: kind.probeTimeoutMs ?? PROBE_TIMEOUT_MS,
      leadMs: LEAD_MS,
      seconds: LEAD_MS / 1000 + kind.holdSeconds + kind.tailSeconds,
    },
    async () => {
      const applied = await injectFault(backend, plan, { id: `${kind.name}-${n}`, fault: kind.fault, params: {} }, targets, log);
      // held from the moment it acted (its verification can be slow on a loaded machine)
      await sleep(Math.min(...applied.map((a) => a.record.start)) + kind.holdSeconds * 1000 - Date.now());
      return liftFault(backend, plan, applied, log);
    },
  );
  const first = [...t.faults].sort((a, b) => a.start - b.start)[0]!;
  const problem = trialProblem(t.ledger, { ...first, end: Math.max(...t.faults.map((f) => f.end ?? f.start)) });
  if (problem) return { kind: kind.name, n, faults: t.faults, ledger: t.ledger, error: problem };
  return { kind: kind.name, n, faults: t.faults, ledger: t.ledger };
}

export interface FailoverArgs {
  trials?: number;
  kinds?: KindName[];
  lab?: 'has-1' | 'has-4';
}

export function parseArgs(args: string[]): FailoverArgs {
  const val = (name: string) => {
    const i = args.findIndex((a) => a === name || a.startsWith(name + '='));
    if (i < 0) return undefined;
    return args[i]!.includes('=') ? args[i]!.slice(name.length + 1) : args[i + 1];
  };
  const out: FailoverArgs = {};
  const trials = val('--trials');
  if (trials !== undefined) {
    out.trials = Number(trials);
    if (!Number.isInteger(out.trials) || out.trials < 1) throw new UserError(`--trials: a whole number ≥ 1, not ${trials}`);
  }
  const kinds = val('--kinds');
  if (kinds !== undefined) {
    out.kinds = kinds.split(',').filter(Boolean) as KindName[];
    const bad = out.kinds.filter((k) => !ALL_KINDS.includes(k));
    if (bad.length || !out.kinds.length) throw new UserError(`--kinds: unknown ${bad.join(', ') || '(empty)'}; kinds: ${ALL_KINDS.join(', ')}`);
  }
  const lab = val('--lab');
  if (lab !== undefined) {
    if (lab !== 'has-1' && lab !== 'has-4') throw new UserError(`--lab: has-1 or has-4, not ${lab}`);
    out.lab = lab;
  }
  return out;
}

export async function runHasFailover(opts: BenchOptions): Promise<BenchSummary> {
  const { log } = opts;
  const fp = planFor(opts.quick, parseArgs(opts.args));
  const t0 = Date.now();
  const load0 = loadavg()[0]!;
  // Nodes up (idempotent); the stack is (re)deployed only when the service is not already steady:
  // a full idempotent deploy costs minutes on a loaded machine.
  const backend = await openBackend(log);
  const reused = await labAlreadyUp(backend, fp.lab);
  const up = await labUp(fileURLToPath(new URL(`../../topologies/${fp.lab}.yaml`, import.meta.url)), log, { skipStack: true });
  const plan = up.plan;
  const cfg = hasConfig(plan);
  const ctx: StackContext = { plan, backend, log, stateDir: labStateDir(plan.lab) };
  const problem = await steadyProblem(ctx, cfg, false).catch((e: Error) => e.message);
  if (problem) {
    log.info(`${plan.lab}: ${problem}: deploying the stack`);
    await (await loadStack(plan.stack ?? 'has')).deploy(ctx);
  }
  const runDir = join(runsRoot(), plan.lab, `${new Date().toISOString().replace(/[:.]/g, '-')}-has-failover`);
  mkdirSync(runDir, { recursive: true });
  log.info(`has-failover on ${plan.lab}: ${fp.kinds.join(', ')} × ${fp.trials} trials; run directory ${runDir}`);
  const nfsInPath = await nfsInRequestPath(backend, cfg);
  const files = fileSetPaths(cfg).slice(0, 50);
  const trials: Trial[] = [];
  try {
    for (const name of fp.kinds) {
      const kind = KINDS[name];
      for (let n = 0; n < fp.trials; n++) {
        try {
          const t = await runTrial(ctx, cfg, plan, kind, n, kind.fileSet ? files : [cfg.health.path], log);
          if (t.error) log.warn(`${name} #${n + 1} not usable: ${t.error}`);
          trials.push(t);
          appendFileSync(join(runDir, 'ledger.jsonl'), t.ledger.map((l) => JSON.stringify({ ...l, client: `${name}#${n}` }) + '\n').join(''));
          appendFileSync(join(runDir, 'faults.jsonl'), t.faults.map((f) => JSON.stringify(f) + '\n').join(''));
        } catch (err) {
          // One broken trial must not cost the others: roll back, note it, go on.
          log.warn(`${name} #${n + 1} could not run: ${(err as Error).message}`);
          for (const h of await healLab(backend, plan.lab, log)) log.info(`  rolled back: ${h}`);
          trials.push({ kind: name, n, faults: [], ledger: [], error: (err as Error).message });
        }
      }
    }
  } finally {
    for (const h of await healLab(backend, plan.lab, log)) log.info(`  rolled back: ${h}`);
  }
  const events = await gatherEvents(backend, plan, t0 - 5000);
  // A lab this run brought up goes down with it (--keep leaves it); a lab that was up stays up.
  if (!reused && !opts.args.includes('--keep')) await labDownByName(plan.lab, log, backend);
  writeFileSync(join(runDir, 'events.jsonl'), events.map((e) => JSON.stringify(e) + '\n').join(''));
  const summary = summarize(fp, trials, events, { cfg, plan, nfsInPath, t0, load0, runDir });
  writeFileSync(join(runDir, 'trials.json'), JSON.stringify(trials.map((t) => ({ kind: t.kind, n: t.n, faults: t.faults, requests: t.ledger.length, error: t.error })), null, 2) + '\n');
  writeFileSync(join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The checkers over the trials (pure apart from the clock for the conditions). */
function summarize(
  fp: ReturnType<typeof planFor>,
  trials: Trial[],
  events: RunEvent[],
  c: { cfg: HasConfig; plan: LabPlan; nfsInPath: boolean; t0: number; load0: number; runDir: string },
): BenchSummary {
  const allFaults = trials.flatMap((t) => t.faults);
  const instance = `VI_${c.cfg.vipNetwork.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const tEnd = Math.max(c.t0, ...trials.flatMap((t) => t.ledger.map((l) => l.end)));
  const downs = stoppedNodes(allFaults);
  const { overlaps } = vipOwnerOverlaps(events, downs, instance, tEnd);
  const outcomes: KindOutcome[] = [];
  const rows: BenchRow[] = [];
  for (const name of fp.kinds) {
    const kind = KINDS[name];
    const ran = trials.filter((t) => t.kind === name && !t.error && t.ledger.length && t.faults.length);
    const results: FailoverResult[] = ran.map((t) =>
      trialFailover(t, events, { isDetection: (e, f) => isDetection(kind, e, f), windowEnd: Math.max(...t.ledger.map((l) => l.end)) }),
    );
    const overlapMs = ran.map((t) => {
      const from = Math.min(...t.ledger.map((l) => l.start));
      const to = Math.max(...t.ledger.map((l) => l.end));
      return overlaps.filter((o) => o.start >= from && o.start <= to).reduce((a, o) => a + o.durationMs, 0);
    });
    const o: KindOutcome = { kind, results, overlapMs, nfsInPath: c.nfsInPath };
    outcomes.push(o);
    rows.push(...kindRows(o));
    const broken = trials.filter((t) => t.kind === name && t.error).length;
    if (broken) rows.push({ figure: `${kind.label}: trials not usable (could not run, or the probe did not cover the fault)`, measured: broken, unit: 'trials', reference: 0, verdict: 'fail', note: trials.find((t) => t.kind === name && t.error)?.error });
  }
  rows.push(overlapRow(outcomes));
  const ledger = trials.flatMap((t) => t.ledger);
  // judged by the balancer that held the VIP when each request started (the standby's table is inert)
  const removed = servedByRemoved(ledger, events, { activeBalancer: vipHolderAt(events, downs, instance), downs });
  rows.push({
    figure: 'invariant: no request served by a node the balancer had removed (> 1 s after removal)',
    measured: removed.length,
    unit: 'requests',
    reference: 0,
    referenceSource: 'invariant',
    verdict: removed.length === 0 ? 'pass' : 'fail',
  });
  rows.push(...modelRows(outcomes));
  const ms = (x: number) => `${Math.round(x)} ms`;
  return {
    bench: 'has-failover',
    conditions: {
      lab: c.plan.lab,
      topology: `topologies/${c.plan.lab}.yaml: 2 masters (VRRPv3 unicast, nft direct routing), ${c.cfg.traffic.length} traffic node(s) capped at ${c.plan.nodes.find((n) => n.role === 'traffic')?.cpus ?? '—'} CPU, 2 NFS servers, 1 client; 2 LANs`,
      'trials per kind': fp.trials,
      kinds: fp.kinds.join(', '),
      'VRRP advert interval': `${c.cfg.vrrp.advertSeconds} s`,
      'probe': `open loop from node client, one GET per ${PROBE_INTERVAL_MS} ms, new TCP connection each (keep-alive off), timeout ${PROBE_TIMEOUT_MS} ms${fp.kinds.filter((k) => KINDS[k].probeTimeoutMs).map((k) => ` (${k}: ${KINDS[k].probeTimeoutMs} ms)`).join('')}`,
      'fault timing': `steady state (one VIP holder = preferred master, all traffic nodes in rotation, the preferred NFS server holding the NFS IP, HTTP 200) → probe → fault after ${ms(LEAD_MS)} → held ${fp.kinds.map((k) => `${k} ${KINDS[k].holdSeconds} s`).join(', ')} → rolled back (a restarted node gets the stack redeployed)`,
      disconnect: 'master-disconnect = links of both NICs of the active master down (cables pulled); partition by nftables is chaos/scenarios/has-master-disconnect.yaml',
      'erd': `kernel link events, safety poll ${c.cfg.erd.pollMs} ms`,
      'health checks': `every ${c.cfg.health.intervalSeconds} s, timeout ${c.cfg.health.timeoutSeconds} s`,
      'NFS in the request path': c.nfsInPath ? 'yes (FUSE/NFS mount on the traffic nodes)' : 'no (traffic nodes serve a local copy)',
      'host load average (1 min) at start / end': `${c.load0.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${'2 cores, shared'}`,
      'wall time': `${((Date.now() - c.t0) / 1000).toFixed(0)} s`,
      'percentiles': 'nearest rank (p99 = max for ≤ 100 trials)',
    },
    rows,
    runDir: c.runDir,
  };
}

/** Availability from the CTMC with the measured master / NIC failover times as takeover times. */
function modelRows(outcomes: KindOutcome[]): BenchRow[] {
  const gapsOf = (pred: (k: FailoverKind) => boolean) =>
    outcomes.filter((o) => pred(o.kind)).flatMap((o) => o.results.map((r) => r.maxGapMs).filter((x): x is number => x !== null && x > 0));
  const master = gapsOf((k) => k.bound === 'master');
  const nic = gapsOf((k) => k.bound === 'nic');
  if (!master.length) return [];
  const nodes = 4;
  const quorum = 3; // Table 15's first configuration
  const a = availabilityWithMeasuredFailover({ serverTakeoverMs: master, lanTakeoverMs: nic.length ? nic : undefined }, nodes, quorum);
  const paper = availabilityWithMeasuredFailover({ serverTakeoverMs: [TABLE_14.serverTakeoverS * 1000], lanTakeoverMs: [TABLE_14.lanTakeoverS * 1000] }, nodes, quorum);
  const list = (xs: number[]) => xs.map((x) => Math.round(x)).join(',');
  return [
    {
      figure: `availability model (CTMC, ${nodes} nodes / Q${quorum}) with the measured failover as takeover time`,
      measured: a.system.availability,
      unit: '',
      reference: HAS_FOUR_NINES.value,
      referenceSource: `${HAS_FOUR_NINES.source} four nines`,
      verdict: a.system.availability >= HAS_FOUR_NINES.value ? 'pass' : 'fail',
      note: `${a.system.downtimeMinPerYear.toFixed(3)} min/yr (with Table 14's 30 s takeovers: A = ${paper.system.availability.toFixed(10)}); the same: npx halab bench availability-model --failover-ms ${list(master)}${nic.length ? ` --nic-failover-ms ${list(nic)}` : ''}`,
    },
  ];
}

export const hasFailoverBenchmark: Benchmark = {
  name: 'has-failover',
  description: 'HAS failover trials (master kill/stop/pause/disconnect, NICs, NFS, traffic node) beside the thesis (003 §4.8)',
  run: runHasFailover,
};
