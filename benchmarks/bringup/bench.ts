// Bring-up benchmark: time to bring up a lab (images cached) and tear it down with halab, beside a
// plain sequential `docker run` loop creating the same containers on the same networks, in one run.
import { execa } from 'execa';
import type Docker from 'dockerode';
import { loadTopologyFile } from '../../lab/topology/index.ts';
import { labDownByName, labUp, openBackend } from '../../lab/lab.ts';
import { ensureImages } from '../../lab/engine/images.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { Benchmark, BenchOptions, BenchSummary } from '../bench.ts';
import { ratio } from '../bench.ts';
import { silentLogger } from '../../lab/util/log.ts';

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** The naive way: one `docker run` per node, one after another, NICs connected before start. */
async function sequentialDockerRun(docker: Docker, plan: LabPlan, prefix: string): Promise<{ up: number; down: number }> {
  const nets = plan.networks.map((n) => ({ ...n, docker: `${prefix}-${n.name}` }));
  const t0 = performance.now();
  for (const n of nets) {
    await execa('docker', ['network', 'create', '--internal', '--subnet', n.subnet, '--gateway', n.gateway, '--label', `halab.bench=${prefix}`, n.docker]);
  }
  for (const node of plan.nodes) {
    const name = `${prefix}-${node.name}`;
    const [first, ...rest] = node.nics;
    const args = ['create', '--name', name, '--label', `halab.bench=${prefix}`, '--init', '--cap-add', 'NET_ADMIN'];
    if (node.cpus) args.push('--cpus', String(node.cpus));
    if (node.memoryBytes) args.push('--memory', String(node.memoryBytes));
    args.push('--network', `${prefix}-${first!.network}`, '--ip', first!.address, node.image, 'sleep', 'infinity');
    await execa('docker', args);
    for (const nic of rest) await execa('docker', ['network', 'connect', '--ip', nic.address, `${prefix}-${nic.network}`, name]);
    await execa('docker', ['start', name]);
  }
  const up = seconds(t0);
  const t1 = performance.now();
  for (const node of plan.nodes) await execa('docker', ['rm', '-f', `${prefix}-${node.name}`]);
  for (const n of nets) await execa('docker', ['network', 'rm', n.docker]);
  void docker;
  return { up, down: seconds(t1) };
}

export async function runBringupBench(opts: BenchOptions): Promise<BenchSummary> {
  const file = opts.args[0] ?? (opts.quick ? 'topologies/has-4.yaml' : 'topologies/has-16.yaml');
  const { plan } = await loadTopologyFile(file);
  const backend = await openBackend(opts.log);
  await ensureImages(backend.docker, [...new Set(plan.nodes.map((n) => n.image))], opts.log);
  if ((await backend.listResources(plan.lab)).length) throw new Error(`lab ${plan.lab} is up: take it down first (halab down ${plan.lab})`);

  opts.log.info(`halab up ${file} (nodes only, images cached) …`);
  let t = performance.now();
  await labUp(file, silentLogger, { skipStack: true });
  const halabUp = seconds(t);
  t = performance.now();
  await labDownByName(plan.lab, silentLogger, backend);
  const halabDown = seconds(t);

  opts.log.info(`sequential docker run loop (${plan.nodes.length} containers) …`);
  const naive = await sequentialDockerRun(backend.docker, plan, `bench-${plan.lab}`);

  return {
    bench: 'bringup',
    conditions: {
      topology: file,
      nodes: plan.nodes.length,
      networks: plan.networks.length,
      'images': 'cached',
      'halab up includes': 'networks, containers (8 in parallel), NIC check by exec in every node; no stack',
      'baseline': 'docker CLI: network create, then per node create + network connect + start, one after another; rm -f',
    },
    rows: [
      { figure: 'bring-up, halab', measured: halabUp, unit: 's', reference: naive.up, referenceSource: 'sequential docker run (same run)', ratio: ratio(halabUp, naive.up), verdict: 'info' },
      { figure: 'tear-down, halab', measured: halabDown, unit: 's', reference: naive.down, referenceSource: 'sequential docker rm -f (same run)', ratio: ratio(halabDown, naive.down), verdict: 'info' },
    ],
  };
}

export const bringupBenchmark: Benchmark = {
  name: 'bringup',
  description: 'time to bring up and tear down a lab (default has-16) vs a sequential docker run loop',
  run: runBringupBench,
};
