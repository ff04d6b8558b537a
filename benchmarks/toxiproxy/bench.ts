// What does the Toxiproxy-compatible proxy cost when no toxic is set?
//
// In one run, against upstreams on 127.0.0.1:
// - throughput: a bounded bulk transfer (upstream -> client), MB/s, direct vs through the proxy;
// - added latency: N small request/response round trips on one connection, median and p99 RTT,
//   direct vs through the proxy.
// The proxy runs in a child process by default (as the real Toxiproxy daemon would) and is
// driven through toxiproxy-node-client.
//
//   npx tsx benchmarks/toxiproxy/bench.ts [--bytes MiB] [--round-trips N] [--in-process]
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Toxiproxy } from 'toxiproxy-node-client';
import { startToxiproxyServer } from '../../chaos/toxiproxy/server.ts';
import type { Benchmark, BenchOptions, BenchSummary } from '../bench.ts';

const HOST = '127.0.0.1';

export interface ToxiproxyBenchOptions {
  /** Bytes per bulk transfer (default 256 MiB). */
  bytes?: number;
  /** Bulk transfers per path; the median is reported (default 3). */
  transfers?: number;
  /** Round trips for the latency figure (default 2000), after `warmup` unmeasured ones (default 200). */
  roundTrips?: number;
  warmup?: number;
  /** Request/response size in bytes (default 64). */
  messageSize?: number;
  /** Run the proxy server in this process instead of a child process (default false). */
  inProcess?: boolean;
  /** Abort any single measurement after this long (default 60 s). */
  timeLimitMs?: number;
  log?: (line: string) => void;
}

export interface LatencyFigures {
  medianUs: number;
  p99Us: number;
  meanUs: number;
  samples: number;
}

export interface ToxiproxyBenchResult {
  conditions: {
    bytes: number;
    transfers: number;
    roundTrips: number;
    messageSize: number;
    proxyProcess: 'child' | 'in-process';
    node: string;
  };
  throughput: { directMBps: number; proxyMBps: number; ratio: number };
  latency: {
    direct: LatencyFigures;
    proxy: LatencyFigures;
    /** proxy median − direct median. */
    addedMedianUs: number;
    addedP99Us: number;
    /** proxy median / direct median. */
    medianRatio: number;
    p99Ratio: number;
  };
}

// ---- upstreams ---------------------------------------------------------------------

interface Server {
  port: number;
  close(): Promise<void>;
}

async function listen(handler: (s: net.Socket) => void): Promise<Server> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    handler(s);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Sends `bytes` bytes from a 1 MiB block on every connection, then ends. */
function bulkSender(bytes: number): Promise<Server> {
  const block = Buffer.alloc(1024 * 1024, 0x5a);
  return listen((s) => {
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!s.write(n === block.length ? block : block.subarray(0, n))) {
          s.once('drain', pump);
          return;
        }
      }
      s.end();
    };
    pump();
  });
}

const echoServer = () => listen((s) => s.pipe(s));

// ---- measurements ------------------------------------------------------------------

