// The cluster monitor's decisions (paper 001 §recovery procedure), pure so they are unit-tested:
//  - assess: one host's ping + status answer → ok | down (transient: no ping) | overload
//    (the paper's heuristic: ping first, then the load; two status RPCs in a row that time out count too);
//  - chooseSecondary: step 3, a new secondary from the scheduling table — an alive, not overloaded
//    host, preferably "not currently designated as either a primary or a secondary host of any
//    service", in table order;
//  - plan: what to do this tick — migrate services whose primary failed (to the secondary, or to a
//    chosen host when the secondary is gone too), replace failed secondaries, and fence a host
//    that holds a service IP the placement gives to another host (a primary that came back).
import type { ServiceName } from './config.ts';

export type Health = 'ok' | 'down' | 'overload';

export interface StatusReply {
  node: string;
  /** CPU use over the agent's window, fraction of the node's cap. */
  cpu: number;
  /** Services this host runs: active (serving, holds the IP) or standby (asleep). */
  services: Partial<Record<ServiceName, 'active' | 'standby'>>;
}

export interface ProbeResult {
  node: string;
  ping: boolean;
  /** The agent's status, or 'timeout' when it did not answer in time. */
  status: StatusReply | 'timeout';
}

/**
 * `statusMisses` = how many ticks in a row (this one included) the host answered its ping but not
 * its status: one miss is not yet an overload (on a busy machine a reply can be late), two are.
 */
export function assess(p: ProbeResult, overloadCpu: number, statusMisses = 2): Health {
  if (!p.ping) return 'down';
  if (p.status === 'timeout') return statusMisses >= 2 ? 'overload' : 'ok';
  return p.status.cpu >= overloadCpu ? 'overload' : 'ok';
}

/** What a probe saw, in words (why a host was not judged ok; reports and /state). */
export function probeSummary(p: ProbeResult, statusMisses: number): string {
  if (!p.ping) return 'no ping';
  return p.status === 'timeout' ? `no status (${statusMisses} in a row)` : `cpu ${p.status.cpu}`;
}

export interface Assignment {
  primary: string;
  secondary: string | null;
}
export type Placement = Partial<Record<ServiceName, Assignment>>;

/** How many roles (primary or secondary of any service) a host has. */
export function designations(placement: Placement, host: string): number {
  return Object.values(placement).reduce((n, a) => n + (a?.primary === host ? 1 : 0) + (a?.secondary === host ? 1 : 0), 0);
}

/**
 * Step 3: the first host of the table that is healthy, is not the service's primary, and has the
 * fewest designations (0 = "not currently designated", the paper's preference); null if none.
 */
export function chooseSecondary(table: readonly string[], placement: Placement, service: ServiceName, health: Record<string, Health>): string | null {
  const primary = placement[service]?.primary;
  let best: string | null = null;
  let bestN = Infinity;
  for (const h of table) {
    if (h === primary || health[h] !== 'ok') continue;
    const n = designations(placement, h) - (placement[service]?.secondary === h ? 1 : 0);
    if (n < bestN) [best, bestN] = [h, n];
  }
  return best;
}

export type Action =
  /** Steps 1–2: release the service on `from` (when reachable), wake it on `to`. */
  | { type: 'migrate'; service: ServiceName; from: string; to: string; cause: 'down' | 'overload'; release: boolean; coldStart: boolean }
  /** Steps 3–4: create a sleeping standby on `host` (primary `primary`). */
  | { type: 'standby'; service: ServiceName; host: string; primary: string }
  /** A host runs a service (or holds a standby) the placement gives to someone else: shut it down there. */
  | { type: 'fence'; service: ServiceName; host: string }
  /** The placement's primary answers but does not run the service (a wake that failed): wake it again. */
  | { type: 'wake'; service: ServiceName; host: string };

/**
 * One tick of the monitor. `health` covers every host probed this tick; `running` is what each
 * answering host reports it runs. Returns the actions and the placement after them. The
 * monitor's own service is skipped when `self` is its primary (it cannot judge itself).
 */
export function plan(
  table: readonly string[],
  placement: Placement,
  health: Record<string, Health>,
  running: Record<string, StatusReply['services']>,
  self: string,
): { actions: Action[]; placement: Placement } {
  const next: Placement = structuredClone(placement);
  const actions: Action[] = [];
  // Not in the paper: when most hosts look failed at once, the monitor itself is the likelier
  // problem (cut off, or starved of CPU): moving everything onto the few "healthy" hosts would be
  // worse than waiting a tick.
  const judged = Object.values(health);
  if (judged.filter((h) => h !== 'ok').length * 2 > judged.length) return { actions, placement: next };
  const services = Object.keys(next) as ServiceName[];
  for (const service of services) {
    const a = next[service]!;
    const h = health[a.primary];
    if (a.primary === self || h === undefined || h === 'ok') continue;
    const secondaryOk = a.secondary !== null && health[a.secondary] === 'ok';
    const to = secondaryOk ? a.secondary! : chooseSecondary(table, next, service, health);
    if (!to) continue; // nowhere to go: try again next tick
    actions.push({ type: 'migrate', service, from: a.primary, to, cause: h, release: h === 'overload', coldStart: !secondaryOk });
    next[service] = { primary: to, secondary: null };
  }
  for (const service of services) {
    const a = next[service]!;
    if (a.secondary !== null && health[a.secondary] !== undefined && health[a.secondary] !== 'ok') a.secondary = null;
    if (a.secondary === null) {
      const s = chooseSecondary(table, next, service, health);
      if (s) {
        a.secondary = s;
        actions.push({ type: 'standby', service, host: s, primary: a.primary });
      }
    }
  }
  // Repair: the placement is what should run; an answering host's report is what does. A primary
  // whose wake failed (an NFS copy that timed out on a busy host, say) or a secondary whose
  // standby is gone (a host restarted) would otherwise stay broken for good.
  for (const service of services) {
    const a = next[service]!;
    const busy = (host: string) => actions.some((x) => x.service === service && ('host' in x ? x.host : x.to) === host);
    if (a.primary !== self && health[a.primary] === 'ok' && running[a.primary] && running[a.primary]![service] !== 'active' && !busy(a.primary)) {
      actions.push({ type: 'wake', service, host: a.primary });
    }
    if (a.secondary !== null && health[a.secondary] === 'ok' && running[a.secondary] && running[a.secondary]![service] !== 'standby' && !busy(a.secondary)) {
      actions.push({ type: 'standby', service, host: a.secondary, primary: a.primary });
    }
  }
  // Fencing: an answering host that runs a service actively though it is not its primary.
  for (const [host, svcs] of Object.entries(running)) {
    for (const [service, state] of Object.entries(svcs) as [ServiceName, string][]) {
      const a = next[service];
      if (state === 'active' && a && a.primary !== host && !actions.some((x) => x.type === 'migrate' && x.service === service && x.from === host)) {
        actions.push({ type: 'fence', service, host });
      }
      // A standby the placement no longer names (its host was replaced as secondary while slow to
      // answer): it must go, or it could wake as a second owner later (the monitor's standby does).
      if (state === 'standby' && a && a.primary !== host && a.secondary !== host && !actions.some((x) => x.service === service && ('host' in x ? x.host : x.to) === host)) {
        actions.push({ type: 'fence', service, host });
      }
    }
  }
  return { actions, placement: next };
}
