// Node faults: kill (SIGKILL of the container), stop (graceful), pause (cgroup freezer), restart.
// On a VM node the backend does the VM's version (lab/backends/vm/README.md: kill = the node
// container with QEMU in it, stop = guest poweroff, pause = QMP stop; restart boots the guest).
import type { FaultKind } from './fault.ts';

/** A VM node (backend: vm) is acted on through its QEMU: the actions say so. */
const isVm = (ctx: Parameters<FaultKind['prepare']>[0], node: string) => ctx.plan.nodes.find((n) => n.name === node)?.backend === 'vm';

async function state(ctx: Parameters<FaultKind['prepare']>[0], node: string) {
  return { state: (await ctx.backend.inspect(ctx.lab, node)).state };
}

export const nodeKill: FaultKind = {
  kind: 'node-kill',
  layer: 'container (docker kill: every process SIGKILLed, network namespace gone)',
  prepare: (ctx, node) => ({
    actions: [isVm(ctx, node) ? `docker kill ${ctx.lab}-${node} (the VM's container: QEMU dies with it, a power cut)` : `docker kill ${ctx.lab}-${node}`],
    inverse: { type: 'node-start', node },
    act: () => ctx.backend.kill(ctx.lab, node),
    verify: () => state(ctx, node),
  }),
};

export const nodeStop: FaultKind = {
  kind: 'node-stop',
  layer: 'container (docker stop: SIGTERM, then SIGKILL after 2 s)',
  prepare: (ctx, node) => ({
    actions: [isVm(ctx, node) ? `guest poweroff through the agent (keepalived says goodbye), then docker stop ${ctx.lab}-${node}` : `docker stop -t 2 ${ctx.lab}-${node}`],
    inverse: { type: 'node-start', node },
    act: () => ctx.backend.stop(ctx.lab, node, 2),
    verify: () => state(ctx, node),
  }),
};

export const nodePause: FaultKind = {
  kind: 'node-pause',
  layer: 'container (cgroup freezer: processes frozen; the kernel still answers ICMP/ARP)',
  prepare: (ctx, node) => ({
    actions: [isVm(ctx, node) ? `QMP stop on ${ctx.lab}-${node} (vCPUs halt: guest kernel and daemons frozen)` : `docker pause ${ctx.lab}-${node}`],
    inverse: { type: 'node-resume', node },
    act: () => ctx.backend.pause(ctx.lab, node),
    verify: () => state(ctx, node),
  }),
};

export const nodeRestart: FaultKind = {
  kind: 'node-restart',
  layer: 'container (docker stop -t 2 then start: a reboot; the stack is redeployed when the window ends)',
  prepare: (ctx, node) => ({
    actions: [`docker stop -t 2 ${ctx.lab}-${node}`, `docker start ${ctx.lab}-${node}`],
    // The node is up again at once but bare (its daemons were in the old container): the
    // rollback's redeploy brings its services back, so `duration` plays the services' boot time.
    inverse: { type: 'node-start', node },
    act: async () => {
      await ctx.backend.stop(ctx.lab, node, 2);
      await ctx.backend.start(ctx.lab, node);
    },
    verify: async () => {
      const info = await ctx.backend.inspect(ctx.lab, node);
      const r = await ctx.backend.exec(ctx.lab, node, ['cut', '-d', ' ', '-f', '22', '/proc/1/stat'], { check: false });
      const up = await ctx.backend.exec(ctx.lab, node, ['cut', '-d', ' ', '-f', '1', '/proc/uptime'], { check: false });
      // init's start time (clock ticks since boot, ticks are 100/s) against uptime: its age in seconds
      return { state: info.state, initAgeSeconds: Number((Number(up.stdout) - Number(r.stdout) / 100).toFixed(2)) };
    },
  }),
};
