// The real clients, run in the client node during a benchmark or test: one request of each
// service's protocol every `intervalMs` (open loop: a request that hangs does not delay the next),
// and a line in /var/log/halab/nmt-probe.jsonl whenever a service's outcome or answering server
// changes: { t (completion, ms), service, ok, server | error }. Response time = fault → the first
// ok line from the new server.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { check, type ServiceKind } from './clients.ts';

interface ProbeSpec {
  targets: { service: ServiceKind; ip: string }[];
  intervalMs: number;
  timeoutMs: number;
}

const spec = JSON.parse(readFileSync(process.argv[2] ?? '/etc/nmt/probe.json', 'utf8')) as ProbeSpec;
const OUT = '/var/log/halab/nmt-probe.jsonl';
mkdirSync('/var/log/halab', { recursive: true });

for (const { service, ip } of spec.targets) {
  let last = '';
  let inFlight = 0;
  setInterval(() => {
    if (inFlight > 50) return; // bounded: a dead IP must not pile up sockets
    inFlight++;
    check(service, ip, spec.timeoutMs).then(
      (server) => record(true, server, undefined),
      (e: Error) => record(false, undefined, (e as { code?: string }).code ?? e.message),
    );
    function record(ok: boolean, server: string | undefined, error: string | undefined): void {
      inFlight--;
      const key = ok ? `ok ${server}` : 'fail';
      if (key === last) return;
      last = key;
      appendFileSync(OUT, JSON.stringify({ t: Date.now(), service, ok, server, error }) + '\n');
    }
  }, spec.intervalMs);
}
