// Per-trial figures of the NMT recovery benchmark, from the run's records (pure):
//   detection = the monitor's decision − the fault        (the paper's "deterministic time")
//   migration = first ok answer from the new server − the decision
//   response  = first ok answer from the new server − the fault  (= detection + migration, exactly)
// "New server" is the decision's target: a late answer from the old primary does not count.
import type { RunEvent } from '../ledger.ts';
import { vipOverlaps, type Overlap } from '../checkers/invariants.ts';

export interface ProbeLine {
  t: number;
  service: string;
  ok: boolean;
  server?: string;
  error?: string;
}

export interface TrialTarget {
  service: string;
  /** When the fault was applied (ms, host clock = node clocks). */
  faultAt: number;
  /** The primary that was hit. */
  from: string;
}

export interface TrialFigures {
  service: string;
  detectionMs: number | null;
  migrationMs: number | null;
  responseMs: number | null;
  to: string | null;
}

export function trialFigures(target: TrialTarget, events: RunEvent[], probes: ProbeLine[]): TrialFigures {
  const decision = events
    .filter((e) => e.source === 'nmt' && e.type === 'decision' && e.data?.service === target.service && e.data?.from === target.from && e.t >= target.faultAt)
    .sort((a, b) => a.t - b.t)[0];
  if (!decision) return { service: target.service, detectionMs: null, migrationMs: null, responseMs: null, to: null };
  const to = String(decision.data!.to);
  const answer = probes
    .filter((p) => p.service === target.service && p.ok && p.server === to && p.t >= decision.t)
    .sort((a, b) => a.t - b.t)[0];
  const detectionMs = decision.t - target.faultAt;
  return {
    service: target.service,
    detectionMs,
    migrationMs: answer ? answer.t - decision.t : null,
    responseMs: answer ? answer.t - target.faultAt : null,
    to,
  };
}

/** Intervals with two owners of a service IP, from the agents' samples (source 'nmt'). */
export function ownerOverlaps(events: RunEvent[], ip: string, tEnd: number): Overlap[] {
  return vipOverlaps(events, ip, tEnd, 'nmt');
}

/**
 * A killed node cannot log that it lost its addresses (its network namespace went with it): the
 * harness adds that sample at the kill instant so the owner history stays true.
 */
export function killedOwnership(node: string, t: number, ips: string[]): RunEvent[] {
  return ips.map((ip) => ({ t, node, source: 'nmt', type: 'state', data: { instance: ip, state: 'BACKUP', note: 'node killed' } }));
}
