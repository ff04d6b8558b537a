// keepalived's VRRP process runs SCHED_RR (vrrp.ts: vrrp_rt_priority). At 0.02 s adverts the peer
// declares a master dead after ≈ 70 ms; on a busy 2-core host (a redeploy's docker execs) a
// normal-priority keepalived was delayed that long several times per redeploy, and the standby
// took the VIP for 0.1–0.5 s each time. The node needs CAP_SYS_NICE (the topology's master and
// nfs kinds) and, on a kernel with RT group scheduling, a real-time budget for its cgroup.
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';

/** Real-time CPU a keepalived node may use, µs per second: ≈ 10× what 0.02 s adverts on two instances need. */
export const VRRP_RT_RUNTIME_US = 30_000;

/** Give a container node the RT budget keepalived's SCHED_RR needs (VM nodes: the guest's own kernel decides). */
export async function allowVrrpRealtime(ctx: StackContext, lab: string, node: PlannedNode): Promise<void> {
  if (node.backend === 'vm' || !ctx.backend.allowRealtime) return;
  await ctx.backend.allowRealtime(lab, node.name, VRRP_RT_RUNTIME_US).catch((e: Error) => {
    ctx.log.warn(`${node.name}: keepalived will run at normal priority (${e.message})`);
  });
}
