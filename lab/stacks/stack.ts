// A stack is a deploy recipe for one paper's system (has, nmt, …) run on a lab's nodes after `up`.
import type { Backend } from '../backends/backend.ts';
import type { LabPlan } from '../topology/types.ts';
import type { Logger } from '../util/log.ts';

export interface StackContext {
  plan: LabPlan;
  backend: Backend;
  log: Logger;
  /** The lab's state directory on the host (logs, journals). */
  stateDir: string;
  /**
   * A redeploy after a fault: only these nodes were restarted (they came back bare), the others
   * still run what the last deploy gave them. A stack may then touch only these; absent = all.
   */
  restarted?: readonly string[];
}

export interface Stack {
  name: string;
  /** Install configs and start the stack's daemons; idempotent. When it returns, the service answers. */
  deploy(ctx: StackContext): Promise<void>;
  /** Extra per-node facts for `halab inspect` (VRRP state, balancer table, NFS owner …). */
  inspect?(ctx: StackContext): Promise<StackInspection>;
}

export interface StackInspection {
  /** Extra column values per node name, e.g. { m1: { vrrp: 'MASTER' } }. */
  nodes: Record<string, Record<string, string>>;
  /** Free-form sections printed after the node table (balancer table, NFS owner …). */
  sections: { title: string; lines: string[] }[];
}
