// One failover trial seen from the client: the open-loop load generator (a new connection per
// request, every intervalMs) runs in the client node while `fault` acts `leadMs` after its first
// request; the ledger comes back and the failover checker reads it. Used by the has-failover
// benchmark and by the HAS integration tests (one probe, one checker, no second copy).
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../lab/backends/backend.ts';
import { installDaemon } from '../../lab/stacks/node-files.ts';
import { failoverOf, type FailoverOptions, type FailoverResult } from '../checkers/failover.ts';
import { readJsonl, type FaultRecord, type LedgerEntry } from '../ledger.ts';
import { runLoadInNode, type LoadRun } from '../load/run.ts';

const GENERATOR = fileURLToPath(new URL('../load/generator.ts', import.meta.url));
const NODE_LEDGER = '/tmp/halab-failover-ledger.jsonl';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProbeWindow {
  /** Node the probe runs in. */
  client: string;
  /** Base URL, e.g. http://198.18.20.100 (explicit origin, no path). */
  origin: string;
  /** Paths requested (uniformly, seeded). */
  paths: string[];
  intervalMs?: number;
  timeoutMs?: number;
  /** Probe time before the fault acts (from the probe's first request). */
  leadMs: number;
  /** Whole probe duration (bounded; the generator stops by itself). */
  seconds: number;
  /** Keep the ledger here on the host (default: a temporary file, removed). */
  ledgerFile?: string;
}

export interface ProbedTrial {
  ledger: LedgerEntry[];
  /** The fault's records (from `fault`), or one synthetic record at the moment it was called. */
  faults: FaultRecord[];
  load: LoadRun;
}

/**
 * Run the probe, call `fault` leadMs after its first request, wait for the probe to end. `fault`
 * may return the fault records it made (their start times are the fault's); otherwise the call's
 * own time is the fault's start.
 */
export async function probeAroundFault(
  backend: Backend,
  lab: string,
  w: ProbeWindow,
  fault: () => Promise<FaultRecord[] | void>,
): Promise<ProbedTrial> {
  const interval = w.intervalMs ?? 10;
  await installDaemon(backend, lab, w.client, 'loadgen', GENERATOR); // so the probe starts at once
  await backend.exec(lab, w.client, ['rm', '-f', NODE_LEDGER]);
  const tmp = w.ledgerFile ? undefined : mkdtempSync(join(tmpdir(), 'halab-probe-'));
  const ledgerFile = w.ledgerFile ?? join(tmp!, 'ledger.jsonl');
  let stop = false;
  const probe = runLoadInNode(
    backend,
    lab,
    w.client,
    {
      mode: 'open',
      httpUrl: w.origin,
      paths: w.paths,
      rate: 1000 / interval,
      keepAlive: false,
      timeoutMs: w.timeoutMs ?? 300,
      durationSeconds: w.seconds,
      warmupSeconds: 0,
      maxRequests: Math.ceil((w.seconds * 1000) / interval) + 10,
      ledgerPath: NODE_LEDGER,
    },
    { ledgerFile },
  ).finally(() => (stop = true));
  const faulted = (async (): Promise<FaultRecord[]> => {
    // The fault's lead counts from the probe's first request, however slow the exec starts: read
    // the node's ledger through /proc/<pid>/root when the node is a local container (instant),
    // else (and meanwhile) ask the node.
    const pid = (await backend.inspect(lab, w.client).catch(() => undefined))?.pid;
    const local = pid ? `/proc/${pid}/root${NODE_LEDGER}` : undefined;
    let asked: Promise<boolean> | undefined;
    let seen = false;
    while (!seen) {
      if (stop) throw new Error(`${lab}/${w.client}: the probe ended before its first request was written`);
      if (local && existsSync(local) && statSync(local).size > 0) break;
      asked ??= backend
        .exec(lab, w.client, ['sh', '-c', `test -s ${NODE_LEDGER}`], { check: false })
        .then((r) => r.exitCode === 0)
        .finally(() => (asked = undefined));
      seen = await Promise.race([asked, sleep(20).then(() => false)]);
    }
    await sleep(w.leadMs);
    const t = Date.now();
    const recs = await fault();
    return recs && recs.length ? recs : [{ id: 'fault', kind: 'call', target: '', start: t }];
  })();
  try {
    // Both settle before anything is thrown: a fault is never left half-done behind a failed probe.
    const [load, faults] = await Promise.allSettled([probe, faulted]);
    if (load.status === 'rejected') throw load.reason;
    if (faults.status === 'rejected') throw faults.reason;
    return { ledger: readJsonl<LedgerEntry>(ledgerFile), faults: faults.value, load: load.value };
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The failover checker over one probed trial: the earliest fault, observed until the probe's end. */
export function trialFailover(t: Pick<ProbedTrial, 'ledger' | 'faults'>, events: Parameters<typeof failoverOf>[2] = [], opts: FailoverOptions = {}): FailoverResult {
  const first = [...t.faults].sort((a, b) => a.start - b.start)[0]!;
  const end = Math.max(...t.faults.map((f) => f.end ?? -Infinity));
  // Several targets of one trial (both NICs of a node) are one fault, lifted when the last is.
  const fault: FaultRecord = { ...first, ...(Number.isFinite(end) ? { end } : {}) };
  return failoverOf(t.ledger, fault, events, opts);
}
