// Invariants over a run's history (pure functions):
//  - vipOverlaps: at most one VIP owner (VRRP MASTER) at any instant; every interval with two or
//    more owners is reported with its nodes and duration.
//  - servedByRemoved: no request is served by a node the balancer had removed (weight 0 or
//    unhealthy) when the request started, after a grace period (in-flight connections and the
//    kernel table's catch-up may legitimately lag the removal); judged by the balancer that was
//    forwarding at the time (vipHolderAt), when the run says which.
//  - loadSpread: how evenly the ok requests were spread over the healthy nodes.
import type { FaultRecord, LedgerEntry, RunEvent } from '../ledger.ts';
import { coefficientOfVariation } from './stats.ts';

export interface Overlap {
  start: number;
  end: number;
  durationMs: number;
  /** Every node that was MASTER at some moment of the interval. */
  nodes: string[];
}

const groupByTime = (events: RunEvent[]): RunEvent[][] => {
  const out: RunEvent[][] = [];
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    const last = out.at(-1);
    if (last && last[0]!.t === e.t) last.push(e);
    else out.push([e]);
  }
  return out;
};

/**
 * Intervals where two or more nodes were MASTER of the same VRRP instance at once, from
 * `{source:'vrrp', type:'state', node, data:{state, instance?}}` events. A node is owner from its
 * MASTER event until its next state event of any other state. Events with the same timestamp are
 * applied together (a handover at one instant is not an overlap). An instance given as
 * `undefined` checks every event; events without data.instance belong to every instance. An
 * overlap still open at the end lasts until `tEnd`. `source` names the daemon whose events say who
 * owns the IP (VRRP's states; the NMT agents' samples of the addresses they hold).
 */
export function vipOverlaps(events: RunEvent[], instance: string | undefined, tEnd: number, source = 'vrrp'): Overlap[] {
  const states = events.filter(
    (e) => e.source === source && e.type === 'state' && e.node && (instance === undefined || (e.data?.instance ?? instance) === instance),
  );
  const masters = new Set<string>();
  const out: Overlap[] = [];
  let open: { start: number; nodes: Set<string> } | undefined;
  for (const group of groupByTime(states)) {
    for (const e of group) {
      if (e.data?.state === 'MASTER') masters.add(e.node!);
      else masters.delete(e.node!);
    }
    const t = group[0]!.t;
    if (masters.size > 1) {
      if (!open) open = { start: t, nodes: new Set() };
      for (const m of masters) open.nodes.add(m);
    } else if (open) {
      out.push({ start: open.start, end: t, durationMs: t - open.start, nodes: [...open.nodes].sort() });
      open = undefined;
    }
  }
  if (open) {
    const end = Math.max(open.start, tEnd);
    out.push({ start: open.start, end, durationMs: end - open.start, nodes: [...open.nodes].sort() });
  }
  return out;
}

/** Nodes a fault killed, stopped or restarted, from the fault's start: they hold no address from then on. */
export function stoppedNodes(faults: FaultRecord[]): { t: number; node: string }[] {
  return faults.filter((f) => f.kind === 'node-kill' || f.kind === 'node-stop' || f.kind === 'node-restart').map((f) => ({ t: f.start, node: f.target }));
}

/**
 * The best record of who holds an instance's address: the `vip` events of vip-watch (the kernel's
 * address events, read in order by one process) when there are any, else keepalived's `vrrp`
 * notify events (each stamped by its own script, so quick flaps can come out of order).
 */
function ownershipSource(events: RunEvent[], instance: string): 'vip' | 'vrrp' {
  return events.some((e) => e.source === 'vip' && e.type === 'state' && e.data?.instance === instance) ? 'vip' : 'vrrp';
}

/**
 * VIP-owner overlaps of one instance from the best record the run has (ownershipSource). `downs`:
 * nodes killed or stopped, which hold nothing from that instant (they cannot say so).
 */
