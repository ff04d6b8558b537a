// The fault journal: every fault's exact inverse is written to the lab's state dir BEFORE the
// fault is applied, so a rollback works after Ctrl-C, an exception or a SIGKILL of the harness
// (`halab heal`, `halab down`). Inverses are data; undoing one twice is harmless.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labStateDir } from '../lab/util/paths.ts';

/** Serialisable undo actions (resolved against the lab's nodes when undone). */
export type Inverse =
  | { type: 'nft-delete-table'; node: string; family: 'inet' | 'netdev'; table: string }
  | { type: 'link-up'; node: string; ifname: string }
  | { type: 'node-start'; node: string }
  | { type: 'node-resume'; node: string }
  | { type: 'exec'; node: string; cmd: string[]; note: string }
  /** Commands in the node's network namespace from the host (tc, ip): each tried, errors ignored. */
  | { type: 'netns'; node: string; cmds: string[][]; note: string }
  /** A toxic of the Toxiproxy-compatible proxy inside a node, removed through its HTTP API. */
  | { type: 'toxic-remove'; node: string; api: string; proxy: string; toxic: string }
  /** Several inverses, undone in this order. */
  | { type: 'steps'; steps: Inverse[] }
  | { type: 'none' };

export interface JournalEntry {
  id: string;
  kind: string;
  target: string;
  t: number;
  inverse: Inverse;
  state: 'pending' | 'undone';
}

export const journalFile = (lab: string) => join(labStateDir(lab), 'faults.journal.jsonl');

export function recordPending(lab: string, e: Omit<JournalEntry, 'state' | 't'>): void {
  mkdirSync(labStateDir(lab), { recursive: true });
  appendFileSync(journalFile(lab), JSON.stringify({ ...e, t: Date.now(), state: 'pending' }) + '\n');
}

export function recordUndone(lab: string, id: string): void {
  appendFileSync(journalFile(lab), JSON.stringify({ id, state: 'undone', t: Date.now() }) + '\n');
}

/** Faults applied and not yet rolled back, newest first (undo in reverse order). */
export function openFaults(lab: string): JournalEntry[] {
  const file = journalFile(lab);
  if (!existsSync(file)) return [];
  const byId = new Map<string, JournalEntry>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let e: Partial<JournalEntry> & { id: string };
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a line cut by a crash mid-write
    }
    if (e.state === 'undone') byId.delete(e.id);
    else byId.set(e.id, e as JournalEntry);
  }
  return [...byId.values()].reverse();
}
