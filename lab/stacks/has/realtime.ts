// keepalived's VRRP process runs SCHED_RR (vrrp.ts: vrrp_rt_priority). At 0.02 s adverts the peer
// declares a master dead after ≈ 70 ms; on a busy 2-core host (a redeploy's docker execs) a
// normal-priority keepalived was delayed that long several times per redeploy, and the standby
// took the VIP for 0.1–0.5 s each time. The node needs CAP_SYS_NICE (the topology's master and
// nfs kinds) and, on a kernel with RT group scheduling, a real-time budget for its cgroup.
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';

/** Real-time CPU a keepalived node may use, µs per second: ≈ 10× what 0.02 s adverts on two instances need. */
export const VRRP_RT_RUNTIME_US = 30_000;

/**
 * Give a container node the RT budget keepalived's SCHED_RR needs; whether its keepalived should
 * ask for SCHED_RR (keepalivedConf's `realtime`). Not on VM nodes: in a guest it would only order the
 * guest's own processes (the host schedules the whole vCPU), and under TCG a real-time keepalived
 * never took the VIP. Not when the budget could not be granted (said as a warning).
 */
export async function allowVrrpRealtime(ctx: StackContext, lab: string, node: PlannedNode): Promise<boolean> {
  if (node.backend === 'vm') return false;
  if (!ctx.backend.allowRealtime) return true; // no RT group budgets to manage: CAP_SYS_NICE is enough
  return ctx.backend.allowRealtime(lab, node.name, VRRP_RT_RUNTIME_US).then(
    () => true,
    (e: Error) => {
      ctx.log.warn(`${node.name}: keepalived will run at normal priority (${e.message})`);
      return false;
    },
  );
}
