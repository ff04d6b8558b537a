// Records of a run directory, one JSON object per line (JSON Lines):
//   ledger.jsonl  LedgerEntry  one per client request (the load generator / probe writes it)
//   events.jsonl  RunEvent     daemon events gathered from the nodes (vrrp, balancer, erd, nic …)
//   faults.jsonl  FaultRecord  what the nemesis did, and when
// Times: milliseconds on ONE clock shared by every record of a run, so ledger, events and faults
// line up. In halab that is the host's clock (Date.now(), epoch ms), which all containers share;
// the checkers only ever subtract times of the same run, so any common clock works.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export type Outcome = 'ok' | 'http_error' | 'timeout' | 'reset' | 'refused' | 'error';
export const OUTCOMES: readonly Outcome[] = ['ok', 'http_error', 'timeout', 'reset', 'refused', 'error'];

/** One client request. */
export interface LedgerEntry {
  id: number;
  client?: string;
  /** When the request was sent (ms, the run's clock). */
  start: number;
  /** When it completed or was given up (ms, the run's clock). */
  end: number;
  outcome: Outcome;
  /** HTTP status, when a response came. */
  status?: number;
  bytes?: number;
  /** The X-Served-By header: which traffic node answered. */
  server?: string;
  /** What was asked for (URL or address). */
  target?: string;
}

/** One daemon event. */
export interface RunEvent {
  /** ms, the run's clock */
  t: number;
  /** The node the event happened on (for 'balancer' events: the master running the balancer). */
  node?: string;
  /** 'vrrp' | 'balancer' | 'nic' | 'nemesis' | 'erd' | … */
  source: string;
  /** e.g. 'state', 'weight', 'health', 'link', 'fault-start', 'fault-end' */
  type: string;
  data?: Record<string, unknown>;
}

/** One injected fault. */
export interface FaultRecord {
  id: string;
  kind: string;
  target: string;
  /** ms, the run's clock */
  start: number;
  /** When the fault was lifted (absent: never, or not yet). */
  end?: number;
  params?: Record<string, unknown>;
  /** What the nemesis saw when it verified the fault took effect. */
  evidence?: Record<string, unknown>;
}

/** lab-plan.json: the lab as planned (nodes, NICs, addresses), so the report can draw the topology. */
export const RUN_FILES = { ledger: 'ledger.jsonl', events: 'events.jsonl', faults: 'faults.jsonl', labPlan: 'lab-plan.json' } as const;

/** Parse JSON Lines text; blank lines and a line cut short (a crash mid-write) are skipped. */
export function parseJsonl<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a line cut short by a crash */
    }
  }
  return out;
}

/** Every record of a JSON Lines file ([] when the file does not exist). */
export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return parseJsonl<T>(readFileSync(file, 'utf8'));
}

/** Append records to a JSON Lines file (creating it and its directory), one synchronous write. */
export function appendJsonl<T>(file: string, ...records: T[]): void {
  if (!records.length) return;
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

/**
 * Buffered JSON Lines writer for hot paths (a probe logging every 5 ms): records are kept in
 * memory and written when `maxBuffered` are waiting or `flushMs` has passed since the first one,
 * and on flush()/close(). Writes are synchronous appends, so a crash loses at most one buffer and
 * never leaves a record half in memory, half on disk.
 */
export class JsonlWriter<T = unknown> {
  private fd: number;
  private buf: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly file: string;
  private readonly maxBuffered: number;
  private readonly flushMs: number;

  constructor(file: string, opts: { maxBuffered?: number; flushMs?: number } = {}) {
    this.file = file;
    this.maxBuffered = opts.maxBuffered ?? 256;
    this.flushMs = opts.flushMs ?? 200;
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(file, 'a');
  }

  write(record: T): void {
    if (this.closed) throw new Error(`JsonlWriter(${this.file}): write after close`);
    this.buf.push(JSON.stringify(record));
    if (this.buf.length >= this.maxBuffered) this.flush();
    else if (!this.timer && this.flushMs > 0) {
      this.timer = setTimeout(() => this.flush(), this.flushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.buf.length || this.closed) return;
    const text = this.buf.join('\n') + '\n';
    this.buf = [];
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}