export function vipOwnerOverlaps(events: RunEvent[], downs: { t: number; node: string }[], instance: string, tEnd: number): { source: 'vip' | 'vrrp'; overlaps: Overlap[] } {
  const source = ownershipSource(events, instance);
  const down = downs.map((d): RunEvent => ({ t: d.t, node: d.node, source, type: 'state', data: { state: 'DOWN', instance } }));
  return { source, overlaps: vipOverlaps([...events, ...down], instance, tEnd, source) };
}

/**
 * Who held a floating address at an instant, from the same record vipOwnerOverlaps reads: the node
 * whose latest MASTER event came last among those still holding it (during an overlap, the newer
 * holder: its gratuitous ARP took the traffic). `downs`: nodes killed or stopped, which hold
 * nothing from then on.
 */
export function vipHolderAt(events: RunEvent[], downs: { t: number; node: string }[], instance: string): (t: number) => string | undefined {
  const source = ownershipSource(events, instance);
  const changes = [
    ...events
      .filter((e) => e.source === source && e.type === 'state' && e.node && (e.data?.instance ?? instance) === instance)
      .map((e) => ({ t: e.t, node: e.node!, master: e.data?.state === 'MASTER' })),
    ...downs.map((d) => ({ t: d.t, node: d.node, master: false })),
  ].sort((a, b) => a.t - b.t);
  // The holder after each change, precomputed: a lookup is then a binary search.
  const since = new Map<string, number>();
  const holders = changes.map((c) => {
    if (c.master) since.set(c.node, c.t);
    else since.delete(c.node);
    let best: string | undefined;
    for (const [n, t] of since) if (best === undefined || t > since.get(best)!) best = n;
    return { t: c.t, holder: best };
  });
  return (t: number) => {
    let lo = 0;
    let hi = holders.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (holders[mid]!.t <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : holders[lo - 1]!.holder;
  };
}

/** When a backend was out of the balancer's rotation. */
export interface RemovalInterval {
  server: string;
  start: number;
  /** Infinity: never put back. */
  end: number;
}

export interface RemovalOptions {
  /**
   * Reads a balancer event: which backend, and whether it is now removed (true), back (false),
   * or the event says nothing about it (undefined). Default: halab's traffic manager —
   * `{source:'balancer', type:'weight', data:{node, weight, healthy?}}` (removed ⇔ weight ≤ 0 or
   * healthy false) and `{source:'balancer', type:'health', data:{node, healthy}}`.
   */
  readEvent?: (e: RunEvent) => { server: string; removed: boolean } | undefined;
  /** Only events from this balancer node (the active master), default: all. */
  balancerNode?: string;
  /** Requests that started less than this after the removal are allowed (default 1000 ms). */
  graceMs?: number;
  /** Maps the ledger's X-Served-By to the backend names the balancer uses (default: identity). */
  serverName?: (servedBy: string) => string;
  /**
   * Which balancer node was forwarding at an instant (the VIP holder: vipHolderAt). Given, each
   * balancer's removals are tracked apart and a request is judged by the one active when it
   * started: the standby's traffic manager keeps its own, inert table (it may drop a node the
   * active one still serves, or miss a return while it was down). Without it, every balancer
   * event counts, as from one balancer.
   */
  activeBalancer?: (t: number) => string | undefined;
  /** Balancer nodes killed or stopped: their open removals end there (a restarted manager starts afresh). */
  downs?: { t: number; node: string }[];
}

export const readTrafficManagerEvent = (e: RunEvent): { server: string; removed: boolean } | undefined => {
  if (e.source !== 'balancer' || typeof e.data?.node !== 'string') return undefined;
  const server = e.data.node;
  if (e.type === 'weight' && typeof e.data.weight === 'number') return { server, removed: e.data.weight <= 0 || e.data.healthy === false };
  if (e.type === 'health' && typeof e.data.healthy === 'boolean') return { server, removed: !e.data.healthy };
  return undefined;
};

/** The intervals each backend spent removed, from the balancer's events. */
export function removalIntervals(events: RunEvent[], opts: RemovalOptions = {}): RemovalInterval[] {
  const read = opts.readEvent ?? readTrafficManagerEvent;
  const openSince = new Map<string, number>();
  const out: RemovalInterval[] = [];
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    if (opts.balancerNode !== undefined && e.node !== opts.balancerNode) continue;
    const r = read(e);
    if (!r) continue;
    const since = openSince.get(r.server);
    if (r.removed && since === undefined) openSince.set(r.server, e.t);
    if (!r.removed && since !== undefined) {
      out.push({ server: r.server, start: since, end: e.t });
      openSince.delete(r.server);
    }
  }
  for (const [server, start] of openSince) out.push({ server, start, end: Infinity });
  return out.sort((a, b) => a.start - b.start);
}

