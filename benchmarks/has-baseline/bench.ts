// has-baseline: one capped traffic node behind the VIP, closed-loop clients 1…24 (thesis 003
// Table 12's shape: rise, plateau, errors after saturation; the thesis's baseline is 1,032 req/s).
// Measures the plateau B_c that has-scaling normalises by, checks the curve's shape (TARGETS H1,
// H2), and re-derives the cap arithmetic from the measured CPU per request: does 16 × cap plus the
// generator, the balancer and the idle lab fit the budget, and what is the largest cap that would.
import type { Benchmark, BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { ratio } from '../bench.ts';
import { coefficientOfVariation, summarize } from '../checkers/stats.ts';
import { HAS_BASELINE_RPS, HAS_TABLE_12 } from '../paper-targets.ts';
import { coresNeeded, largestCap, perRequestCosts } from '../has-throughput/cap.ts';
import { loadCurves, plateau } from '../has-throughput/curves.ts';
import { BUDGET_CORES, listOption, numberOption, PROBE_RATE_PER_NODE, TLS_SHARE } from '../has-throughput/options.ts';
import { idleCores, ledgerRows, measureWindow, useNodes, warmPageCaches, throughputLabName, withThroughputRun, type Window } from '../has-throughput/run.ts';

const TABLE_12 = `${HAS_TABLE_12.source}`;

export async function runHasBaseline(opts: BenchOptions): Promise<BenchSummary> {
  const seconds = numberOption(opts.args, 'seconds', opts.quick ? 6 : 15, 4, 600);
  const clients = listOption(opts.args, 'clients', opts.quick ? [1, 2, 4, 8, 16, 24] : [1, 2, 3, 4, 6, 8, 12, 16, 20, 24], 1, 512);
  return withThroughputRun(opts, 'has-baseline', async (t, runDir) => {
    const cap = t.cap;
    const serving = await useNodes(t, 1);
    await warmPageCaches(t, serving);
    opts.log.info(`${t.lab}: ${serving[0]} alone behind ${t.cfg.vip} (cap ${cap} cores); idle CPU …`);
    const idle = await idleCores(t, opts.quick ? 3 : 6);
    const windows: Window[] = [];
    for (const c of clients) {
      opts.log.info(`${c} client(s), ${seconds} s …`);
      windows.push(
        await measureWindow(t, serving, { clients: c, seconds, ledgerFile: `${runDir}/ledger-c${c}.jsonl` }),
      );
    }
    const ctx = { cap, seconds, lab: t.lab, node: serving[0]!, balancer: t.balancer, client: t.client, vip: t.cfg.vip, nfsOwner: t.nfsOwner };
    return { raw: { idle, windows }, summary: baselineSummary(windows, idle, ctx) };
  });
}

interface BaselineContext {
  cap: number;
  seconds: number;
  lab: string;
  node: string;
  balancer: string;
  client: string;
  vip: string;
  nfsOwner?: string;
}

/** Rows, curves and conditions from the measured windows (no I/O). */
export function baselineSummary(windows: Window[], idle: Record<string, number>, x: BaselineContext): BenchSummary {
  const points = windows.map((w) => ({ clients: w.clients, rps: w.rps, errors: w.errors + (w.probe?.failed ?? 0) }));
  const p = plateau(points);
  const onPlateau = windows.filter((w) => w.clients >= p.kneeClients);
  const invalid = onPlateau.filter((w) => !w.validity.valid);
  const validNote = invalid.length ? `invalid windows: ${invalid.map((w) => `${w.clients} clients (${w.validity.reasons.join('; ')})`).join(' | ')}` : '';
  const shapeVerdict = (ok: boolean) => (invalid.length ? 'invalid' : ok ? 'pass' : 'fail');

  // CPU per request on the plateau (median over its windows): node in full, generator and balancer
  // above their idle use; the idle rest of the lab (masters, NFS, client) beside it.
  const med = (xs: number[]) => summarize(xs).median;
  const costs = perRequestCosts({
    rps: 1,
    nodeCores: med(onPlateau.map((w) => (w.cpu.nodes[x.node] ?? 0) / w.rps)),
    generatorCores: med(onPlateau.map((w) => Math.max(0, w.cpu.generator - (idle[x.client] ?? 0)) / w.rps)),
    balancerCores: med(onPlateau.map((w) => Math.max(0, w.cpu.balancer - (idle[x.balancer] ?? 0)) / w.rps)),
    nfsCores: x.nfsOwner ? med(onPlateau.map((w) => Math.max(0, (w.cpu.nfs ?? 0) - (idle[x.nfsOwner!] ?? 0)) / w.rps)) : 0,
    idleCores: Object.entries(idle)
      .filter(([n]) => !/^web-\d+$/.test(n))
      .reduce((a, [, v]) => a + v, 0),
  });
  const projected16 = coresNeeded(16, x.cap, costs);
  const fits = largestCap(16, BUDGET_CORES, costs);
  const last = windows.at(-1)!;

  const rows: BenchRow[] = [
    {
      figure: 'baseline B_c: plateau throughput of one capped node',
      measured: p.level,
      unit: 'req/s',
      reference: HAS_BASELINE_RPS.value,
      referenceSource: `${HAS_BASELINE_RPS.source}, "average capacity"`,
      ratio: ratio(p.level, HAS_BASELINE_RPS.value),
      verdict: invalid.length ? 'invalid' : 'info',
      note: `absolute value not comparable (a ${x.cap}-core container vs a PIII); it normalises has-scaling. ${validNote}`.trim(),
      trials: p.points,
      spread: (() => {
        const s = summarize(onPlateau.map((w) => w.rps));
        return { min: s.min, p95: s.p95, max: s.max };
      })(),
    },
    {
      figure: 'knee: fewest clients within the noise band (≥ 2 %) of the plateau median',
      measured: p.kneeClients,
      unit: 'clients',
      reference: 16,
      referenceSource: `${TABLE_12} (knee between 12 and 16 clients)`,
      verdict: 'info',
      note: 'the knee in clients follows the per-request latency, not a target',
    },
    {
      figure: 'plateau flatness max/min from the knee on',
      measured: p.flatness,
      unit: '',
      reference: 1.02,
      referenceSource: `TARGETS H1 (Table 12: 1040/1029 = 1.011)`,
      verdict: shapeVerdict(p.flatness <= 1.02),
      note: validNote,
    },
    {
      figure: 'plateau span: last clients / knee clients',
      measured: p.span,
      unit: '×',
      reference: 3,
      referenceSource: 'TARGETS H1 (Table 12: 52/16 = 3.25)',
      verdict: p.span >= 3 ? 'pass' : 'fail',
    },
    {
      figure: `throughput at ${last.clients} clients / plateau level (no collapse)`,
      measured: last.rps / p.level,
      unit: '',
      reference: 0.95,
      referenceSource: 'TARGETS H1 ("no throughput collapse")',
      verdict: shapeVerdict(!p.collapsed),
    },
    {
      figure: 'plateau coefficient of variation',
      measured: coefficientOfVariation(onPlateau.map((w) => w.rps)),
      unit: '',
      reference: 0.03,
      referenceSource: 'TARGETS H2 (B_c CV ≤ 3 %)',
      verdict: shapeVerdict(coefficientOfVariation(onPlateau.map((w) => w.rps)) <= 0.03),
    },
    {
      figure: 'error onset (wrk errors + failed probe requests > 0)',
      measured: p.errorOnsetClients,
      unit: 'clients',
      reference: 16,
      referenceSource: `${TABLE_12} (errors from 16 clients, WebBench timeouts)`,
      verdict: 'info',
      note: `errors at ${last.clients} clients: ${last.errors} wrk + ${last.probe?.failed ?? 0} probe`,
    },
    ...ledgerRows(windows.map((w) => ({ w, serving: [x.node] }))),
    {
      figure: `projected host CPU of 16 nodes at cap ${x.cap} + generator + balancer + NFS owner + idle lab`,
      measured: projected16,
      unit: 'cores',
      reference: BUDGET_CORES,
      referenceSource: 'budget: 2 cores less 25 % headroom',
      ratio: ratio(projected16, BUDGET_CORES),
      verdict: projected16 <= BUDGET_CORES ? 'pass' : 'fail',
      note:
        `per request: node ${(costs.node * 1e6).toFixed(0)} µs, generator ${(costs.generator * 1e6).toFixed(0)} µs, ` +
        `balancer cgroup ${(costs.balancer * 1e6).toFixed(0)} µs, NFS owner ${((costs.nfs ?? 0) * 1e6).toFixed(0)} µs; idle masters+NFS+client ${costs.idleCores.toFixed(3)} cores`,
    },
    { figure: 'largest cap fitting the budget (same costs)', measured: fits, unit: 'cores', verdict: 'info' },
  ];
  return {
    bench: 'has-baseline',
    conditions: {
      lab: x.lab,
      'traffic node': `${x.node}, capped at ${x.cap} cores (the other traffic nodes paused and out of the bucket map)`,
      balancer: `nft direct routing on ${x.balancer} (active master), VIP ${x.vip}`,
      load: `wrk 4.1 in ${x.client}, closed loop, keep-alive, 1 thread per scheme, --timeout 2s; ${TLS_SHARE * 100} % of the clients on TLS; random files of the 6,200-file set`,
      clients: windows.map((w) => w.clients).join(', '),
      'seconds per window': x.seconds,
      ledger: `halab generator beside wrk: open loop ${PROBE_RATE_PER_NODE} req/s, new connection per request, 10 % TLS`,
      'host busy during the windows (cores, median)': summarize(windows.map((w) => w.cpu.hostBusy)).median.toFixed(2),
    },
    rows,
    curves: loadCurves(points, p.level, HAS_TABLE_12.value, HAS_BASELINE_RPS.value),
  };
}

export const hasBaselineBenchmark: Benchmark = {
  name: 'has-baseline',
  description: 'one capped HAS traffic node behind the VIP, clients 1…24: plateau B_c beside Table 12 and the cap arithmetic',
  run: runHasBaseline,
  lab: throughputLabName,
};
