// Faults inside a node's processes: CPU load (stress-ng in the node's own cgroup, so its cap
// applies) and killing or stopping a process by name.
import { param, type FaultKind } from './fault.ts';

export const cpuLoad: FaultKind = {
  kind: 'cpu-load',
  layer: "process (stress-ng inside the node's cgroup)",
  prepare: (ctx, node, params) => {
    const workers = param(params, 'workers', 1);
    const percent = param(params, 'percent', 100);
    const pidFile = `/run/halab/stress-${ctx.id}.pid`;
    return {
      actions: [`exec ${node}: stress-ng --cpu ${workers} --cpu-load ${percent} &`],
      inverse: { type: 'exec', node, cmd: ['sh', '-c', `kill $(cat ${pidFile}) 2>/dev/null; pkill -f 'stress-ng.*halab-${ctx.id}'; rm -f ${pidFile}; true`], note: 'stop stress-ng' },
      act: async () =>
        void (await ctx.backend.exec(ctx.lab, node, [
          'sh',
          '-c',
          `mkdir -p /run/halab; setsid stress-ng --cpu ${workers} --cpu-load ${percent} --metrics-brief --taskset 0-1 --log-file /tmp/halab-${ctx.id}.log >/dev/null 2>&1 </dev/null & echo $! > ${pidFile}`,
        ])),
      verify: async () => {
        const a = await ctx.backend.stats(ctx.lab, node);
        await new Promise((r) => setTimeout(r, 1000));
        const b = await ctx.backend.stats(ctx.lab, node);
        return { cpuCoresUsed: Number((b.cpuSeconds - a.cpuSeconds).toFixed(3)), cap: a.cpuLimit ?? null };
      },
    };
  },
};

export const processKill: FaultKind = {
  kind: 'process-kill',
  layer: 'process (pkill by name inside the node; STOP is undone with CONT)',
  prepare: (ctx, node, params) => {
    const name = param<string>(params, 'process', '');
    const signal = param<string>(params, 'signal', 'KILL');
    if (!name) throw new Error("process-kill needs 'process: NAME'");
    return {
      actions: [`exec ${node}: pkill -${signal} -x ${name}`],
      inverse: signal === 'STOP' ? { type: 'exec', node, cmd: ['pkill', '-CONT', '-x', name], note: `SIGCONT ${name}` } : { type: 'none' },
      act: async () => void (await ctx.backend.exec(ctx.lab, node, ['pkill', `-${signal}`, '-x', name], { check: false })),
      verify: async () => {
        const r = await ctx.backend.exec(ctx.lab, node, ['sh', '-c', `ps -o stat= -C ${name} | head -1`], { check: false });
        return { process: name, state: r.stdout.trim() || 'gone' };
      },
    };
  },
};
