// temporary measurement (not committed): do both masters hold the same bucket counts over time?
import { readSavedPlan } from './lab/lab.ts';
import { hasConfig } from './lab/stacks/has/config.ts';
import { inspectMasters } from './lab/stacks/has/masters.ts';
import { testBackend, log } from './test/integration/helpers.ts';
import { labStateDir } from './lab/util/paths.ts';
const b = await testBackend();
const plan = readSavedPlan('has-2')!;
const cfg = hasConfig(plan);
const ctx = { plan, backend: b, log, stateDir: labStateDir('has-2') };
let same = 0, diff = 0; const diffs: string[] = [];
const n = Number(process.argv[2] ?? 30);
for (let i = 0; i < n; i++) {
  const ms = await inspectMasters(ctx, cfg);
  const c = ms.map((m) => (m.table?.nodes ?? []).map((x) => `${x.name}=${x.buckets}`).join(','));
  if (c[0] === c[1]) same++; else { diff++; diffs.push(c.join(' | ')); }
  await new Promise((r) => setTimeout(r, 1000));
}
console.log(JSON.stringify({ samples: n, same, diff, diffs: diffs.slice(0, 10) }));
process.exit(0);
