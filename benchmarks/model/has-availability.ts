// The HAS / HA-OSCAR availability model (003 §4.9, pp.154–161), rebuilt as continuous-time Markov
// chains from Table 14's parameters and solved for the steady state.
//
// The thesis shows the SRN only as an image (Figure 94), so the net is reconstructed: this is
// chain R1 of TARGETS.md §A.6 (client sub-model with the quorum acting as a guard on client
// failures), which reproduces Table 15 to ≤ 3×10⁻¹⁰ — an inference, not the thesis's own net.
// Server and LAN sub-models (primary/standby, takeover, immediate fail-back, independent repair)
// are the "natural" ones of §A.6; multiplied in they do NOT match Table 15 (≈ 0.99993020): the
// published figure evidently leaves them out. Both figures are reported, labelled.
//
// Units: hours throughout (rates in h⁻¹). Downtime = (1 − A) × 525,600 minutes (a 365-day year),
// which is the unit of Table 15's "Mean cluster down time" (TARGETS §A.3 item 18).
import { autoMethod, exploreChain, residual, steadyState, type Ctmc, type SteadyStateMethod } from './ctmc.ts';

/** Mean times of Table 14, each in the unit the table prints it in (the name says which). */
export interface HasParams {
  /** 1/λ_ps */ primaryServerMttfH: number;
  /** 1/μ_psr */ primaryServerRepairH: number;
  /** 1/μ_st */ serverTakeoverS: number;
  /** 1/λ_ss */ standbyServerMttfH: number;
  /** 1/μ_ssr */ standbyServerRepairH: number;
  /** 1/λ_pl */ primaryLanMttfH: number;
  /** 1/μ_plr */ primaryLanRepairH: number;
  /** 1/μ_lt */ lanTakeoverS: number;
  /** 1/λ_sl */ standbyLanMttfH: number;
  /** 1/μ_slr */ standbyLanRepairH: number;
  /** 1/λ_p */ clientPermanentMttfH: number;
  /** 1/λ_i */ clientIntermittentMttfH: number;
  /** 1/μ_srb */ systemRebootMin: number;
  /** 1/μ_crb */ clientRebootMin: number;
  /** 1/μ_rc */ clientReconfigMin: number;
  /** 1/μ_rp */ clientRepairH: number;
  /** c_p */ permanentCoverage: number;
  /** c_i */ intermittentCoverage: number;
}

/** Table 14 of 003 (p.158), "Input parameters for the HA-OSCAR model [43]", verbatim values. */
export const TABLE_14: Readonly<HasParams> = Object.freeze({
  primaryServerMttfH: 5000,
  primaryServerRepairH: 4,
  serverTakeoverS: 30,
  standbyServerMttfH: 5000,
  standbyServerRepairH: 4,
  primaryLanMttfH: 10000,
  primaryLanRepairH: 1,
  lanTakeoverS: 30,
  standbyLanMttfH: 10000,
  standbyLanRepairH: 1,
  clientPermanentMttfH: 2000,
  clientIntermittentMttfH: 1000,
  systemRebootMin: 15,
  clientRebootMin: 5,
  clientReconfigMin: 1,
  clientRepairH: 4,
  permanentCoverage: 0.95,
  intermittentCoverage: 0.95,
});

export interface Table15Row {
  nodes: number;
  quorum: number;
  availability: number;
  /** "Mean cluster down time" — minutes per 365-day year (derived unit, TARGETS §A.3 item 18). */
  downtimeMinPerYear: number;
}

/** Table 15 of 003 (p.160), "System availability for different configurations [43]", verbatim. */
export const TABLE_15: readonly Table15Row[] = Object.freeze([
  { nodes: 4, quorum: 3, availability: 0.999933475091, downtimeMinPerYear: 34.9654921704 },
  { nodes: 6, quorum: 4, availability: 0.999933335485, downtimeMinPerYear: 35.038869084 },
  { nodes: 8, quorum: 5, availability: 0.999933335205, downtimeMinPerYear: 35.039016252 },
  { nodes: 16, quorum: 9, availability: 0.999933335204, downtimeMinPerYear: 35.0390167776 },
]);

export const MINUTES_PER_YEAR = 365 * 24 * 60; // 525,600

export interface SubModelResult {
  availability: number;
  unavailability: number;
  downtimeMinPerYear: number;
  states: number;
  /** ‖πQ‖∞ of the solved vector (a solver check). */
  residual: number;
  /** How the steady state was solved (GTH, or Gauss–Seidel for the largest chains). */
  method: SteadyStateMethod;
}

export interface HasAvailability {
  nodes: number;
  quorum: number;
  params: HasParams;
  /** Client (compute-node) sub-model alone: the figure Table 15 publishes. */
  client: SubModelResult;
  /** Primary/standby server sub-model with the takeover time. */
  server: SubModelResult;
  /** Primary/standby LAN sub-model with the takeover time. */
  lan: SubModelResult;
  /** client × server × LAN (independent sub-models): the whole system, with the takeovers. */
  system: { availability: number; unavailability: number; downtimeMinPerYear: number };
}