/** Run `work` on a fresh socket; fail (and destroy the socket) after `ms`. */
function timedSocket<T>(
  ms: number,
  what: string,
  port: number,
  work: (s: net.Socket, resolve: (v: T) => void, reject: (e: Error) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const s = net.connect(port, HOST);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${what}: no result within ${ms} ms`));
    }, ms);
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      s.destroy();
      fn();
    };
    s.on('error', (e) => settle(() => reject(e)));
    work(
      s,
      (v) => settle(() => resolve(v)),
      (e) => settle(() => reject(e)),
    );
  });
}

/** Receive a whole bulk transfer; returns MB/s (10^6 bytes per second). */
function transfer(port: number, expected: number, timeLimitMs: number): Promise<number> {
  return timedSocket<number>(timeLimitMs, 'bulk transfer', port, (s, resolve, reject) => {
    let got = 0;
    const t0 = performance.now();
    s.on('data', (d: Buffer) => {
      got += d.length;
    });
    s.on('end', () => {
      const secs = (performance.now() - t0) / 1000;
      if (got !== expected) reject(new Error(`bulk transfer: got ${got} of ${expected} bytes`));
      else resolve(expected / 1e6 / secs);
    });
  });
}

/** `n` sequential round trips of `size` bytes on one connection, after `warmup` ones; RTTs in µs. */
function roundTrips(port: number, n: number, warmup: number, size: number, timeLimitMs: number): Promise<number[]> {
  return timedSocket<number[]>(timeLimitMs, 'round trips', port, (s, resolve) => {
    s.setNoDelay(true);
    const msg = Buffer.alloc(size, 0x61);
    const rtts: number[] = [];
    let i = 0;
    let got = 0;
    let t0 = 0;
    const send = () => {
      got = 0;
      t0 = performance.now();
      s.write(msg);
    };
    s.on('connect', send);
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got < size) return;
      const rtt = (performance.now() - t0) * 1000;
      if (i >= warmup) rtts.push(rtt);
      i++;
      if (i < warmup + n) send();
      else resolve(rtts);
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

function latencyFigures(rtts: number[]): LatencyFigures {
  const sorted = [...rtts].sort((a, b) => a - b);
  return {
    medianUs: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    meanUs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    samples: sorted.length,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// ---- proxy server ------------------------------------------------------------------

interface ProxyServer {
  url: string;
  close(): Promise<void>;
}

async function startProxyServer(inProcess: boolean, timeLimitMs: number): Promise<ProxyServer> {
  if (inProcess) return startToxiproxyServer({ host: HOST, port: 0 });
  const script = fileURLToPath(new URL('./server-child.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`proxy server did not start within ${timeLimitMs} ms`));
    }, timeLimitMs);
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch (err) {
        reject(err);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy server exited early (code ${code})`));
    });
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin?.end();
        setTimeout(() => child.kill('SIGTERM'), 2000).unref();
      }),
  };
}

// ---- the benchmark -----------------------------------------------------------------

export async function runToxiproxyBench(opts: ToxiproxyBenchOptions = {}): Promise<ToxiproxyBenchResult> {
  const bytes = opts.bytes ?? 256 * 1024 * 1024;
  const transfers = Math.max(1, opts.transfers ?? 3);
  const n = opts.roundTrips ?? 2000;
  const warmup = opts.warmup ?? 200;
  const size = opts.messageSize ?? 64;
  const limit = opts.timeLimitMs ?? 60_000;
  const inProcess = opts.inProcess ?? false;
  const log = opts.log ?? (() => {});

  const sender = await bulkSender(bytes);
  const echo = await echoServer();
  const server = await startProxyServer(inProcess, limit);
  try {
    const tp = new Toxiproxy(server.url);
    const bulkProxy = await tp.createProxy({ name: 'bench_bulk', listen: `${HOST}:0`, upstream: `${HOST}:${sender.port}` });
    const echoProxy = await tp.createProxy({ name: 'bench_echo', listen: `${HOST}:0`, upstream: `${HOST}:${echo.port}` });
    const portOf = (listen: string) => Number(listen.slice(listen.lastIndexOf(':') + 1));

    const direct: number[] = [];
    const proxied: number[] = [];
    for (let i = 0; i < transfers; i++) {
      direct.push(await transfer(sender.port, bytes, limit));
      proxied.push(await transfer(portOf(bulkProxy.listen), bytes, limit));
      log(`transfer ${i + 1}/${transfers}: direct ${direct[i].toFixed(0)} MB/s, proxy ${proxied[i].toFixed(0)} MB/s`);
    }
    const directMBps = median(direct);
    const proxyMBps = median(proxied);

    const directRtt = latencyFigures(await roundTrips(echo.port, n, warmup, size, limit));
    const proxyRtt = latencyFigures(await roundTrips(portOf(echoProxy.listen), n, warmup, size, limit));
    log(`round trips: direct median ${directRtt.medianUs.toFixed(0)} µs, proxy median ${proxyRtt.medianUs.toFixed(0)} µs`);

    await bulkProxy.remove();
    await echoProxy.remove();
    return {
      conditions: {
        bytes,
        transfers,
        roundTrips: n,
        messageSize: size,
        proxyProcess: inProcess ? 'in-process' : 'child',
        node: process.version,
      },
      throughput: { directMBps, proxyMBps, ratio: proxyMBps / directMBps },
      latency: {
        direct: directRtt,
        proxy: proxyRtt,
        addedMedianUs: proxyRtt.medianUs - directRtt.medianUs,
        addedP99Us: proxyRtt.p99Us - directRtt.p99Us,
        medianRatio: proxyRtt.medianUs / directRtt.medianUs,
        p99Ratio: proxyRtt.p99Us / directRtt.p99Us,
      },
    };
  } finally {
    await server.close();
    await sender.close();
    await echo.close();
  }
}

