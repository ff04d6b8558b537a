// `halab chaos run`: bring the lab up, start the probe workload (ledger), apply the timeline's
// faults (journal first), roll everything back, collect events, check, decide the verdict.
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { labUp, openBackend } from '../lab/lab.ts';
import { loadTopologyFile } from '../lab/topology/index.ts';
import type { LabPlan } from '../lab/topology/types.ts';
import type { Logger } from '../lab/util/log.ts';
import { runsRoot } from '../lab/util/paths.ts';
import { UserError } from '../lab/util/errors.ts';
import type { DockerBackend } from '../lab/backends/docker/docker-backend.ts';
import { runLoadInNode } from '../benchmarks/load/run.ts';
import { readJsonl, RUN_FILES, type FaultRecord, type LedgerEntry, type RunEvent } from '../benchmarks/ledger.ts';
import { failovers } from '../benchmarks/checkers/failover.ts';
import { availability } from '../benchmarks/checkers/availability.ts';
import { summarize } from '../benchmarks/checkers/stats.ts';
import { stoppedNodes, vipOwnerOverlaps } from '../benchmarks/checkers/invariants.ts';
import { renderRunReport } from '../reports/report.ts';
import { FAULT_KINDS } from './faults/index.ts';
import { recordPending, recordUndone, type Inverse } from './journal.ts';
import { healLab, undo } from './rollback.ts';
import { expandTimeline, type PlannedFault, type Scenario } from './scenario.ts';
import { resolveRuntime, resolveStatic } from './targets.ts';
import { seededRandom } from '../lab/util/prng.ts';
import { evaluateThresholds, type ThresholdResult } from './thresholds.ts';

