// Master failover through the VIP, measured from the client's side: an HTTP probe with a new
// connection every 10 ms (daemons/http-probe.ts, run in the client node) while the active master
// is failed; the outage is the longest gap between successful probes around the fault.
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../lab/backends/backend.ts';
import { installDaemon } from '../../lab/stacks/node-files.ts';

const PROBE_ENTRY = fileURLToPath(new URL('../../lab/stacks/has/daemons/http-probe.ts', import.meta.url));

export interface ProbeRecord {
  t: number;
  ms: number;
  ok: boolean;
  status: number;
  server: string | null;
  err: string | null;
}

export interface Outage {
  /** Gap between the last success started before the outage and the first one after, ms (minus one interval). */
  gapMs: number;
  failed: number;
  total: number;
  lastOkBefore?: number;
  firstOkAfter?: number;
  servers: Record<string, number>;
}

/** The longest stretch without a successful probe at or after `from` (epoch ms). */
export function outage(records: ProbeRecord[], from: number, intervalMs: number): Outage {
  const rs = [...records].sort((a, b) => a.t - b.t);
  const oks = rs.filter((r) => r.ok).map((r) => r.t + r.ms);
  let best = { gap: 0, a: undefined as number | undefined, b: undefined as number | undefined };
  for (let i = 1; i < oks.length; i++) {
    if (oks[i]! < from) continue;
    const gap = oks[i]! - oks[i - 1]!;
    if (gap > best.gap) best = { gap, a: oks[i - 1], b: oks[i] };
  }
  const servers: Record<string, number> = {};
  for (const r of rs) if (r.ok && r.server) servers[r.server] = (servers[r.server] ?? 0) + 1;
  return {
    gapMs: Math.max(0, Math.round(best.gap - intervalMs)),
    failed: rs.filter((r) => !r.ok && r.t >= from - 1000).length,
    total: rs.length,
    lastOkBefore: best.a,
    firstOkAfter: best.b,
    servers,
  };
}

export interface ProbeOptions {
  lab: string;
  client: string;
  url: string;
  intervalMs?: number;
  durationMs: number;
  timeoutMs?: number;
}

/** Run the probe in the client node for durationMs; resolves with its records. */
export async function runProbe(backend: Backend, o: ProbeOptions): Promise<ProbeRecord[]> {
  const argv = await installDaemon(backend, o.lab, o.client, 'http-probe', PROBE_ENTRY);
  const r = await backend.exec(o.lab, o.client, [...argv, o.url, String(o.intervalMs ?? 10), String(o.durationMs), String(o.timeoutMs ?? 500)], {
    timeoutMs: o.durationMs + 30_000,
  });
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProbeRecord);
}

/**
 * Probe while `fault` runs `faultAfterMs` into the probe; returns the outage after the fault.
 * installDaemon runs first so the probe starts at once.
 */
export async function probeAround(
  backend: Backend,
  o: ProbeOptions,
  faultAfterMs: number,
  fault: () => Promise<void>,
): Promise<{ records: ProbeRecord[]; faultAt: number; outage: Outage }> {
  await installDaemon(backend, o.lab, o.client, 'http-probe', PROBE_ENTRY);
  let faultAt = 0;
  const [records] = await Promise.all([
    runProbe(backend, o),
    (async () => {
      await new Promise((r) => setTimeout(r, faultAfterMs));
      faultAt = Date.now();
      await fault();
    })(),
  ]);
  return { records, faultAt, outage: outage(records, faultAt, o.intervalMs ?? 10) };
}
