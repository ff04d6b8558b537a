// VM boot benchmark: boot-to-ready time and memory of VM nodes (QEMU under TCG), beside the env
// note's bare measurement (busybox initramfs to a marker: 6–9 s, ~200 MiB RSS).
//   halab bench vm-boot [TOPOLOGY] [--trials N] [--lab LAB_TOPOLOGY|none] [--quick] [--json]
// 1. One VM node: TOPOLOGY (default the dev-vm fixture: one VM node + one container), nodes only.
//    "Ready" = the container started → the guest agent answers → NICs, /etc/hosts, clock set.
//    Cold boot = the first `up` (new overlay disk); warm boot = stop (guest poweroff) + start.
// 2. A whole lab with VM nodes and its stack (default topologies/has-vm.yaml): `up` until the stack
//    says the service answers, split into nodes / stack, and every node's memory (cgroup).
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
import { hostLoad } from '../record.ts';

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

/** The value after `--name` in args, and the positional arguments (pure). */
export function benchArgs(args: string[], valued: string[]): { positional: string[]; get(name: string): string | undefined } {
  const positional: string[] = [];
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (valued.includes(a)) values.set(a, args[++i] ?? '');
    else if (!a.startsWith('--')) positional.push(a);
  }
  return { positional, get: (name) => values.get(name) };
}

export async function runVmBootBench(opts: BenchOptions): Promise<BenchSummary> {
  const a = benchArgs(opts.args, ['--trials', '--lab']);
  const file = a.positional[0] ?? 'test/fixtures/labs/dev-vm.yaml';
  const trials = a.get('--trials') !== undefined ? Number(a.get('--trials')) : opts.quick ? 1 : 3;
  const labFile = a.get('--lab') ?? 'topologies/has-vm.yaml';
  const node = await nodeBoot(opts, file, trials);
  if (labFile === 'none') return node;
  const lab = await labBoot(opts, labFile);
  node.rows.push(...lab.rows);
  Object.assign(node.conditions, lab.conditions);
  return node;
}

async function nodeBoot(opts: BenchOptions, file: string, trials: number): Promise<BenchSummary> {
  const { plan } = await loadTopologyFile(file);
  const vms = plan.nodes.filter((n) => n.backend === 'vm');
  if (!vms.length) throw new Error(`${file} has no VM node (backend: vm)`);
  const backend = await openBackend(opts.log);
  if ((await backend.listResources(plan.lab)).length) throw new Error(`lab ${plan.lab} is up: take it down first (halab down ${plan.lab})`);
  const vmBackend = (backend as MixedBackend).vm;

  try {
    const load0 = hostLoad();
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
        'ready means': 'container start → guest agent answers → NICs, /etc/hosts and clock set',
        'host load 1/5/15 min, node phase start → end': `${load0} → ${hostLoad()}`,
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

/** A whole lab with VM nodes, stack included: time to the service answering, and memory per node. */
async function labBoot(opts: BenchOptions, file: string): Promise<Pick<BenchSummary, 'rows' | 'conditions'>> {
  const { plan } = await loadTopologyFile(file);
  const backend = await openBackend(opts.log);
  if ((await backend.listResources(plan.lab)).length) throw new Error(`lab ${plan.lab} is up: take it down first (halab down ${plan.lab})`);
  const load0 = hostLoad();
  try {
    opts.log.info(`lab: halab up ${file} (nodes + stack ${plan.stack ?? '(none)'}) …`);
    const up = await labUp(file, opts.log);
    const boots = bootReports(plan.lab);
    const mem = await Promise.all(plan.nodes.map(async (n) => ({ node: n, bytes: (await backend.stats(plan.lab, n.name)).memoryBytes })));
    const sum = (vm: boolean) => mem.filter((m) => (m.node.backend === 'vm') === vm).reduce((a, m) => a + m.bytes, 0) / MiB;
    const nVm = mem.filter((m) => m.node.backend === 'vm').length;
    const rows: BenchRow[] = [
      { figure: `lab up to service ready (nodes + stack), ${plan.lab}`, measured: up.seconds.total, unit: 's', verdict: 'info', note: `nodes ${up.seconds.nodes.toFixed(1)} s, NIC check ${up.seconds.verify.toFixed(1)} s, stack ${up.seconds.stack.toFixed(1)} s` },
      {
        figure: `VM boot to ready in the lab (median of ${boots.length}), ${plan.lab}`,
        measured: boots.length ? median(boots.map((b) => b.bootSeconds)) : null,
        unit: 's',
        verdict: 'info',
        trials: boots.length,
        ...(boots.length ? { spread: { min: Math.min(...boots.map((b) => b.bootSeconds)), p95: Math.max(...boots.map((b) => b.bootSeconds)), max: Math.max(...boots.map((b) => b.bootSeconds)) } } : {}),
        note: boots.map((b) => `${b.node} ${b.bootSeconds.toFixed(1)} s`).join(', '),
      },
      { figure: `memory of the VM nodes (${nVm}), ${plan.lab}`, measured: sum(true), unit: 'MiB', verdict: 'info', note: 'node containers\' cgroups: QEMU (guest RAM + TCG cache) + launcher' },
      { figure: `memory of the container nodes (${plan.nodes.length - nVm}), ${plan.lab}`, measured: sum(false), unit: 'MiB', verdict: 'info' },
      { figure: `memory of the lab, ${plan.lab}`, measured: sum(true) + sum(false), unit: 'MiB', verdict: 'info', note: mem.map((m) => `${m.node.name} ${(m.bytes / MiB).toFixed(0)}`).join(', ') },
    ];
    return {
      rows,
      conditions: {
        'lab topology': file,
        'lab nodes': `${plan.nodes.length} (${nVm} VMs)`,
        'host load 1/5/15 min, lab phase start → end': `${load0} → ${hostLoad()}`,
      },
    };
  } finally {
    await labDownByName(plan.lab, silentLogger, backend).catch(() => {});
  }
}

export const vmBootBenchmark: Benchmark = {
  name: 'vm-boot',
  description: 'boot-to-ready time and memory of one VM node (dev-vm fixture), then of the has-vm lab with its stack (--lab none skips it)',
  run: runVmBootBench,
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const summary = await runVmBootBench({ quick: args.includes('--quick'), log: consoleLogger(), args });
  process.stdout.write(args.includes('--json') ? JSON.stringify(summary, null, 2) + '\n' : summaryToMarkdown(summary) + '\n');
}
