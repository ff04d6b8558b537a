// A failover probe run inside a client node: one new-connection HTTP GET every `interval` ms
// (never ICMP: a paused master hides from ping), each result a JSON line
// {t (start, epoch ms), ms, ok, status, server (X-Served-By), err} on stdout (or a file).
// Usage: node http-probe.mjs URL INTERVAL_MS DURATION_MS [TIMEOUT_MS] [OUT_FILE]
// URL may be a comma-separated list, taken in turn (distinct files miss every cache on the way).
import { appendFileSync } from 'node:fs';
import { request } from 'node:http';

const [url = '', intervalArg = '10', durationArg = '10000', timeoutArg = '500', out] = process.argv.slice(2);
const interval = Number(intervalArg);
const duration = Number(durationArg);
const timeout = Number(timeoutArg);
const urls = url.split(',').map((x) => new URL(x));
let next = 0;
const lines: string[] = [];

function probe(): void {
  const u = urls[next++ % urls.length]!;
  const t = Date.now();
  const t0 = performance.now();
  let done = false;
  const finish = (ok: boolean, status: number, server: string | null, err: string | null) => {
    if (done) return;
    done = true;
    lines.push(JSON.stringify({ t, ms: Math.round((performance.now() - t0) * 10) / 10, ok, status, server, err }));
  };
  const req = request(
    { host: u.hostname, port: u.port || 80, path: u.pathname + u.search, agent: false, timeout, headers: { Connection: 'close' } },
    (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200, res.statusCode ?? 0, (res.headers['x-served-by'] as string) ?? null, null));
      res.on('error', (e) => finish(false, 0, null, e.message));
    },
  );
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => finish(false, 0, null, e.message));
  req.end();
}

const start = Date.now();
const timer = setInterval(() => {
  if (Date.now() - start >= duration) {
    clearInterval(timer);
    setTimeout(() => {
      const text = lines.join('\n') + '\n';
      if (out) appendFileSync(out, text);
      else process.stdout.write(text);
    }, timeout + 50);
    return;
  }
  probe();
}, interval);
