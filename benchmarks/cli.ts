// `halab bench NAME [--quick] [--json] [--publish] [args…]`, and `halab bench reproduce`: the
// paper-reproduction benchmarks in one go, with one combined report.
import type { Command } from 'commander';
import { benchmarkNames, loadBenchmark, summaryToMarkdown, type BenchSummary } from './bench.ts';
import './index.ts';
import { consoleLogger, type Logger } from '../lab/util/log.ts';
import { UserError } from '../lab/util/errors.ts';
import { machineConditions, newBenchRunDir, publishReport, recordSummaries } from './record.ts';
import { displayPath } from '../reports/report.ts';
import { labDownByName, openBackend } from '../lab/lab.ts';

/** What `halab bench reproduce` runs, in this order (those registered). */
export const REPRODUCTION = ['availability-model', 'has-baseline', 'has-scaling', 'has-failover', 'vm-failover', 'nmt-recovery'];

interface BenchFlags {
  quick?: boolean;
  json?: boolean;
  publish?: boolean;
  skip?: string;
}

async function runOne(name: string, args: string[], flags: BenchFlags, log: Logger, keepLab = false): Promise<BenchSummary> {
  const bench = await loadBenchmark(name);
  if (!bench) throw new UserError(`Unknown benchmark '${name}'. Known: ${benchmarkNames().join(', ')}, reproduce`);
  const summary = await bench.run({ quick: !!flags.quick, log, args, keepLab });
  summary.conditions = { ...summary.conditions, mode: flags.quick ? 'quick (CI size)' : 'full', ...machineConditions() };
  return summary;
}

/** A bench that throws still gets a line in a set's report, so one broken bench cannot hide the rest. */
function failedSummary(name: string, err: unknown): BenchSummary {
  const msg = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  return { bench: name, conditions: machineConditions(), rows: [{ figure: 'benchmark run', measured: null, unit: '', verdict: 'fail', note: `did not complete: ${msg}` }] };
}

/**
 * The reproduction's benchmarks in order. Consecutive ones on the same lab share it (has-baseline
 * and has-scaling: has-16's bring-up, deploy and teardown once, not twice); a lab left up for the
 * next one is taken down when no later bench needs it, and always before returning.
 */
async function runReproduction(names: string[], args: string[], flags: BenchFlags, log: Logger): Promise<BenchSummary[]> {
  const labs = await Promise.all(names.map(async (n) => (await loadBenchmark(n))?.lab?.(args).catch(() => undefined)));
  const summaries: BenchSummary[] = [];
  const leftUp = new Set<string>();
  const takeDown = async (lab: string) => {
    leftUp.delete(lab);
    await labDownByName(lab, log, await openBackend(log));
  };
  try {
    for (const [i, n] of names.entries()) {
      log.info(`── bench ${n} ──`);
      const shareNext = !!labs[i] && labs[i] === labs[i + 1];
      const s = await runOne(n, args, flags, log, shareNext).catch((err: unknown) => failedSummary(n, err));
      if (s.labLeftUp) {
        leftUp.add(s.labLeftUp);
        log.info(`${s.labLeftUp} stays up for ${names[i + 1]}`);
      }
      for (const lab of leftUp) if (lab !== labs[i + 1]) await takeDown(lab);
      summaries.push(s);
    }
  } finally {
    for (const lab of leftUp) await takeDown(lab);
  }
  return summaries;
}

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark; prints measured figures beside the paper\'s (list: halab bench list; all reproductions: halab bench reproduce)')
    .argument('<name>', 'benchmark name, "list" or "reproduce"')
    .argument('[args...]', 'benchmark arguments')
    .option('--quick', 'the CI size: fewer trials, smaller labs')
    .option('--json', 'machine-readable summary on stdout')
    .option('--skip <names>', 'reproduce: leave these benchmarks out (comma-separated)')
    .option('--publish', 'also copy the report to reports/latest/<name>/ (to commit the newest full reproduction)')
    // a benchmark's own options (e.g. --failover-ms 90,73) go to it as arguments
    .allowUnknownOption()
    .action(async (name: string, args: string[], flags: BenchFlags) => {
      const log = consoleLogger();
      if (name === 'list') {
        for (const n of benchmarkNames()) {
          const b = await loadBenchmark(n);
          process.stdout.write(`${n.padEnd(20)} ${b?.description ?? ''}\n`);
        }
        process.stdout.write(`${'reproduce'.padEnd(20)} ${REPRODUCTION.filter((n) => benchmarkNames().includes(n)).join(' + ')}, one combined report\n`);
        return;
      }
      let summaries: BenchSummary[];
      if (name === 'reproduce') {
        summaries = [];
        const skip = (flags.skip ?? '').split(',').filter(Boolean);
        const unknown = skip.filter((n) => !REPRODUCTION.includes(n));
        if (unknown.length) throw new UserError(`--skip: ${unknown.join(', ')} not in the reproduction (${REPRODUCTION.join(', ')})`);
        summaries = await runReproduction(REPRODUCTION.filter((b) => benchmarkNames().includes(b) && !skip.includes(b)), args, flags, log);
      } else {
        summaries = [await runOne(name, args, flags, log)];
      }
      const dir = newBenchRunDir(name);
      const files = await recordSummaries(dir, summaries);
      log.info(`report: ${displayPath(files.markdown)}, ${displayPath(files.html)}`);
      if (flags.publish) log.info(`published: ${displayPath(publishReport(dir, name))}`);
      process.stdout.write(
        flags.json ? JSON.stringify(summaries.length === 1 ? summaries[0] : { set: summaries }, null, 2) + '\n' : summaries.map(summaryToMarkdown).join('\n'),
      );
      if (summaries.some((s) => s.rows.some((r) => r.verdict === 'fail'))) process.exitCode = 1;
    });
}