export interface ServedByRemoved {
  request: LedgerEntry;
  removal: RemovalInterval;
  /** How long after the removal the request started. */
  sinceRemovalMs: number;
}

/** One balancer node's removals; its open ones end when the node goes down. */
function balancerRemovals(events: RunEvent[], node: string, opts: RemovalOptions): RemovalInterval[] {
  const downs = (opts.downs ?? []).filter((d) => d.node === node).map((d) => d.t);
  return removalIntervals(events, { ...opts, balancerNode: node }).map((x) => {
    const down = downs.find((t) => t >= x.start && t < x.end);
    return down === undefined ? x : { ...x, end: down };
  });
}

/** Ok requests served by a backend that had been removed (beyond the grace) when they started. */
export function servedByRemoved(ledger: LedgerEntry[], events: RunEvent[], opts: RemovalOptions = {}): ServedByRemoved[] {
  const grace = opts.graceMs ?? 1000;
  const name = opts.serverName ?? ((s: string) => s);
  const active = opts.activeBalancer;
  const removals = active ? undefined : removalIntervals(events, opts);
  const byBalancer = new Map<string, RemovalInterval[]>();
  const removalsAt = (t: number): RemovalInterval[] => {
    if (removals) return removals;
    const b = active!(t);
    if (b === undefined) return [];
    if (!byBalancer.has(b)) byBalancer.set(b, balancerRemovals(events, b, opts));
    return byBalancer.get(b)!;
  };
  const out: ServedByRemoved[] = [];
  for (const r of ledger) {
    if (r.outcome !== 'ok' || !r.server) continue;
    const s = name(r.server);
    const hit = removalsAt(r.start).find((x) => x.server === s && r.start >= x.start + grace && r.start < x.end);
    if (hit) out.push({ request: r, removal: hit, sinceRemovalMs: r.start - hit.start });
  }
  return out;
}

export interface LoadSpread {
  /** ok requests per server (healthy servers with none are listed with 0). */
  counts: Record<string, number>;
  /** Each server's share of the ok requests. */
  shares: Record<string, number>;
  /** Coefficient of variation of the counts (population SD / mean); 0 = perfectly even. */
  cv: number;
  /** Largest count / smallest count (Infinity when a healthy server got nothing). */
  maxMinRatio: number;
}

/**
 * Spread of the ok requests over servers, optionally restricted to requests that started in
 * [from, to) and to the `healthy` servers (which are all listed, even with 0 requests).
 */
export function loadSpread(ledger: LedgerEntry[], opts: { healthy?: string[]; from?: number; to?: number } = {}): LoadSpread {
  const counts: Record<string, number> = {};
  for (const h of opts.healthy ?? []) counts[h] = 0;
  for (const r of ledger) {
    if (r.outcome !== 'ok' || !r.server) continue;
    if (opts.from !== undefined && r.start < opts.from) continue;
    if (opts.to !== undefined && r.start >= opts.to) continue;
    if (opts.healthy && !opts.healthy.includes(r.server)) continue;
    counts[r.server] = (counts[r.server] ?? 0) + 1;
  }
  const values = Object.values(counts);
  const total = values.reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, total ? v / total : NaN]));
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { counts, shares, cv: coefficientOfVariation(values), maxMinRatio: values.length ? (min === 0 ? (max === 0 ? NaN : Infinity) : max / min) : NaN };
}
