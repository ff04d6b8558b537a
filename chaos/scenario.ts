// Scenario files: topology + workload + timeline of faults + thresholds. Errors are FILE:LINE:COL.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseForChecking, reportUnknownKeys, suggest, type FieldPath } from '../lab/topology/yaml-positions.ts';
import { TopologyError } from '../lab/topology/types.ts';
import { FAULT_KINDS } from './faults/index.ts';
import { parseThreshold, type Threshold } from './thresholds.ts';

export interface TimelineEntry {
  /** Seconds after the workload starts. */
  at: number;
  fault: string;
  /** node, node:NIC, glob (web-*), master:active, random:<glob> */
  target: string;
  /** Seconds until the fault is rolled back (0: leave until the end). */
  duration: number;
  repeat: number;
  /** Seconds between repeats. */
  every: number;
  params: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  file: string;
  topology: string;
  workload: { url: string; intervalMs: number; timeoutMs: number };
  /** Total seconds the workload runs. */
  duration: number;
  timeline: TimelineEntry[];
  thresholds: Threshold[];
  seed: number;
}

const TOP = ['name', 'topology', 'workload', 'duration', 'timeline', 'thresholds', 'seed'];
const WORKLOAD = ['url', 'interval_ms', 'timeout_ms'];
const ENTRY = ['at', 'fault', 'target', 'duration', 'repeat', 'every', 'params'];

export function loadScenario(file: string): Scenario {
  const text = readFileSync(file, 'utf8');
  const { doc, problems, report, sorted } = parseForChecking(text, file);
  if (problems.length) throw new TopologyError(sorted());
  const raw = doc.toJS() as Record<string, unknown>;
  const keys = (o: unknown, allowed: string[], path: FieldPath) => reportUnknownKeys(o, allowed, path, report);
  const num = (v: unknown, path: FieldPath, dflt: number, min = 0): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !(v >= min)) {
      report(path, `must be a number ≥ ${min}`);
      return dflt;
    }
    return v;
  };
  keys(raw, TOP, []);
  const name = typeof raw.name === 'string' ? raw.name : (report(['name'], 'missing or not a string'), '');
  let topology = '';
  if (typeof raw.topology !== 'string') report(['topology'], 'must name a topology file (relative to the scenario)');
  else topology = resolve(dirname(file), raw.topology);
  const w = (raw.workload ?? {}) as Record<string, unknown>;
  keys(w, WORKLOAD, ['workload']);
  if (typeof w.url !== 'string') report(['workload', 'url'], "must be a URL; '{vip}' is replaced by the lab's VIP");
  const workload = { url: String(w.url ?? ''), intervalMs: num(w.interval_ms, ['workload', 'interval_ms'], 10, 1), timeoutMs: num(w.timeout_ms, ['workload', 'timeout_ms'], 300, 1) };
  const duration = num(raw.duration, ['duration'], 20, 1);
  const timeline: TimelineEntry[] = [];
  if (!Array.isArray(raw.timeline)) report(['timeline'], 'must be a list of faults');
  else
    raw.timeline.forEach((e: Record<string, unknown>, i: number) => {
      const p: FieldPath = ['timeline', i];
      keys(e, ENTRY, p);
      const fault = String(e.fault ?? '');
      if (!FAULT_KINDS[fault]) {
        const s = suggest(fault, Object.keys(FAULT_KINDS));
        report([...p, 'fault'], `unknown fault '${fault}'${s ? ` (did you mean '${s}'?)` : ''}; faults: ${Object.keys(FAULT_KINDS).join(', ')}`);
      }
      if (typeof e.target !== 'string') report([...p, 'target'], 'must be a node, NODE:NIC, a glob (web-*), master:active, or a seeded pick (one:, minority:, majority:, all:, N%: before a glob)');
      const entry: TimelineEntry = {
        at: num(e.at, [...p, 'at'], 0),
        fault,
        target: String(e.target ?? ''),
        duration: num(e.duration, [...p, 'duration'], 0),
        repeat: num(e.repeat, [...p, 'repeat'], 1, 1),
        every: num(e.every, [...p, 'every'], 0),
        params: (e.params as Record<string, unknown>) ?? {},
      };
      if (entry.repeat > 1 && entry.every <= entry.duration) report([...p, 'every'], `must be longer than duration (${entry.duration} s) when repeating`);
      const last = entry.at + (entry.repeat - 1) * entry.every + entry.duration;
      if (last > duration) report([...p, 'at'], `the fault's last window ends at ${last} s, after the workload's end (duration: ${duration} s)`);
      timeline.push(entry);
    });
  const thresholds: Threshold[] = [];
  if (raw.thresholds !== undefined && !Array.isArray(raw.thresholds)) report(['thresholds'], "must be a list like ['failover_ms.p95 < 200']");
  else
    ((raw.thresholds as unknown[]) ?? []).forEach((t, i) => {
      try {
        thresholds.push(parseThreshold(String(t)));
      } catch (err) {
        report(['thresholds', i], (err as Error).message);
      }
    });
  const seed = num(raw.seed, ['seed'], 1);
  if (problems.length) throw new TopologyError(sorted());
  return { name, file, topology, workload, duration, timeline, thresholds, seed };
}

/** One concrete fault of the plan (repeats expanded). */
export interface PlannedFault {
  id: string;
  at: number;
  until: number | null;
  fault: string;
  target: string;
  params: Record<string, unknown>;
}

export function expandTimeline(s: Scenario): PlannedFault[] {
  const out: PlannedFault[] = [];
  s.timeline.forEach((e, i) => {
    for (let r = 0; r < e.repeat; r++) {
      const at = e.at + r * e.every;
      out.push({ id: `f${i}r${r}`, at, until: e.duration > 0 ? at + e.duration : null, fault: e.fault, target: e.target, params: e.params });
    }
  });
  return out.sort((a, b) => a.at - b.at);
}
