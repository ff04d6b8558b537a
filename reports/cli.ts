// `halab report RUN…`
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { UserError } from '../lab/util/errors.ts';
import { renderRunReport } from './report.ts';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('turn run directories into report.md and a self-contained report.html')
    .argument('<runs...>', 'run directories (runs/<lab>/<timestamp>)')
    .action(async (runs: string[]) => {
      for (const run of runs) {
        if (!existsSync(run)) throw new UserError(`No run directory ${run}`);
        const files = await renderRunReport(run);
        process.stdout.write(`${run}: ${files.markdown}, ${files.html}\n`);
      }
    });
}
