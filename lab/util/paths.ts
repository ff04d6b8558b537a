// Where halab keeps per-lab state (plans, fault journals, daemon logs) and run directories.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function stateRoot(): string {
  if (process.env.HALAB_STATE_DIR) return resolve(process.env.HALAB_STATE_DIR);
  if (process.getuid?.() === 0) return '/var/lib/halab';
  return join(homedir(), '.local', 'state', 'halab');
}

export function labStateDir(lab: string): string {
  return join(stateRoot(), 'labs', lab);
}

/** Run directories (ledgers, events, reports) live under ./runs unless HALAB_RUNS_DIR says otherwise. */
export function runsRoot(): string {
  return resolve(process.env.HALAB_RUNS_DIR ?? 'runs');
}

/** The project root (where package.json, images/, topologies/ are). */
export const projectRoot = resolve(new URL('../..', import.meta.url).pathname);
