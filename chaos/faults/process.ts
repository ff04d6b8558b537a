// Faults inside a node's processes: CPU load and memory pressure (stress-ng in the node's own
// cgroup, so its caps apply) and killing or stopping a process by name.
import { param, type FaultContext, type FaultKind, type PreparedFault } from './fault.ts';

/** stress-ng started detached in the node, stopped by its pid file (and its tagged log name). */
function stressNg(ctx: FaultContext, node: string, args: string, verify: PreparedFault['verify'], before?: () => Promise<void>): PreparedFault {
  const pidFile = `/run/halab/stress-${ctx.id}.pid`;
  return {
    actions: [`exec ${node}: stress-ng ${args} &`],
    // setsid made stress-ng a process group with its workers: TERM the group, wait (up to 5 s:
    // a loaded node frees memory slowly) for all of it to go, then KILL what is left
    inverse: {
      type: 'exec',
      node,
      cmd: ['sh', '-c', `g=$(cat ${pidFile} 2>/dev/null); [ -n "$g" ] || exit 0; kill -TERM -$g 2>/dev/null; for i in $(seq 50); do pgrep -g $g >/dev/null || break; sleep 0.1; done; kill -KILL -$g 2>/dev/null; rm -f ${pidFile}; true`],
      note: 'stop stress-ng',
    },
    act: async () => {
      await before?.();
      await ctx.backend.exec(ctx.lab, node, [
        'sh',
        '-c',
        `mkdir -p /run/halab; setsid stress-ng ${args} --metrics-brief --log-file /tmp/halab-${ctx.id}.log >/dev/null 2>&1 </dev/null & echo $! > ${pidFile}`,
      ]);
    },
    verify,
  };
}

export const cpuLoad: FaultKind = {
  kind: 'cpu-load',
  layer: "process (stress-ng inside the node's cgroup)",
  prepare: (ctx, node, params) => {
    const workers = param(params, 'workers', 1);
    const percent = param(params, 'percent', 100);
    return stressNg(ctx, node, `--cpu ${workers} --cpu-load ${percent} --taskset 0-1`, async () => {
      const a = await ctx.backend.stats(ctx.lab, node);
      await new Promise((r) => setTimeout(r, 1000));
      const b = await ctx.backend.stats(ctx.lab, node);
      return { cpuCoresUsed: Number((b.cpuSeconds - a.cpuSeconds).toFixed(3)), cap: a.cpuLimit ?? null };
    });
  },
};

export const memoryPressure: FaultKind = {
  kind: 'memory-pressure',
  layer: "process (stress-ng --vm in the node's cgroup: memory allocated, touched and held)",
  prepare: (ctx, node, params) => {
    const planned = ctx.plan.nodes.find((n) => n.name === node)?.memoryBytes;
    // default: half the node's memory limit (all of it would call the OOM killer), else 128 MiB
    const mb = param(params, 'mb', planned ? Math.floor(planned / 2 ** 20 / 2) : 128);
    if (!(mb > 0)) throw new Error(`memory-pressure mb must be > 0, not ${mb}`);
    let before = 0;
    return stressNg(
      ctx,
      node,
      `--vm 1 --vm-bytes ${mb}M --vm-populate --vm-hang 0`,
      async () => {
        let after = 0;
        for (let i = 0; i < 60 && after - before < mb * 2 ** 20 * 0.9; i++) {
          await new Promise((r) => setTimeout(r, 250)); // stress-ng touches its pages in a moment
          after = (await ctx.backend.stats(ctx.lab, node)).memoryBytes;
        }
        const mib = (x: number) => Number((x / 2 ** 20).toFixed(1));
        return { askedMiB: mb, beforeMiB: mib(before), afterMiB: mib(after), roseMiB: mib(after - before) };
      },
      async () => void (before = (await ctx.backend.stats(ctx.lab, node)).memoryBytes),
    );
  },
};

function signalProcess(kind: string, fixedSignal?: string): FaultKind {
  return {
    kind,
    layer: 'process (pkill by name inside the node; STOP is undone with CONT)',
    prepare: (ctx, node, params) => {
      const name = param<string>(params, 'process', '');
      const signal = fixedSignal ?? param<string>(params, 'signal', 'KILL');
      if (!name) throw new Error(`${kind} needs 'process: NAME'`);
      return {
        actions: [`exec ${node}: pkill -${signal} -x ${name}`],
        inverse: signal === 'STOP' ? { type: 'exec', node, cmd: ['pkill', '-CONT', '-x', name], note: `SIGCONT ${name}` } : { type: 'none' },
        act: async () => void (await ctx.backend.exec(ctx.lab, node, ['pkill', `-${signal}`, '-x', name], { check: false })),
        verify: async () => {
          const r = await ctx.backend.exec(ctx.lab, node, ['sh', '-c', `ps -o stat= -C ${name} | head -1`], { check: false });
          return { process: name, signal, state: r.stdout.trim() || 'gone' };
        },
      };
    },
  };
}

export const processKill = signalProcess('process-kill');
/** process-kill with signal STOP: the process is frozen (state T) until the rollback's SIGCONT. */
export const processStop = signalProcess('process-stop', 'STOP');