/** Side-by-side table of a result. */
export function formatToxiproxyBench(r: ToxiproxyBenchResult): string {
  const rows: [string, number, number, number][] = [
    ['throughput (MB/s)', r.throughput.directMBps, r.throughput.proxyMBps, r.throughput.ratio],
    ['RTT median (µs)', r.latency.direct.medianUs, r.latency.proxy.medianUs, r.latency.medianRatio],
    ['RTT p99 (µs)', r.latency.direct.p99Us, r.latency.proxy.p99Us, r.latency.p99Ratio],
  ];
  const c = r.conditions;
  const lines = [
    `toxiproxy (no toxics): ${(c.bytes / 1048576).toFixed(0)} MiB × ${c.transfers} transfers, ` +
      `${c.roundTrips} round trips of ${c.messageSize} B, proxy ${c.proxyProcess}, node ${c.node}`,
    '',
    `${'figure'.padEnd(20)}${'direct'.padStart(12)}${'proxy'.padStart(12)}${'proxy/direct'.padStart(14)}`,
    ...rows.map(([f, d, p, ratio]) => `${f.padEnd(20)}${d.toFixed(1).padStart(12)}${p.toFixed(1).padStart(12)}${ratio.toFixed(2).padStart(14)}`),
    '',
    `added latency: median +${r.latency.addedMedianUs.toFixed(0)} µs, p99 +${r.latency.addedP99Us.toFixed(0)} µs`,
  ];
  return lines.join('\n') + '\n';
}

/** For `halab bench toxiproxy` (register in benchmarks/index.ts). */
export const toxiproxyBenchmark: Benchmark = {
  name: 'toxiproxy',
  description: 'cost of the Toxiproxy-compatible proxy without toxics: throughput and RTT beside a direct connection',
  async run(opts: BenchOptions): Promise<BenchSummary> {
    const r = await opts.log.step('toxiproxy bench', () =>
      runToxiproxyBench({
        ...(opts.quick ? { bytes: 32 * 1024 * 1024, transfers: 1, roundTrips: 500, warmup: 50 } : {}),
        ...parseArgs(opts.args),
        log: (l) => opts.log.info(l),
      }),
    );
    return {
      bench: 'toxiproxy',
      conditions: { ...r.conditions },
      rows: [
        { figure: 'throughput', measured: r.throughput.proxyMBps, unit: 'MB/s', reference: r.throughput.directMBps, referenceSource: 'direct', ratio: r.throughput.ratio, verdict: 'info' },
        { figure: 'RTT median', measured: r.latency.proxy.medianUs, unit: 'µs', reference: r.latency.direct.medianUs, referenceSource: 'direct', ratio: r.latency.medianRatio, verdict: 'info' },
        { figure: 'RTT p99', measured: r.latency.proxy.p99Us, unit: 'µs', reference: r.latency.direct.p99Us, referenceSource: 'direct', ratio: r.latency.p99Ratio, verdict: 'info' },
      ],
    };
  },
};

/** `--bytes MiB`, `--transfers N`, `--round-trips N`, `--message-size B`, `--in-process`. */
export function parseArgs(args: string[]): ToxiproxyBenchOptions {
  const out: ToxiproxyBenchOptions = {};
  for (let i = 0; i < args.length; i++) {
    const num = () => {
      const v = Number(args[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${args[i - 1]} needs a positive number`);
      return v;
    };
    switch (args[i]) {
      case '--bytes':
        out.bytes = Math.round(num() * 1024 * 1024);
        break;
      case '--transfers':
        out.transfers = Math.round(num());
        break;
      case '--round-trips':
        out.roundTrips = Math.round(num());
        break;
      case '--message-size':
        out.messageSize = Math.round(num());
        break;
      case '--in-process':
        out.inProcess = true;
        break;
      default:
        throw new Error(`unknown argument ${args[i]}`);
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runToxiproxyBench({ ...parseArgs(process.argv.slice(2)), log: (l) => process.stderr.write(l + '\n') });
  process.stdout.write(formatToxiproxyBench(result));
}
