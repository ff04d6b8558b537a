// Undo journalled faults. Runs at scenario end, on Ctrl-C, on exceptions, from `halab heal` and
// from `halab down` (teardown hook) — also after the harness was SIGKILLed mid-fault.
import { execa } from 'execa';
import type { DockerBackend } from '../lab/backends/docker/docker-backend.ts';
import { registerTeardownHook } from '../lab/teardown.ts';
import { silentLogger, type Logger } from '../lab/util/log.ts';
import { labStateDir } from '../lab/util/paths.ts';
import { loadStack } from '../lab/stacks/index.ts';
import { openFaults, recordUndone, type Inverse } from './journal.ts';
import { chaosTable } from './nodeops.ts';
import { removeToxic, stopNodeProxy } from './faults/toxic.ts';

async function pidOf(backend: DockerBackend, lab: string, node: string): Promise<number | undefined> {
  try {
    return (await backend.inspect(lab, node)).pid;
  } catch {
    return undefined; // node gone: nothing left to undo there
  }
}

export interface UndoOptions {
  /** Redeploy the lab's stack on a node started again (`halab heal`, the runner); the teardown
   * hook of `halab down` leaves it off: the lab is about to go. */
  redeploy?: boolean;
  log?: Logger;
}

/** A restarted node comes back bare (its daemons ran in the old container): redeploy the stack,
 * which is idempotent and restarts only what is missing. */
async function redeployStack(backend: DockerBackend, lab: string, node: string, log: Logger): Promise<string> {
  const { readSavedPlan } = await import('../lab/lab.ts');
  const plan = readSavedPlan(lab);
  if (!plan?.stack) return '';
  const stack = await loadStack(plan.stack);
  try {
    await stack.deploy({ plan, backend, log: silentLogger, stateDir: labStateDir(lab), restarted: [node] });
    return ', stack redeployed';
  } catch (e) {
    log.warn(`redeploy after restarting ${node}: ${(e as Error).message}`);
    return ', stack redeploy FAILED';
  }
}

export async function undo(backend: DockerBackend, lab: string, inv: Inverse, opts: UndoOptions = {}): Promise<string> {
  switch (inv.type) {
    case 'none':
      return 'nothing to undo';
    case 'node-start':
      await backend.start(lab, inv.node);
      return `started ${inv.node}${opts.redeploy ? await redeployStack(backend, lab, inv.node, opts.log ?? silentLogger) : ''}`;
    case 'node-resume': {
      const info = await backend.inspect(lab, inv.node).catch(() => undefined);
      if (info?.state === 'paused') await backend.resume(lab, inv.node);
      return `resumed ${inv.node}`;
    }
    case 'link-up': {
      const pid = await pidOf(backend, lab, inv.node);
      if (pid) await execa('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', inv.ifname, 'up'], { reject: false });
      return `${inv.node}:${inv.ifname} up`;
    }
    case 'nft-delete-table': {
      const pid = await pidOf(backend, lab, inv.node);
      if (pid) await execa('nsenter', ['-t', String(pid), '-n', 'nft', 'delete', 'table', inv.family, inv.table], { reject: false });
      return `${inv.node}: nft table ${inv.table} deleted`;
    }
    case 'netns': {
      const pid = await pidOf(backend, lab, inv.node);
      for (const cmd of pid ? inv.cmds : []) await execa('nsenter', ['-t', String(pid), '-n', ...cmd], { reject: false });
      return `${inv.node}: ${inv.note}`;
    }
    case 'toxic-remove':
      return `${inv.node}: ${await removeToxic(inv.api, inv.proxy, inv.toxic)}`;
    case 'steps': {
      const out: string[] = [];
      for (const step of inv.steps) out.push(await undo(backend, lab, step, opts));
      return out.join('; ');
    }
    case 'exec': {
      const info = await backend.inspect(lab, inv.node).catch(() => undefined);
      if (info?.state === 'running') await backend.exec(lab, inv.node, inv.cmd, { check: false });
      return `${inv.node}: ${inv.note}`;
    }
  }
}

/** Roll back every open fault of a lab (newest first), then sweep stray chaos nft tables. */
export async function healLab(backend: DockerBackend, lab: string, log: Logger, opts: { redeploy?: boolean } = {}): Promise<string[]> {
  const done: string[] = [];
  for (const f of openFaults(lab)) {
    try {
      done.push(`${f.kind} ${f.target}: ${await undo(backend, lab, f.inverse, { redeploy: opts.redeploy, log })}`);
      recordUndone(lab, f.id);
    } catch (err) {
      log.warn(`could not undo ${f.kind} on ${f.target}: ${(err as Error).message}`);
    }
  }
  // Belt and braces: any table named after this lab's chaos prefix, in any running node; and the
  // in-node fault proxy, idle once its toxics and redirects are gone.
  for (const n of await backend.listNodes(lab).catch(() => [])) {
    if (n.state !== 'running' || !n.pid) continue;
    if (await stopNodeProxy(backend, lab, n.name)) done.push(`${n.name}: fault proxy stopped`);
    const r = await execa('nsenter', ['-t', String(n.pid), '-n', 'nft', 'list', 'tables'], { reject: false });
    for (const line of r.stdout.split('\n')) {
      const m = /^table (\w+) (\S+)$/.exec(line.trim());
      if (m && m[2]!.startsWith(chaosTable(lab))) {
        await execa('nsenter', ['-t', String(n.pid), '-n', 'nft', 'delete', 'table', m[1]!, m[2]!], { reject: false });
        done.push(`${n.name}: stray nft table ${m[2]} deleted`);
      }
    }
  }
  return done;
}

registerTeardownHook('chaos-journal', async (lab, log) => {
  const { openBackend } = await import('../lab/lab.ts');
  return healLab(await openBackend(log), lab, log, { redeploy: false });
});
