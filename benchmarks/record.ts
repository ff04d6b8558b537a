// Every `halab bench` run leaves a run directory (summary.json, report.md, report.html, charts) with
// the conditions it ran under; `--publish` copies the report to reports/latest/<name>/ so the
// newest full reproduction can be committed beside the code.
import { execaSync } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchSummary } from './bench.ts';
import { renderRunReport, type ReportFiles } from '../reports/report.ts';
import { projectRoot, runsRoot } from '../lab/util/paths.ts';

/** Where a bench writes when it did not make its own run directory. */
export function newBenchRunDir(name: string, now = new Date()): string {
  const dir = join(runsRoot(), 'bench', name, now.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The host's load average (1/5/15 min): on a shared machine, the first thing to read beside a timing. */
export const hostLoad = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The conditions every bench shares: when, on what machine, from which commit. */
export function machineConditions(now = new Date()): Record<string, string> {
  const cpu = cpus();
  const commit = (() => {
    try {
      const r = execaSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, reject: false });
      const dirty = execaSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: projectRoot, reject: false });
      return r.exitCode === 0 ? `${r.stdout.trim()}${dirty.stdout.trim() ? ' (with local changes)' : ''}` : 'unknown';
    } catch {
      return 'unknown';
    }
  })();
  return {
    date: now.toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}`,
    commit,
    'host load 1/5/15 min at end': hostLoad(),
  };
}

/** Write summary.json (one summary, or a set) into a run directory and render its report. */
export async function recordSummaries(dir: string, summaries: BenchSummary[]): Promise<ReportFiles> {
  const stored = summaries.length === 1 ? summaries[0] : { set: summaries };
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(stored, null, 2) + '\n');
  return renderRunReport(dir);
}

/** Copy a run's report (markdown, HTML, SVG charts) to reports/latest/<name>/, replacing the old one. */
export function publishReport(runDir: string, name: string, root = join(projectRoot, 'reports', 'latest')): string {
  const dest = join(root, name);
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(runDir)) {
    if (f === 'report.md' || f === 'report.html' || f.endsWith('.svg')) copyFileSync(join(runDir, f), join(dest, f));
  }
  if (!existsSync(join(dest, 'report.md'))) throw new Error(`${runDir} has no report.md to publish`);
  return dest;
}