const result = (chain: Ctmc, pi: Float64Array, down: (i: number) => boolean): SubModelResult => {
  // Sum the (small) down mass directly rather than 1 − Σ up, to keep its relative accuracy.
  let u = 0;
  for (let i = 0; i < pi.length; i++) if (down(i)) u += pi[i];
  return { availability: 1 - u, unavailability: u, downtimeMinPerYear: u * MINUTES_PER_YEAR, states: chain.n, residual: residual(chain, pi), method: autoMethod(chain.n) };
};

/** Client marking: counts of compute nodes in each place (TARGETS §A.6, chain R1). */
export interface ClientMarking {
  /** up */ u: number;
  /** leaving (reconfiguration) after a covered permanent failure */ rcp: number;
  /** leaving after a covered intermittent failure */ rci: number;
  /** re-joining (reconfiguration) */ rj: number;
  /** system reboot after an uncovered permanent failure */ srbp: number;
  /** system reboot after an uncovered intermittent failure */ srbi: number;
  /** in repair */ rp: number;
  /** in client reboot */ crb: number;
}

/**
 * Chain R1: client sub-model. Failure rates are per sub-model, not per node (× 1, not × u), and
 * failures are enabled only while u ≥ 1 and u + rj > Q (the quorum is a guard); they may fire
 * while the system is down. Reconfiguration-out, system reboot, repair and client reboot are
 * single-server; re-join is infinite-server (μ_rc × rj). Up ⇔ nothing in reconfiguration or system
 * reboot, and u ≥ Q.
 */
export function clientChain(p: HasParams, nodes: number, quorum: number): { chain: Ctmc; states: ClientMarking[]; isDown: (m: ClientMarking) => boolean } {
  if (!(Number.isInteger(nodes) && Number.isInteger(quorum) && nodes >= 1 && quorum >= 1 && quorum <= nodes))
    throw new Error(`has-availability: need integers 1 ≤ quorum ≤ nodes (got ${nodes}/${quorum})`);
  const lp = 1 / p.clientPermanentMttfH;
  const li = 1 / p.clientIntermittentMttfH;
  const cp = p.permanentCoverage;
  const ci = p.intermittentCoverage;
  const mrc = 60 / p.clientReconfigMin;
  const msrb = 60 / p.systemRebootMin;
  const mrp = 1 / p.clientRepairH;
  const mcrb = 60 / p.clientRebootMin;
  const key = (m: ClientMarking) => `${m.u},${m.rcp},${m.rci},${m.rj},${m.srbp},${m.srbi},${m.rp},${m.crb}`;
  const next = (m: ClientMarking) => {
    const t: { to: ClientMarking; rate: number }[] = [];
    const mv = (d: Partial<Record<keyof ClientMarking, number>>, rate: number) => {
      const to = { ...m };
      for (const [k, v] of Object.entries(d)) to[k as keyof ClientMarking] += v!;
      t.push({ to, rate });
    };
    if (m.u >= 1 && m.u + m.rj > quorum) {
      mv({ u: -1, rcp: +1 }, lp * cp);
      mv({ u: -1, srbp: +1 }, lp * (1 - cp));
      mv({ u: -1, rci: +1 }, li * ci);
      mv({ u: -1, srbi: +1 }, li * (1 - ci));
    }
    if (m.rcp >= 1) mv({ rcp: -1, rp: +1 }, mrc);
    if (m.rci >= 1) mv({ rci: -1, crb: +1 }, mrc);
    if (m.srbp >= 1) mv({ srbp: -1, rp: +1 }, msrb);
    if (m.srbi >= 1) mv({ srbi: -1, u: +1 }, msrb); // the reboot clears an intermittent fault
    if (m.rp >= 1) mv({ rp: -1, rj: +1 }, mrp);
    if (m.crb >= 1) mv({ crb: -1, rj: +1 }, mcrb);
    if (m.rj >= 1) mv({ rj: -1, u: +1 }, mrc * m.rj);
    return t;
  };
  const { chain, states } = exploreChain<ClientMarking>({ u: nodes, rcp: 0, rci: 0, rj: 0, srbp: 0, srbi: 0, rp: 0, crb: 0 }, key, next);
  const isDown = (m: ClientMarking) => m.rcp + m.rci + m.rj + m.srbp + m.srbi > 0 || m.u < quorum;
  return { chain, states, isDown };
}

/** Server/LAN states: which of primary and standby are working, and who carries the service. */
export type PairState = 'both-up' | 'takeover' | 'standby-active' | 'standby-down' | 'both-down';
const PAIR_STATES: PairState[] = ['both-up', 'takeover', 'standby-active', 'standby-down', 'both-down'];
const PAIR_DOWN = new Set<PairState>(['takeover', 'both-down']);

/**
 * Primary/standby pair (server or LAN): the primary fails → takeover (down, mean `takeoverH`) →
 * the standby serves; the primary's repair hands the service straight back (immediate fail-back,
 * also from the takeover state); the standby's failure while it serves, or the primary's while
 * the standby is down, leaves both down. Repairs are independent. A standby repaired while the
 * primary is still down comes back serving (no takeover). This variant gives TARGETS §A.6's
 * U_server = 2.2995×10⁻⁶ and U_LAN = 8.363×10⁻⁷; with a takeover after that repair instead it
 * would be 2.30085×10⁻⁶ / 8.3636×10⁻⁷.
 */