export interface RunResult {
  runDir: string;
  metrics: Record<string, number | null>;
  thresholds: ThresholdResult[];
  pass: boolean;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

function probeUrl(s: Scenario, plan: LabPlan): { origin: string; path: string } {
  const url = new URL(s.workload.url.replace('{vip}', plan.vip ?? ''));
  return { origin: url.origin, path: url.pathname + url.search };
}

/** The whole plan, every action with its target, touching nothing. */
export async function dryRun(s: Scenario, log: Logger, seed = s.seed): Promise<string> {
  const { plan } = await loadTopologyFile(s.topology);
  const rand = seededRandom(seed);
  const { origin, path } = probeUrl(s, plan);
  const lines = [
    `scenario ${s.name} (seed ${seed}) on lab ${plan.lab} (${s.topology})`,
    `  up: halab up ${s.topology} (idempotent)`,
    `  workload: probe from node 'client': GET ${origin}${path} on a new connection every ${s.workload.intervalMs} ms, timeout ${s.workload.timeoutMs} ms, for ${s.duration} s`,
  ];
  const fake = {} as DockerBackend; // prepare() only builds closures; nothing is called in a dry run
  for (const f of expandTimeline(s)) {
    const targets = resolveStatic(plan, f.target, rand);
    const names = targets === 'runtime' ? [`<${f.target}: resolved at run time>`] : targets;
    for (const t of names) {
      const prepared = targets === 'runtime' ? undefined : FAULT_KINDS[f.fault]!.prepare({ backend: fake, lab: plan.lab, plan, id: f.id }, t, f.params);
      lines.push(`  t=${f.at}s ${f.fault} → ${t}${f.until !== null ? ` until t=${f.until}s` : ' (until the end)'}`);
      for (const a of prepared?.actions ?? [`${f.fault} on the node that is ${f.target} then`]) lines.push(`      do:   ${a}`);
      if (prepared) lines.push(`      undo: ${JSON.stringify(prepared.inverse)}`);
    }
  }
  lines.push(`  thresholds: ${s.thresholds.map((t) => t.text).join('; ') || '(none)'}`);
  void log;
  return lines.join('\n') + '\n';
}

export interface RunScenarioOptions {
  seed?: number;
  /**
   * The caller takes the lab down right after the run (a benchmark): the last fault's rollback
   * then skips the stack redeploy on a restarted node — nothing runs on the lab afterwards, and a
   * VM master's redeploy took two minutes of a CI run. Every fault is still rolled back.
   */
  teardownAfter?: boolean;
}

export async function runScenario(s: Scenario, log: Logger, opts: RunScenarioOptions = {}): Promise<RunResult> {
  const seed = opts.seed ?? s.seed;
  const rand = seededRandom(seed);
  const up = await labUp(s.topology, log);
  const plan = up.plan;
  const backend = await openBackend(log);
  if (!plan.nodes.some((n) => n.name === 'client')) throw new UserError(`lab ${plan.lab} has no node named 'client' to run the workload from`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = join(runsRoot(), plan.lab, stamp);
  mkdirSync(runDir, { recursive: true });
  const planned = expandTimeline(s);
  writeFileSync(join(runDir, 'plan.json'), JSON.stringify({ scenario: s, seed, faults: planned }, null, 2) + '\n');
  writeFileSync(join(runDir, RUN_FILES.labPlan), JSON.stringify(plan, null, 2) + '\n');
  log.info(`run directory: ${runDir}`);

  let aborted = false;
  const onSignal = () => {
    if (aborted) process.exit(130);
    aborted = true;
    log.warn('interrupted: rolling back every fault (Ctrl-C again to leave at once; `halab heal` finishes the job)');
    void healLab(backend, plan.lab, log, { redeploy: true }).then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const faultsFile = join(runDir, 'faults.jsonl');
  try {
    await warmupFaults(backend, plan, planned, seed, log);
    const { origin, path } = probeUrl(s, plan);
    const t0 = Date.now() + 500; // the probe starts within ~0.5 s (install + spec)
    const probe = runLoadInNode(
      backend,
      plan.lab,
      'client',
      {
        mode: 'open',
        httpUrl: origin,
        paths: [path],
        rate: 1000 / s.workload.intervalMs,
        keepAlive: false,
        timeoutMs: s.workload.timeoutMs,
        durationSeconds: s.duration,
        warmupSeconds: 0,
        maxRequests: Math.ceil((s.duration * 1000) / s.workload.intervalMs) + 10,
      },
      { ledgerFile: join(runDir, 'ledger.jsonl') },
    );
    const progress = setInterval(() => log.info(`  t=${((Date.now() - t0) / 1000).toFixed(0)} s`), 5000);
    const rollbacks = new Set<Promise<unknown>>();
    const lastAt = Math.max(...planned.map((f) => f.at));
    const redeployAfter = (f: PlannedFault) => !(opts.teardownAfter && f.at === lastAt);
    await Promise.all(planned.map((f) => runFault(backend, plan, f, t0, rand, faultsFile, log, () => aborted, rollbacks, redeployAfter(f))));
    const load = await probe.finally(() => clearInterval(progress));
    log.info(`probe: ${load.result.attempted} requests, ${load.result.ok} ok`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const h of await healLab(backend, plan.lab, log, { redeploy: true })) log.info(`  rolled back: ${h}`);
  }
  await collectEvents(backend, plan, runDir);
  const result = check(s, runDir);
  writeFileSync(
    join(runDir, 'summary.json'),
    JSON.stringify(
      {
        bench: `chaos: ${s.name}`,
        conditions: { scenario: s.file, lab: plan.lab, seed, 'probe interval (ms)': s.workload.intervalMs, 'probe timeout (ms)': s.workload.timeoutMs },
        rows: result.thresholds.map((t) => ({ figure: t.text, measured: t.actual, unit: '', verdict: t.pass ? 'pass' : 'fail' })),
        metrics: result.metrics,
        pass: result.pass,
      },
      null,
      2,
    ) + '\n',
  );
  await renderRunReport(runDir);
  return { runDir, ...result };
}

/** Slow set-up of faults that changes nothing yet (an idle proxy), before the workload starts.
 * Resolves targets with its own copy of the seeded source, in the order runFault will. */
async function warmupFaults(backend: DockerBackend, plan: LabPlan, planned: PlannedFault[], seed: number, log: Logger): Promise<void> {
  const rand = seededRandom(seed);
  for (const f of planned) {
    const targets = resolveStatic(plan, f.target, rand);
    if (targets === 'runtime') continue;
    for (const t of targets) {
      const p = FAULT_KINDS[f.fault]!.prepare({ backend, lab: plan.lab, plan, id: f.id }, t, f.params);
      if (!p.warmup) continue;
      log.info(`  warming up ${f.fault} on ${t}`);
      await p.warmup();
    }
  }
}

async function runFault(
  backend: DockerBackend,
  plan: LabPlan,
  f: PlannedFault,
  t0: number,
  rand: () => number,
  faultsFile: string,
  log: Logger,
  aborted: () => boolean,
  rollbacks: Set<Promise<unknown>>,
  redeploy: boolean,
): Promise<void> {
  await sleepUntil(t0 + f.at * 1000);
  // One fault at a time against a lab being repaired: a rollback that restarts a node redeploys the
  // stack (≈ 20 s on has-1), and a fault landing meanwhile (a kill of the other master) breaks the
  // redeploy and leaves the first node without its daemons. The fault waits; its record has the
  // real start.
  let delayMs = 0;
  if (rollbacks.size) {
    const waited = Date.now();
    await Promise.allSettled([...rollbacks]);
    delayMs = Date.now() - waited;
    log.warn(`  ${f.fault} waited ${(delayMs / 1000).toFixed(1)} s past t=${f.at} s for a rollback still running (stack redeploy); its window moves with it`);
  }
  if (aborted()) return;
  const stat = resolveStatic(plan, f.target, rand);
  const targets = stat === 'runtime' ? await resolveRuntime(backend, plan, f.target) : stat;
  const applied = await injectFault(backend, plan, f, targets, log);
  const untilMs = f.until === null ? null : t0 + f.until * 1000 + delayMs;
  if (untilMs !== null && Date.now() > untilMs)
    log.warn(`  ${f.fault} on ${targets.join(', ')}: applying and verifying took past the window's end (t=${f.until} s); rolled back late (the fault record has the real times)`);
  if (untilMs !== null) await sleepUntil(untilMs);
  else return void applied.forEach((a) => appendFileSync(faultsFile, JSON.stringify(a.record) + '\n'));
  const lifting = liftFault(backend, plan, applied, log, redeploy);
  rollbacks.add(lifting);
  try {
    for (const rec of await lifting) appendFileSync(faultsFile, JSON.stringify(rec) + '\n');
  } finally {
    rollbacks.delete(lifting);
  }
}

/** A fault in effect on one target: its record (start, evidence) and its journalled inverse. */
export interface AppliedFault {
  record: FaultRecord;
  inverse: Inverse;
}

/**
 * Apply one fault to already-resolved targets (all at once): journal each inverse BEFORE acting,
 * act, then verify. Several targets get ids `<id>n<i>`.
 */
export async function injectFault(
  backend: DockerBackend,
  plan: LabPlan,
  f: Pick<PlannedFault, 'id' | 'fault' | 'params'>,
  targets: string[],
  log: Logger,
): Promise<AppliedFault[]> {
  const kind = FAULT_KINDS[f.fault];
  if (!kind) throw new UserError(`unknown fault '${f.fault}'; faults: ${Object.keys(FAULT_KINDS).join(', ')}`);
  return Promise.all(
    targets.map(async (target, i) => {
      const id = targets.length > 1 ? `${f.id}n${i}` : f.id;
      const prepared = kind.prepare({ backend, lab: plan.lab, plan, id }, target, f.params);
      recordPending(plan.lab, { id, kind: f.fault, target, inverse: prepared.inverse }); // journal BEFORE the fault
      const start = Date.now();
      await prepared.act();
      const evidence = await prepared.verify().catch((e: Error) => ({ verifyError: e.message }));
      log.info(`  fault ${f.fault} on ${target}: ${JSON.stringify(evidence)}`);
      return { record: { id, kind: f.fault, target, start, params: f.params, evidence }, inverse: prepared.inverse };
    }),
  );
}

/**
 * Roll applied faults back (in order); a node that was restarted gets the stack redeployed (unless
 * `redeploy` is false: the lab goes down next). Returns the finished records (with `end` = when the
 * rollback began).
 */
export async function liftFault(backend: DockerBackend, plan: LabPlan, applied: AppliedFault[], log: Logger, redeploy = true): Promise<FaultRecord[]> {
  const out: FaultRecord[] = [];
  for (const a of applied) {
    const end = Date.now();
    log.info(`  rolled back ${a.record.kind} on ${a.record.target}: ${await undo(backend, plan.lab, a.inverse, { redeploy, log })}${redeploy ? '' : ' (no redeploy: the lab goes down next)'}`);
    recordUndone(plan.lab, a.record.id);
    out.push({ ...a.record, end });
  }
  return out;
}

/** Every node's daemon events (/var/log/halab/events.jsonl) from `from` on, in time order. */
export async function gatherEvents(backend: DockerBackend, plan: LabPlan, from: number): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for (const n of plan.nodes) {
    const r = await backend.exec(plan.lab, n.name, ['cat', '/var/log/halab/events.jsonl'], { check: false }).catch(() => undefined);
    for (const line of r?.stdout.split('\n') ?? []) {
      try {
        const e = JSON.parse(line) as RunEvent;
        if (e.t >= from) events.push(e);
      } catch {
        /* not an event line */
      }
    }
  }
  return events.sort((a, b) => a.t - b.t);
}

async function collectEvents(backend: DockerBackend, plan: LabPlan, runDir: string): Promise<void> {
  const ledger = readJsonl<LedgerEntry>(join(runDir, 'ledger.jsonl'));
  const events = await gatherEvents(backend, plan, Math.min(...ledger.map((l) => l.start)) - 5000);
  writeFileSync(join(runDir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + (events.length ? '\n' : ''));
}

/** The checkers over the run directory, and the thresholds. */
export function check(s: Scenario, runDir: string): Omit<RunResult, 'runDir'> {
  const ledger = readJsonl<LedgerEntry>(join(runDir, 'ledger.jsonl'));
  const events = readJsonl<RunEvent>(join(runDir, 'events.jsonl'));
  const faults = readJsonl<FaultRecord>(join(runDir, 'faults.jsonl'));
  const fo = failovers(ledger, faults, events);
  const out = summarize(fo.map((f) => f.outageMs));
  const det = summarize(fo.map((f) => f.detectionMs).filter((x): x is number => x !== null));
  const av = availability(ledger);
  const firstFault = Math.min(...faults.map((f) => f.start));
  const lastEnd = Math.max(...faults.map((f) => f.end ?? f.start));
  const okRate = (rs: LedgerEntry[]) => (rs.length ? rs.filter((r) => r.outcome === 'ok').length / rs.length : null);
  const tEnd = Math.max(...ledger.map((l) => l.end));
  // Response times of answered requests, overall and inside fault windows (latency faults).
  const inFaults = ledger.filter((l) => faults.some((f) => l.start >= f.start && l.start <= (f.end ?? tEnd)));
  const lat = (rs: LedgerEntry[]) => summarize(rs.filter((r) => r.outcome === 'ok').map((r) => r.end - r.start));
  const latAll = lat(ledger);
  const latIn = lat(inFaults);
  // A killed or stopped node stops being MASTER at that moment (it cannot say so itself).
  const { overlaps } = vipOwnerOverlaps(events, stoppedNodes(faults), 'VI_lan1', tEnd);
  const metrics: Record<string, number | null> = {
    'failover_ms.min': fo.length ? out.min : null,
    'failover_ms.median': fo.length ? out.median : null,
    'failover_ms.p95': fo.length ? out.p95 : null,
    'failover_ms.p99': fo.length ? out.p99 : null,
    'failover_ms.max': fo.length ? out.max : null,
    'detection_ms.median': det.n ? det.median : null,
    failed_requests: av.attempted - av.ok,
    failed_in_fault_windows: fo.reduce((a, f) => a + f.failedWhileHeld, 0),
    failback_failed_requests: fo.reduce((a, f) => a + f.failbackFailed, 0),
    timeouts: ledger.filter((l) => l.outcome === 'timeout').length,
    ok_rate: av.okRate,
    downtime_ms: av.downtimeMs,
    unrecovered_faults: fo.filter((f) => !f.recovered).length,
    faults: faults.length,
    requests: av.attempted,
    'steady_before.ok_rate': okRate(ledger.filter((l) => l.start < firstFault)),
    'steady_after.ok_rate': okRate(ledger.filter((l) => l.start > lastEnd + 2000)),
    'latency_ms.median': latAll.n ? latAll.median : null,
    'latency_ms.p95': latAll.n ? latAll.p95 : null,
    'in_faults.latency_ms.median': latIn.n ? latIn.median : null,
    'in_faults.latency_ms.p95': latIn.n ? latIn.p95 : null,
    'in_faults.ok_rate': okRate(inFaults),
    vip_overlap_ms: overlaps.reduce((a, o) => a + (o.end - o.start), 0),
  };
  writeFileSync(join(runDir, 'failovers.json'), JSON.stringify(fo, null, 2) + '\n');
  const thresholds = evaluateThresholds(s.thresholds, metrics);
  return { metrics, thresholds, pass: thresholds.every((t) => t.pass) };
}
