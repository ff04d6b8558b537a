// Calibration: halab's ledger-writing load generator beside wrk, same target, same run.
// Goal from the issue: ≥ 0.8× wrk. Both are measured with the client node's own CPU use.
import { fileURLToPath } from 'node:url';
import { labDownByName, labUp, openBackend } from '../../lab/lab.ts';
import type { Benchmark, BenchOptions, BenchSummary } from '../bench.ts';
import { ratio } from '../bench.ts';
import { runLoadInNode, runWrkInNode } from '../load/run.ts';

const TOPOLOGY = fileURLToPath(new URL('./calibration.yaml', import.meta.url));

export async function runCalibration(opts: BenchOptions): Promise<BenchSummary> {
  const seconds = opts.quick ? 4 : 10;
  const connections = 16;
  const { plan } = await labUp(TOPOLOGY, opts.log);
  const backend = await openBackend(opts.log);
  const lab = plan.lab;
  try {
    await backend.exec(lab, 'web', ['sh', '-c', 'head -c 5700 /dev/urandom > /var/www/html/f.bin && (apache2ctl -k start || true)']);
    const web = plan.nodes.find((n) => n.name === 'web')!.nics[0]!.address;
    const url = `http://${web}:80/f.bin`;
    for (let i = 0; i < 50; i++) {
      const r = await backend.exec(lab, 'client', ['curl', '-sf', '-o', '/dev/null', url], { check: false });
      if (r.exitCode === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    opts.log.info(`wrk -c ${connections} for ${seconds} s …`);
    const wrk = await runWrkInNode(backend, lab, 'client', url, { connections, seconds, threads: 2 });
    opts.log.info(`halab generator, closed loop, ${connections} clients, ${seconds} s …`);
    const gen = await runLoadInNode(backend, lab, 'client', {
      httpUrl: `http://${web}`,
      paths: ['/f.bin'],
      clients: connections,
      durationSeconds: seconds,
      warmupSeconds: 0,
      keepAlive: true,
    });
    const perCpu = (rps: number, cpu: number, s: number) => (cpu > 0 ? rps / (cpu / s) : null);
    return {
      bench: 'load-calibration',
      conditions: {
        target: 'Apache 2.4 (Debian), uncapped, 5,700-byte file, keep-alive',
        connections,
        seconds,
        'generator node': 'halab/client, uncapped, same 2-core host as the target',
      },
      rows: [
        {
          figure: 'throughput, halab generator (req/s)',
          measured: gen.result.okPerSecond,
          unit: 'req/s',
          reference: wrk.requestsPerSecond,
          referenceSource: 'wrk, same target, same run',
          ratio: ratio(gen.result.okPerSecond, wrk.requestsPerSecond),
          verdict: (ratio(gen.result.okPerSecond, wrk.requestsPerSecond) ?? 0) >= 0.8 ? 'pass' : 'fail',
          note: 'goal ≥ 0.8× wrk',
        },
        {
          figure: 'requests per CPU-second of the client node',
          measured: perCpu(gen.result.okPerSecond, gen.nodeCpuSeconds, gen.wallSeconds),
          unit: 'req/CPU-s',
          reference: perCpu(wrk.requestsPerSecond, wrk.nodeCpuSeconds, wrk.seconds),
          referenceSource: 'wrk',
          ratio: ratio(perCpu(gen.result.okPerSecond, gen.nodeCpuSeconds, gen.wallSeconds), perCpu(wrk.requestsPerSecond, wrk.nodeCpuSeconds, wrk.seconds)),
          verdict: 'info',
        },
        { figure: 'failed requests, halab generator', measured: gen.result.failed, unit: '', verdict: gen.result.failed === 0 ? 'pass' : 'fail' },
        { figure: 'p99 latency, halab generator', measured: gen.result.latencyMs.p99, unit: 'ms', reference: wrk.latencyP99Ms ?? null, referenceSource: 'wrk', verdict: 'info' },
      ],
    };
  } finally {
    await labDownByName(lab, opts.log, backend);
  }
}

export const calibrationBenchmark: Benchmark = {
  name: 'load-calibration',
  description: "halab's load generator beside wrk on one Apache target (goal ≥ 0.8× wrk)",
  run: runCalibration,
};
