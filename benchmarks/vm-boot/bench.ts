// VM boot benchmark: boot-to-ready time and memory of VM nodes (QEMU under TCG), beside the env
// note's bare measurement (busybox initramfs to a marker: 6–9 s, ~200 MiB RSS).
//   npx tsx benchmarks/vm-boot/bench.ts [TOPOLOGY] [--trials N] [--json]
// Default topology: the dev-vm fixture (one VM node + one container). With topologies/has-vm.yaml
// it measures the has-vm lab (two master VMs + containers, nodes only, no stack).
// "Ready" = the container started → the guest agent answers → NICs and /etc/hosts configured.
// Cold boot = the first `up` (new overlay disk); warm boot = stop (guest poweroff) + start.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDownByName, labUp, openBackend } from '../../lab/lab.ts';
import { loadTopologyFile } from '../../lab/topology/index.ts';
import { consoleLogger, silentLogger } from '../../lab/util/log.ts';
import { labStateDir, runsRoot } from '../../lab/util/paths.ts';
import type { VmBootReport } from '../../lab/backends/vm/vm-backend.ts';
import { MixedBackend } from '../../lab/backends/vm/mixed-backend.ts';
import type { Benchmark, BenchOptions, BenchRow, BenchSummary } from '../bench.ts';
import { summaryToMarkdown } from '../bench.ts';

const MiB = 2 ** 20;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

function bootReports(lab: string): VmBootReport[] {
  const dir = join(labStateDir(lab), 'vm');
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.boot.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as VmBootReport);
  } catch {
    return [];
  }
}

export async function runVmBootBench(opts: BenchOptions): Promise<BenchSummary> {
  const file = opts.args.find((a) => !a.startsWith('--')) ?? 'test/fixtures/labs/dev-vm.yaml';
  const ti = opts.args.indexOf('--trials');
  const trials = ti >= 0 ? Number(opts.args[ti + 1]) : opts.quick ? 1 : 3;
  const { plan } = await loadTopologyFile(file);
  const vms = plan.nodes.filter((n) => n.backend === 'vm');
  if (!vms.length) throw new Error(`${file} has no VM node (backend: vm)`);
  const backend = await openBackend(opts.log);
  if ((await backend.listResources(plan.lab)).length) throw new Error(`lab ${plan.lab} is up: take it down first (halab down ${plan.lab})`);
  const vmBackend = (backend as MixedBackend).vm;

  try {
    opts.log.info(`cold: halab up ${file} (nodes only; images and VM disks built first if missing) …`);
    let t = performance.now();
    const up = await labUp(file, opts.log, { skipStack: true });
    const upSeconds = (performance.now() - t) / 1000;
    const cold = bootReports(plan.lab);

    // Idle cost and memory of the first VM after boot.
    const first = vms[0]!.name;
    await new Promise((r) => setTimeout(r, 3000));
    const s0 = await backend.stats(plan.lab, first);
    t = performance.now();
    await new Promise((r) => setTimeout(r, 10_000));
    const s1 = await backend.stats(plan.lab, first);
    const idleCores = (s1.cpuSeconds - s0.cpuSeconds) / ((performance.now() - t) / 1000);
    const pid = (await backend.inspect(plan.lab, first)).pid!;
    const { qemuRss } = await import('../../lab/backends/vm/vm-backend.ts');
    const rssIdle = qemuRss(pid);

    const warm: VmBootReport[] = [];
    for (let i = 0; i < trials; i++) {
      opts.log.info(`warm boot ${i + 1}/${trials}: stop (guest poweroff) + start of ${first} …`);
      await backend.stop(plan.lab, first, 20);
      await backend.start(plan.lab, first);
      warm.push(vmBackend.boots.get(`${plan.lab}/${first}`)!);
    }

    const rows: BenchRow[] = [];
    for (const r of cold.sort((a, b) => a.node.localeCompare(b.node))) {
      rows.push({ figure: `cold boot to ready, ${r.node}`, measured: r.bootSeconds, unit: 's', reference: 9, referenceSource: 'env note: initramfs-only VM to marker, 6–9 s', verdict: 'info' });
      rows.push({ figure: `guest uptime at ready, ${r.node}`, measured: r.guestUptimeSeconds, unit: 's', reference: 3.4, referenceSource: 'env note: 3.0–3.4 s (busybox only)', verdict: 'info' });
      rows.push({ figure: `QEMU RSS after boot, ${r.node}`, measured: r.qemuRssBytes / MiB, unit: 'MiB', reference: 238, referenceSource: 'env note: -m 256 → 238 MiB', verdict: 'info' });
      rows.push({ figure: `node memory (cgroup) after boot, ${r.node}`, measured: r.containerMemoryBytes / MiB, unit: 'MiB', verdict: 'info', note: 'QEMU + launcher + page cache of the container' });
    }
    rows.push({ figure: `warm boot to ready (median of ${trials}), ${first}`, measured: median(warm.map((w) => w.bootSeconds)), unit: 's', verdict: 'info', note: warm.map((w) => w.bootSeconds.toFixed(1)).join(', ') });
    rows.push({ figure: `QEMU RSS after 13 s idle, ${first}`, measured: rssIdle / MiB, unit: 'MiB', verdict: 'info' });
    rows.push({ figure: `idle CPU, ${first}`, measured: idleCores * 100, unit: '% of a core', reference: 2, referenceSource: 'env note: ~2 % idle', verdict: 'info' });
    rows.push({ figure: `lab bring-up (nodes only), ${plan.lab}`, measured: upSeconds, unit: 's', verdict: 'info', note: `${plan.nodes.length} nodes, ${vms.length} VM(s)` });

    const summary: BenchSummary = {
      bench: 'vm-boot',
      conditions: {
        topology: file,
        'VM nodes': vms.length,
        'guest RAM': `${cold[0]?.memoryMiB ?? '?'} MiB, 1 vCPU, TCG (no KVM)`,
        'VM boots at once': process.env.HALAB_VM_BOOT_CONCURRENCY ?? '2',
        'ready means': 'container start → guest agent answers → NICs and /etc/hosts configured',
        'host load (1 min) at end': readFileSync('/proc/loadavg', 'utf8').split(' ')[0]!,
        'images built in this run': up.images.filter((i) => i.action === 'built').length,
      },
      rows,
    };
    const dir = join(runsRoot(), 'vm-boot', new Date().toISOString().replace(/[:.]/g, '-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'result.json'), JSON.stringify({ summary, cold, warm }, null, 2) + '\n');
    summary.runDir = dir;
    return summary;
  } finally {
    await labDownByName(plan.lab, silentLogger, backend).catch(() => {});
  }
}

export const vmBootBenchmark: Benchmark = {
  name: 'vm-boot',
  description: 'boot-to-ready time and memory of VM nodes (QEMU/TCG), default the dev-vm fixture; pass topologies/has-vm.yaml for that lab',
  run: runVmBootBench,
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const summary = await runVmBootBench({ quick: args.includes('--quick'), log: consoleLogger(), args });
  process.stdout.write(args.includes('--json') ? JSON.stringify(summary, null, 2) + '\n' : summaryToMarkdown(summary) + '\n');
}
