// HAS smoke benchmark: req/s through the VIP (nft direct routing on the active master) with
// capped traffic nodes, the balancer's CPU (the active master's cgroup), and the ratio to the
// thesis's per-node baseline (1,032 req/s, 003 Table 12). Short and bounded: the machine has
// 2 cores shared with other labs, so figures are approximate; the CPU accounting is printed.
// Run: npx tsx benchmarks/has-smoke/bench.ts [has-1 has-4] [--seconds 10] [--keep]
import { fileURLToPath } from 'node:url';
import { labDownByName, labUp, openBackend, readSavedPlan } from '../../lab/lab.ts';
import { hasConfig } from '../../lab/stacks/has/config.ts';
import { inspectMasters } from '../../lab/stacks/has/masters.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import { consoleLogger, silentLogger, type Logger } from '../../lab/util/log.ts';

export const THESIS_PER_NODE_RPS = 1032;

export interface HasSmokeOptions {
  labs?: string[];
  seconds?: number;
  connections?: number;
  /** Request path (default: the health path, a tiny static page). */
  path?: string;
  /** Leave the labs up afterwards. */
  keep?: boolean;
  log?: Logger;
}

export interface HasSmokeRow {
  lab: string;
  trafficNodes: number;
  nodeCpus: number | null;
  rps: number;
  keepAlive: boolean;
  errors: string;
  /** Active master's CPU over the run, in cores (the balancer; DR runs in its softirq). */
  balancerCores: number;
  /** Sum of the traffic nodes' CPU, in cores. */
  trafficCores: number;
  /** Client (wrk) CPU, in cores. */
  clientCores: number;
  perNodeRps: number;
  /** rps / (n × 1032): the thesis's per-node baseline as the yardstick. */
  ratioToThesis: number;
  servedBy: Record<string, number>;
}

export async function runHasSmoke(opts: HasSmokeOptions = {}): Promise<HasSmokeRow[]> {
  const log = opts.log ?? silentLogger;
  const backend = await openBackend(log);
  const rows: HasSmokeRow[] = [];
  for (const lab of opts.labs ?? ['has-1', 'has-4']) {
    const file = fileURLToPath(new URL(`../../topologies/${lab}.yaml`, import.meta.url));
    await labUp(file, log);
    try {
      const plan = readSavedPlan(lab)!;
      const cfg = hasConfig(plan);
      const ctx = { plan, backend, log, stateDir: labStateDir(lab) };
      const active = (await inspectMasters(ctx, cfg)).find((m) => m.holdsVip)?.node ?? cfg.masters[0]!.name;
      const client = cfg.clients.find((c) => c.name === 'client')?.name ?? cfg.clients[0]!.name;
      const url = `http://${cfg.vip}:80${opts.path ?? cfg.health.path}`; // explicit :80: the client image has no /etc/services
      const servedBy: Record<string, number> = {};
      const probe = await backend.exec(lab, client, ['sh', '-c', `for i in $(seq 20); do curl -s -m 2 -o /dev/null -D - ${url} | tr -d '\\r' | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p'; done`]);
      for (const s of probe.stdout.split('\n').filter(Boolean)) servedBy[s] = (servedBy[s] ?? 0) + 1;
      for (const keepAlive of [true, false]) {
        const secs = opts.seconds ?? 10;
        const who = [active, client, ...cfg.traffic.map((n) => n.name)];
        const before = await Promise.all(who.map((n) => backend.stats(lab, n)));
        const t0 = performance.now();
        const r = await backend.exec(lab, client, [
          'wrk', '-t2', `-c${opts.connections ?? 32}`, `-d${secs}s`, ...(keepAlive ? [] : ['-H', 'Connection: close']), url,
        ], { timeoutMs: (secs + 30) * 1000 });
        const wall = (performance.now() - t0) / 1000;
        const after = await Promise.all(who.map((n) => backend.stats(lab, n)));
        const cores = (i: number) => (after[i]!.cpuSeconds - before[i]!.cpuSeconds) / wall;
        const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
        const errors = /Socket errors:.*|Non-2xx.*/.exec(r.stdout)?.[0] ?? 'none';
        const n = cfg.traffic.length;
        rows.push({
          lab,
          trafficNodes: n,
          nodeCpus: cfg.traffic[0]!.cpus ?? null,
          rps,
          keepAlive,
          errors,
          balancerCores: cores(0),
          clientCores: cores(1),
          trafficCores: cfg.traffic.reduce((a, _, i) => a + cores(i + 2), 0),
          perNodeRps: rps / n,
          ratioToThesis: rps / (n * THESIS_PER_NODE_RPS),
          servedBy,
        });
      }
    } finally {
      if (!opts.keep) await labDownByName(lab, log, backend);
    }
  }
  return rows;
}

export function formatHasSmoke(rows: HasSmokeRow[]): string {
  const head = '| lab | nodes × cap | conn | req/s | req/s per node | ÷ 1,032 (thesis) | balancer CPU | traffic CPU | client CPU | errors |';
  const lines = rows.map(
    (r) =>
      `| ${r.lab} | ${r.trafficNodes} × ${r.nodeCpus ?? '–'} | ${r.keepAlive ? 'keep-alive' : 'close'} | ${r.rps.toFixed(0)} | ${r.perNodeRps.toFixed(0)} | ${(r.ratioToThesis * 100).toFixed(1)} % | ` +
      `${(r.balancerCores * 100).toFixed(1)} % | ${(r.trafficCores * 100).toFixed(1)} % | ${(r.clientCores * 100).toFixed(1)} % | ${r.errors} |`,
  );
  return [head, '|' + '---|'.repeat(10), ...lines].join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const labs = args.filter((a) => /^has-\d+$/.test(a));
  const si = args.indexOf('--seconds');
  const rows = await runHasSmoke({
    labs: labs.length ? labs : undefined,
    seconds: si >= 0 ? Number(args[si + 1]) : undefined,
    keep: args.includes('--keep'),
    log: consoleLogger(),
  });
  process.stdout.write(formatHasSmoke(rows));
  process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
}
