// Node faults: kill (SIGKILL of the container), stop (graceful), pause (cgroup freezer), restart.
import type { FaultKind } from './fault.ts';

async function state(ctx: Parameters<FaultKind['prepare']>[0], node: string) {
  return { state: (await ctx.backend.inspect(ctx.lab, node)).state };
}

export const nodeKill: FaultKind = {
  kind: 'node-kill',
  layer: 'container (docker kill: every process SIGKILLed, network namespace gone)',
  prepare: (ctx, node) => ({
    actions: [`docker kill ${ctx.lab}-${node}`],
    inverse: { type: 'node-start', node },
    act: () => ctx.backend.kill(ctx.lab, node),
    verify: () => state(ctx, node),
  }),
};

export const nodeStop: FaultKind = {
  kind: 'node-stop',
  layer: 'container (docker stop: SIGTERM, then SIGKILL after 2 s)',
  prepare: (ctx, node) => ({
    actions: [`docker stop -t 2 ${ctx.lab}-${node}`],
    inverse: { type: 'node-start', node },
    act: () => ctx.backend.stop(ctx.lab, node, 2),
    verify: () => state(ctx, node),
  }),
};

export const nodePause: FaultKind = {
  kind: 'node-pause',
  layer: 'container (cgroup freezer: processes frozen; the kernel still answers ICMP/ARP)',
  prepare: (ctx, node) => ({
    actions: [`docker pause ${ctx.lab}-${node}`],
    inverse: { type: 'node-resume', node },
    act: () => ctx.backend.pause(ctx.lab, node),
    verify: () => state(ctx, node),
  }),
};