export function pairChain(mttfPrimaryH: number, repairPrimaryH: number, takeoverH: number, mttfStandbyH: number, repairStandbyH: number): { chain: Ctmc; states: PairState[] } {
  const lp = 1 / mttfPrimaryH;
  const mp = 1 / repairPrimaryH;
  const mt = 1 / takeoverH;
  const ls = 1 / mttfStandbyH;
  const ms = 1 / repairStandbyH;
  const i = (s: PairState) => PAIR_STATES.indexOf(s);
  const tr = (from: PairState, to: PairState, rate: number) => ({ from: i(from), to: i(to), rate });
  return {
    states: PAIR_STATES,
    chain: {
      n: PAIR_STATES.length,
      transitions: [
        tr('both-up', 'takeover', lp),
        tr('both-up', 'standby-down', ls),
        tr('takeover', 'standby-active', mt),
        tr('takeover', 'both-up', mp),
        tr('takeover', 'both-down', ls),
        tr('standby-active', 'both-up', mp),
        tr('standby-active', 'both-down', ls),
        tr('standby-down', 'both-up', ms),
        tr('standby-down', 'both-down', lp),
        tr('both-down', 'standby-down', mp),
        tr('both-down', 'standby-active', ms),
      ],
    },
  };
}

function solvePair(mttfP: number, repP: number, takeoverH: number, mttfS: number, repS: number): SubModelResult {
  const { chain, states } = pairChain(mttfP, repP, takeoverH, mttfS, repS);
  return result(chain, steadyState(chain), (k) => PAIR_DOWN.has(states[k]));
}

/** Steady-state availability of the HAS model for `nodes` compute nodes and quorum `quorum`. */
export function solveHasAvailability(params: HasParams, nodes: number, quorum: number): HasAvailability {
  const c = clientChain(params, nodes, quorum);
  const pi = steadyState(c.chain);
  const client = result(c.chain, pi, (k) => c.isDown(c.states[k]));
  const server = solvePair(params.primaryServerMttfH, params.primaryServerRepairH, params.serverTakeoverS / 3600, params.standbyServerMttfH, params.standbyServerRepairH);
  const lan = solvePair(params.primaryLanMttfH, params.primaryLanRepairH, params.lanTakeoverS / 3600, params.standbyLanMttfH, params.standbyLanRepairH);
  // Independent sub-models: A = Π A_k; U = 1 − Π(1 − U_k) computed without cancellation.
  const unavailability = client.unavailability + server.unavailability + lan.unavailability
    - client.unavailability * server.unavailability - client.unavailability * lan.unavailability - server.unavailability * lan.unavailability
    + client.unavailability * server.unavailability * lan.unavailability;
  return {
    nodes,
    quorum,
    params: { ...params },
    client,
    server,
    lan,
    system: { availability: 1 - unavailability, unavailability, downtimeMinPerYear: unavailability * MINUTES_PER_YEAR },
  };
}

/** Quorum rule of Table 15: Q = ⌊N/2⌋ + 1 (4→3, 6→4, 8→5, 16→9). */
export const majorityQuorum = (nodes: number) => Math.floor(nodes / 2) + 1;

export interface MeasuredFailover {
  /** Measured master (VIP) failover times, ms: replaces 1/μ_st (server takeover). */
  serverTakeoverMs: number[];
  /** Measured NIC (erd) failover times, ms: replaces 1/μ_lt (LAN takeover); default: serverTakeoverMs. */
  lanTakeoverMs?: number[];
}

/**
 * Table 14 with the takeover times replaced by the mean of measured failover times (the model's
 * parameter is a mean holding time). A bare array replaces both takeovers.
 */
export function paramsWithMeasuredFailover(measured: MeasuredFailover | number[], base: HasParams = TABLE_14): HasParams {
  const m: MeasuredFailover = Array.isArray(measured) ? { serverTakeoverMs: measured } : measured;
  const mean = (xs: number[], what: string) => {
    if (!xs.length || xs.some((x) => !(x > 0) || !Number.isFinite(x))) throw new Error(`has-availability: ${what} needs positive finite times (ms)`);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const server = mean(m.serverTakeoverMs, 'serverTakeoverMs');
  const lan = m.lanTakeoverMs ? mean(m.lanTakeoverMs, 'lanTakeoverMs') : server;
  return { ...base, serverTakeoverS: server / 1000, lanTakeoverS: lan / 1000 };
}

/** The model with measured failover times put in (see paramsWithMeasuredFailover). */
export function availabilityWithMeasuredFailover(measured: MeasuredFailover | number[], nodes: number, quorum = majorityQuorum(nodes), base: HasParams = TABLE_14): HasAvailability {
  return solveHasAvailability(paramsWithMeasuredFailover(measured, base), nodes, quorum);
}
