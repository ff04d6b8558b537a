// The load generator that runs INSIDE the client node (bundled for its nodejs 18): closed loop
// (WebBench-like) or open loop (fixed arrival rate, no coordinated omission), every request
// written to a JSONL ledger. Bounded in count and time; it stops by itself.
import http from 'node:http';
import https from 'node:https';
import { createWriteStream, readFileSync } from 'node:fs';
import type { LoadResult, LoadSpec } from './spec.ts';
import { seededRandom } from '../../lab/util/prng.ts';

type Outcome = 'ok' | 'http_error' | 'timeout' | 'reset' | 'refused' | 'error';

const now = () => performance.timeOrigin + performance.now();

function classify(err: NodeJS.ErrnoException): Outcome {
  if (err.code === 'ECONNREFUSED') return 'refused';
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'reset';
  if (err.code === 'ETIMEDOUT' || err.message === 'timeout') return 'timeout';
  return 'error';
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const rand = seededRandom(spec.seed);
  const httpAgent = new http.Agent({ keepAlive: spec.keepAlive, maxSockets: Infinity });
  const httpsAgent = new https.Agent({ keepAlive: spec.keepAlive, maxSockets: Infinity, rejectUnauthorized: false });
  const ledger = createWriteStream(spec.ledgerPath);
  const t0 = now();
  const tEnd = t0 + spec.durationSeconds * 1000;
  const warmEnd = t0 + spec.warmupSeconds * 1000;
  const latencies: number[] = [];
  const byOutcome: Record<string, number> = {};
  const servedBy: Record<string, number> = {};
  let attempted = 0;
  let ok = 0;
  let okAfterWarmup = 0;
  let bytes = 0;
  let nextId = 0;

  const request = (client: number, scheduled?: number): Promise<void> =>
    new Promise((resolve) => {
      const id = nextId++;
      attempted++;
      const tls = spec.httpsUrl !== undefined && rand() < spec.tlsShare;
      const path = spec.paths[Math.floor(rand() * spec.paths.length)] ?? '/';
      const url = (tls ? spec.httpsUrl! : spec.httpUrl) + path;
      const start = scheduled ?? now();
      let done = false;
      const finish = (outcome: Outcome, status?: number, size = 0, server?: string) => {
        if (done) return;
        done = true;
        const end = now();
        byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
        if (outcome === 'ok') {
          ok++;
          if (start >= warmEnd) okAfterWarmup++;
          latencies.push(end - start);
          bytes += size;
          if (server) servedBy[server] = (servedBy[server] ?? 0) + 1;
        }
        ledger.write(
          JSON.stringify({ id, client: String(client), start, end, outcome, status, bytes: size, server, target: url }) + '\n',
        );
        resolve();
      };
      const req = (tls ? https : http).get(url, { agent: tls ? httpsAgent : httpAgent, timeout: spec.timeoutMs }, (res) => {
        let size = 0;
        res.on('data', (d: Buffer) => (size += d.length));
        res.on('end', () => {
          const server = res.headers['x-served-by'];
          const code = res.statusCode ?? 0;
          finish(code >= 200 && code < 400 ? 'ok' : 'http_error', code, size, Array.isArray(server) ? server[0] : server);
        });
        res.on('error', (e) => finish(classify(e)));
      });
      req.on('timeout', () => {
        req.destroy(new Error('timeout'));
      });
      req.on('error', (e: NodeJS.ErrnoException) => finish(classify(e)));
    });

  const cpu0 = process.cpuUsage();
  if (spec.mode === 'closed') {
    await Promise.all(
      Array.from({ length: spec.clients }, async (_, c) => {
        while (now() < tEnd && attempted < spec.maxRequests) await request(c);
      }),
    );
  } else {
    // Open loop: the n-th request is due at t0 + n/rate whatever happened to earlier ones.
    const inflight = new Set<Promise<void>>();
    const interval = 1000 / spec.rate;
    let n = 0;
    while (attempted < spec.maxRequests) {
      const due = t0 + n * interval;
      if (due >= tEnd) break;
      const wait = due - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = request(n % 1000, due);
      inflight.add(p);
      p.finally(() => inflight.delete(p));
      n++;
    }
    await Promise.all(inflight);
  }
  const cpu = process.cpuUsage(cpu0);
  await new Promise<void>((r) => ledger.end(r));
  httpAgent.destroy();
  httpsAgent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)]! : NaN);
  const seconds = (now() - t0) / 1000;
  const measured = Math.max(0.001, Math.min(seconds, spec.durationSeconds) - spec.warmupSeconds);
  return {
    mode: spec.mode,
    attempted,
    ok,
    failed: attempted - ok,
    byOutcome,
    okPerSecond: okAfterWarmup / measured,
    latencyMs: { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: latencies.at(-1) ?? NaN },
    bytes,
    servedBy,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}

// Run as a program: node loadgen.mjs SPEC.json → result JSON on stdout.
const specFile = process.argv[2];
if (specFile && process.argv[1]?.endsWith('loadgen.mjs')) {
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as LoadSpec;
  runLoad(spec).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e) => {
      process.stderr.write(String(e?.stack ?? e) + '\n');
      process.exit(1);
    },
  );
}
