// `halab chaos run FILE [--dry-run] [--seed N]`, `halab chaos replay RUN`, `halab heal NAME`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { consoleLogger } from '../lab/util/log.ts';
import { labNameFromArg, openBackend } from '../lab/lab.ts';
import { UserError } from '../lab/util/errors.ts';
import { loadScenario, type Scenario } from './scenario.ts';
import { dryRun, runScenario, type RunResult } from './runner.ts';
import { healLab } from './rollback.ts';

function printResult(r: RunResult, json: boolean): void {
  if (json) return void process.stdout.write(JSON.stringify(r, null, 2) + '\n');
  const lines = [`run: ${r.runDir}`, `report: ${join(r.runDir, 'report.html')}`, ''];
  for (const [k, v] of Object.entries(r.metrics)) lines.push(`  ${k.padEnd(24)} ${v === null ? '—' : Number.isInteger(v) ? v : v.toFixed(4)}`);
  lines.push('');
  for (const t of r.thresholds) lines.push(`  ${t.pass ? '✓' : '✗'} ${t.text}  (actual ${t.actual ?? '—'})`);
  lines.push('', `verdict: ${r.pass ? 'PASS' : 'FAIL'}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerChaosCommands(program: Command): void {
  const chaos = program.command('chaos').description('chaos scenarios: faults with journal-before-apply rollback, probes, verdicts');
  chaos
    .command('run')
    .argument('<scenario>', 'scenario file (chaos/scenarios/*.yaml)')
    .option('--dry-run', 'print every action and its target; touch nothing')
    .option('--seed <n>', 'seed for random targets (default: the scenario\'s)', (v) => Number(v))
    .option('--json')
    .action(async (file: string, opts: { dryRun?: boolean; seed?: number; json?: boolean }) => {
      const s = loadScenario(file);
      const log = consoleLogger();
      if (opts.dryRun) return void process.stdout.write(await dryRun(s, log, opts.seed ?? s.seed));
      const r = await runScenario(s, log, { seed: opts.seed });
      printResult(r, !!opts.json);
      if (!r.pass) process.exitCode = 1;
    });
  chaos
    .command('replay')
    .argument('<run>', 'run directory (runs/<lab>/<timestamp>)')
    .option('--json')
    .action(async (run: string, opts: { json?: boolean }) => {
      let saved: { scenario: Scenario; seed: number };
      try {
        saved = JSON.parse(readFileSync(join(run, 'plan.json'), 'utf8'));
      } catch {
        throw new UserError(`${run} has no plan.json: not a chaos run directory`);
      }
      const r = await runScenario(saved.scenario, consoleLogger(), { seed: saved.seed });
      printResult(r, !!opts.json);
      if (!r.pass) process.exitCode = 1;
    });
  program
    .command('heal')
    .description('roll back every fault a lab still has open (also after the harness was killed)')
    .argument('<lab>', 'lab name or topology file')
    .action(async (arg: string) => {
      const lab = labNameFromArg(arg);
      const log = consoleLogger();
      const done = await healLab(await openBackend(log), lab, log, { redeploy: true });
      process.stdout.write(done.length ? done.map((d) => `undid: ${d}`).join('\n') + '\n' : `lab ${lab}: no open fault\n`);
    });
}
