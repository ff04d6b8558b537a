// `halab bench NAME [--quick] [--json] [args…]`
import type { Command } from 'commander';
import { benchmarkNames, loadBenchmark, summaryToMarkdown } from './bench.ts';
import './index.ts';
import { consoleLogger } from '../lab/util/log.ts';
import { UserError } from '../lab/util/errors.ts';

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark; prints measured figures beside the paper\'s (list: halab bench list)')
    .argument('<name>', 'benchmark name, or "list"')
    .argument('[args...]', 'benchmark arguments')
    .option('--quick', 'the CI size: fewer trials, smaller labs')
    .option('--json', 'machine-readable summary on stdout')
    // a benchmark's own options (e.g. --failover-ms 90,73) go to it as arguments
    .allowUnknownOption()
    .action(async (name: string, args: string[], opts: { quick?: boolean; json?: boolean }) => {
      if (name === 'list') {
        for (const n of benchmarkNames()) {
          const b = await loadBenchmark(n);
          process.stdout.write(`${n.padEnd(20)} ${b?.description ?? ''}\n`);
        }
        return;
      }
      const bench = await loadBenchmark(name);
      if (!bench) throw new UserError(`Unknown benchmark '${name}'. Known: ${benchmarkNames().join(', ')}`);
      const summary = await bench.run({ quick: !!opts.quick, log: consoleLogger(), args });
      process.stdout.write(opts.json ? JSON.stringify(summary, null, 2) + '\n' : summaryToMarkdown(summary));
      if (summary.rows.some((r) => r.verdict === 'fail')) process.exitCode = 1;
    });
}
