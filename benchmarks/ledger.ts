// Records of a run directory (one JSON object per line). Times are epoch milliseconds from the
// one host clock that every container shares, so ledger, events and faults line up.
import { existsSync, readFileSync } from 'node:fs';

export interface LedgerEntry {
  id: number;
  client?: string;
  start: number;
  end: number;
  outcome: 'ok' | 'http_error' | 'timeout' | 'reset' | 'refused' | 'error';
  status?: number;
  bytes?: number;
  /** The X-Served-By header: which traffic node answered. */
  server?: string;
  target?: string;
}

export interface RunEvent {
  t: number;
  node?: string;
  source: string;
  type: string;
  data?: Record<string, unknown>;
}

export interface FaultRecord {
  id: string;
  kind: string;
  target: string;
  start: number;
  end?: number;
  params?: Record<string, unknown>;
  evidence?: Record<string, unknown>;
}

export function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  const out: T[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a line cut short by a crash */
    }
  }
  return out;
}
