// A fault kind: prepare() works out the exact inverse BEFORE anything changes; the runner
// journals that inverse, then calls act(), then verify() collects evidence that it took effect.
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { Inverse } from '../journal.ts';

export interface FaultContext {
  backend: DockerBackend;
  lab: string;
  plan: LabPlan;
  /** Unique id of this fault instance (names nft tables, pid files …). */
  id: string;
}

export interface PreparedFault {
  /** Human-readable actions (what --dry-run prints). */
  actions: string[];
  inverse: Inverse;
  act(): Promise<void>;
  /** Slow set-up that changes nothing the workload sees (e.g. start an idle proxy), run before
   * the workload starts so that act() takes effect at its time. */
  warmup?(): Promise<void>;
  /** Evidence that the fault is in effect (a failing ping, a link state, CPU use …). */
  verify(): Promise<Record<string, unknown>>;
}

export interface FaultKind {
  kind: string;
  /** Which layer it acts on (said plainly in docs and reports). */
  layer: string;
  /** Targets are nodes ('web-1') or NICs ('web-1:eth1') already resolved. */
  prepare(ctx: FaultContext, target: string, params: Record<string, unknown>): PreparedFault;
}

export function param<T>(params: Record<string, unknown>, key: string, dflt: T): T {
  return (params[key] as T | undefined) ?? dflt;
}
