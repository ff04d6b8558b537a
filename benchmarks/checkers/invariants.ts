// Invariants over daemon events: at most one holder of the VIP at any instant.
import type { RunEvent } from '../ledger.ts';

export interface Overlap {
  start: number;
  end: number;
  nodes: string[];
}

/** Intervals where two or more nodes were MASTER of the same VRRP instance at once. */
export function vipOverlaps(events: RunEvent[], instance: string, tEnd: number): Overlap[] {
  const states = events
    .filter((e) => e.source === 'vrrp' && e.type === 'state' && e.node && (e.data?.instance ?? instance) === instance)
    .sort((a, b) => a.t - b.t);
  const masters = new Set<string>();
  const out: Overlap[] = [];
  let since: number | undefined;
  for (const e of states) {
    if (e.data?.state === 'MASTER') masters.add(e.node!);
    else masters.delete(e.node!);
    if (masters.size > 1 && since === undefined) since = e.t;
    if (masters.size <= 1 && since !== undefined) {
      out.push({ start: since, end: e.t, nodes: [] });
      since = undefined;
    }
  }
  if (since !== undefined) out.push({ start: since, end: tEnd, nodes: [...masters] });
  return out;
}
