// Master failover on VM masters beside the same scenario on container masters, in one run on one
// machine: `halab bench vm-failover [SCENARIO] [--trials N] [--keep]`.
//   SCENARIO   a chaos scenario on a topology with VM nodes (default chaos/scenarios/has-vm-master-kill.yaml)
//   --trials   how many faults per backend (default 5; --quick: 1, to keep CI short): the scenario's first timeline
//              entry is repeated that many times, `every` seconds apart as the file says
// The VM lab runs first (chaos runner: up, probe workload with its ledger, faults journalled and
// rolled back — the last one without the stack redeploy a restarted VM needs, since the lab goes
// down next — checkers), is taken down, then the container twin (twin.ts: the same topology with
// every `backend: vm` → container, same lab name and networks) runs the same scenario. The rows
// are the failover checker's figures per fault (median, trials, spread) and the VM/container ratio.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDownByName, openBackend } from '../../lab/lab.ts';
import { displayPath } from '../../reports/report.ts';
import { loadTopologyFile } from '../../lab/topology/index.ts';
import { silentLogger, consoleLogger } from '../../lab/util/log.ts';
import { runsRoot } from '../../lab/util/paths.ts';
import { UserError } from '../../lab/util/errors.ts';
import { runScenario } from '../../chaos/runner.ts';
import { loadScenario, type Scenario } from '../../chaos/scenario.ts';
import { readJsonl, type LedgerEntry } from '../ledger.ts';
import { aggregateFailovers, type FailoverAggregate, type FailoverResult } from '../checkers/failover.ts';
import type { Benchmark, BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { ratio, summaryToMarkdown } from '../bench.ts';
import { containerTwin } from './twin.ts';
import { hostLoad } from '../record.ts';

const DEFAULT_SCENARIO = 'chaos/scenarios/has-vm-master-kill.yaml';

/** The scenario with its first timeline entry repeated `trials` times (the workload stretched to fit). Pure. */
export function withTrials(s: Scenario, trials: number): Scenario {
  const [first, ...rest] = s.timeline;
  if (!first) throw new UserError(`${s.file}: the scenario has no fault to repeat`);
  if (rest.length) throw new UserError(`${s.file}: vm-failover repeats one fault; the scenario has ${s.timeline.length} timeline entries`);
  const lastEnd = (e: typeof first) => e.at + (e.repeat - 1) * e.every + e.duration;
  const tail = Math.max(0, s.duration - lastEnd(first));
  const entry = { ...first, repeat: trials, every: trials > 1 ? first.every : first.every || first.duration + 1 };
  if (trials > 1 && !(entry.every > entry.duration)) throw new UserError(`${s.file}: 'every' must be set (longer than duration) to repeat the fault`);
  return { ...s, timeline: [entry], duration: lastEnd(entry) + tail };
}

interface VariantResult {
  backend: 'vm' | 'container';
  runDir: string;
  failovers: FailoverResult[];
  agg: FailoverAggregate;
  requests: number;
  okRate: number | null;
  loadBefore: string;
  loadAfter: string;
}

async function runVariant(s: Scenario, backend: 'vm' | 'container', opts: BenchOptions, keep: boolean): Promise<VariantResult> {
  const loadBefore = hostLoad();
  opts.log.info(`${backend} masters: ${s.name} on ${s.topology}, ${s.timeline[0]!.repeat} × ${s.timeline[0]!.fault} …`);
  const { plan } = await loadTopologyFile(s.topology);
  try {
    const r = await runScenario(s, opts.log, { teardownAfter: !keep });
    const failovers = JSON.parse(readFileSync(join(r.runDir, 'failovers.json'), 'utf8')) as FailoverResult[];
    const ledger = readJsonl<LedgerEntry>(join(r.runDir, 'ledger.jsonl'));
    return {
      backend,
      runDir: r.runDir,
      failovers,
      agg: aggregateFailovers(failovers),
      requests: ledger.length,
      okRate: r.metrics.ok_rate ?? null,
      loadBefore,
      loadAfter: hostLoad(),
    };
  } finally {
    if (!keep) await labDownByName(plan.lab, silentLogger, await openBackend(silentLogger)).catch(() => {});
  }
}

/** Median with trials and spread, from a failover aggregate's summary (null when no trial had it). */
function trialRow(figure: string, sum: FailoverAggregate['outageMs'], note: string, reference?: { value: number; source: string }): BenchRow {
  const has = sum.n > 0;
  return {
    figure,
    measured: has ? sum.median : null,
    unit: 'ms',
    ...(reference ? { reference: reference.value, referenceSource: reference.source, ratio: ratio(has ? sum.median : null, reference.value) } : {}),
    verdict: 'info',
    note,
    trials: sum.n,
    ...(has ? { spread: { min: sum.min, p95: sum.p95, max: sum.max } } : {}),
  };
}

export async function runVmFailoverBench(opts: BenchOptions): Promise<BenchSummary> {
  const args = opts.args;
  const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--trials') ?? DEFAULT_SCENARIO;
  const ti = args.indexOf('--trials');
  const trials = ti >= 0 ? Number(args[ti + 1]) : opts.quick ? 1 : 5;
  if (!Number.isInteger(trials) || trials < 1) throw new UserError(`--trials must be a whole number ≥ 1`);
  const keep = args.includes('--keep');
  const vmScenario = withTrials(loadScenario(file), trials);
  const topoText = readFileSync(vmScenario.topology, 'utf8');
  const { plan } = await loadTopologyFile(vmScenario.topology);
  const vmNodes = plan.nodes.filter((n) => n.backend === 'vm').map((n) => n.name);
  if (!vmNodes.length) throw new UserError(`${vmScenario.topology} has no VM node (backend: vm): nothing to compare`);
  const backend = await openBackend(opts.log);
  if ((await backend.listResources(plan.lab)).length) throw new UserError(`lab ${plan.lab} is up: take it down first (halab down ${plan.lab})`);

  const dir = join(runsRoot(), 'vm-failover', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const twin = containerTwin(topoText);
  const twinFile = join(dir, `${plan.lab}.containers.yaml`);
  writeFileSync(twinFile, twin.text);
  const ctScenario: Scenario = { ...vmScenario, name: `${vmScenario.name} (container twin)`, topology: twinFile };

  const vm = await runVariant(vmScenario, 'vm', opts, false);
  const ct = await runVariant(ctScenario, 'container', opts, keep);

  const f = vmScenario.timeline[0]!;
  const what = `${f.fault} of ${f.target}`;
  const counts = (v: VariantResult) =>
    `${v.agg.recovered}/${v.agg.trials} recovered; failed requests per fault median ${v.agg.failed.median}; run ${displayPath(v.runDir)}`;
  const rows: BenchRow[] = [
    trialRow(`failover (outage), VM masters: ${what}`, vm.agg.outageMs, counts(vm)),
    trialRow(`failover (outage), container masters: ${what}`, ct.agg.outageMs, counts(ct)),
    {
      ...trialRow(`failover VM ÷ container (median outage)`, vm.agg.outageMs, 'reference: the container twin, same run', {
        value: ct.agg.outageMs.median,
        source: 'container masters (same run)',
      }),
      unit: 'ms',
    },
    trialRow(`detection (VRRP MASTER elsewhere), VM masters`, vm.agg.detectionMs, 'from the new master\'s notify event (its clock set from the host at boot)'),
    trialRow(`detection (VRRP MASTER elsewhere), container masters`, ct.agg.detectionMs, 'from the new master\'s notify event'),
    // The longest gap while the fault held, not the gap around its start: a killed container's
    // requests kept succeeding while `docker kill` ran (11 ms "gap" beside a 3 s outage).
    trialRow(`longest gap between successful requests while the fault held, VM masters`, vm.agg.maxGapMs, ''),
    trialRow(`longest gap between successful requests while the fault held, container masters`, ct.agg.maxGapMs, ''),
  ];
  for (const v of [vm, ct]) {
    if (v.agg.recovered < v.agg.trials) for (const r of rows) if (r.figure.includes(v.backend === 'vm' ? 'VM masters' : 'container masters')) r.verdict = 'invalid';
  }
  const summary: BenchSummary = {
    bench: 'vm-failover',
    conditions: {
      scenario: file,
      topology: `${displayPath(vmScenario.topology)} (VM nodes: ${vmNodes.join(', ')}); twin: the same file with backend: vm → container (${twin.replaced} replaced)`,
      fault: `${what}, ${f.duration} s down, ${trials} trials ${f.every} s apart, first at ${f.at} s`,
      workload: `probe from client: GET ${vmScenario.workload.url} on a new connection every ${vmScenario.workload.intervalMs} ms, timeout ${vmScenario.workload.timeoutMs} ms`,
      'outage means': 'fault start → first of 3 consecutive ok requests after the first failure (benchmarks/checkers/failover.ts)',
      'VM guest': '1 vCPU, QEMU TCG (no KVM)',
      'requests (VM / container)': `${vm.requests} / ${ct.requests}`,
      'ok rate (VM / container)': `${vm.okRate?.toFixed(4) ?? '—'} / ${ct.okRate?.toFixed(4) ?? '—'}`,
      'host load 1/5/15 min, VM run start → end': `${vm.loadBefore} → ${vm.loadAfter}`,
      'host load 1/5/15 min, container run start → end': `${ct.loadBefore} → ${ct.loadAfter}`,
      order: 'VM lab first, taken down, then the container twin (same lab name and networks)',
    },
    rows,
    runDir: dir,
  };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ summary, vm, container: ct }, null, 2) + '\n');
  return summary;
}

export const vmFailoverBenchmark: Benchmark = {
  name: 'vm-failover',
  description: 'master failover on VM masters (has-vm) vs the same scenario on its container twin, one run',
  run: runVmFailoverBench,
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const summary = await runVmFailoverBench({ quick: args.includes('--quick'), log: consoleLogger(), args });
  process.stdout.write(args.includes('--json') ? JSON.stringify(summary, null, 2) + '\n' : summaryToMarkdown(summary) + '\n');
}
