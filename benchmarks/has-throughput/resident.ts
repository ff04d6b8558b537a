// Keeping a traffic node's docroot resident in its page cache for the length of a throughput run.
//
// Why: this host's kernel runs a DAMON scheme (/sys/kernel/mm/damon/admin/kdamonds/0: action
// `pageout`, on physical memory, anonymous pages filtered out) that pages out file cache whose
// region went unaccessed for about a minute (age ≥ 12 aggregations of 5 s), with or without memory
// pressure. Measured 2026-12-05 on an idle has-16 lab: the 16 warmed docroots fell from 44–46 MB
// to about 20 MB each in six minutes, no reclaim scan counted, DAMON's own counter showing the
// pages it paged out. A capped node serving 6,200 files touches each one only every half minute
// or so, and the nodes a scaling round pauses touch none: their next requests miss, and each miss
// is a FUSE read and an NFS call that costs the node CPU. The thesis's nodes were machines whose
// page cache stayed until memory ran short. Pages locked with mlock(2) are unevictable, so DAMON
// cannot page them out: after the warm read, vmtouch (Debian) maps every file and locks it,
// then stays in the background holding the lock. It needs CAP_IPC_LOCK in the node (has-16.yaml
// gives it to the traffic kind); the lock costs the node's memory cgroup the docroot's size.
// A file whose pages are all cached is opened lazily by halab-nfsfuse, so the lock adds no
// NFS call and holds no NFS open state.
import type { Backend } from '../../lab/backends/backend.ts';

export const RESIDENT_PID_FILE = '/run/halab/vmtouch.pid';

/** Shell: stop an earlier lock, then map and lock every file under `dir` (vmtouch waits until done). */
export function lockScript(dir: string, pidFile = RESIDENT_PID_FILE): string {
  return [
    unlockScript(pidFile),
    'mkdir -p /run/halab',
    // -l lock, -d daemon (keeps the mappings), -w the parent returns when every page is locked
    `vmtouch -q -l -d -w -P ${pidFile} ${dir}`,
  ].join('\n');
}

/** Shell: end the lock, if one is held (the pages stay cached, only evictable again). */
export function unlockScript(pidFile = RESIDENT_PID_FILE): string {
  return `if [ -f ${pidFile} ]; then kill "$(cat ${pidFile})" 2>/dev/null; rm -f ${pidFile}; fi`;
}

/** Locked memory of a process, in KiB, from its /proc/PID/status (`VmLck:`); 0 when absent. */
export function lockedKib(status: string): number {
  const m = /^VmLck:\s+(\d+)\s+kB/m.exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * Lock `dir` in `node`'s page cache; returns the locked size in MiB. Throws with the reason when the
 * lock does not hold (vmtouch missing from the image, or no CAP_IPC_LOCK in the node).
 */
export async function lockResident(backend: Backend, lab: string, node: string, dir: string): Promise<number> {
  const r = await backend.exec(lab, node, ['sh', '-c', lockScript(dir)], { check: false, timeoutMs: 300_000 });
  const status = await backend.exec(lab, node, ['sh', '-c', `cat /proc/"$(cat ${RESIDENT_PID_FILE})"/status`], { check: false });
  const mib = lockedKib(status.stdout) / 1024;
  if (r.exitCode !== 0 || mib === 0) {
    const why = `${r.stderr}${r.stdout}`.trim().split('\n').slice(-2).join(' ') || 'no locked memory';
    throw new Error(
      `${lab}/${node}: could not lock ${dir} in memory (${why}); the node needs vmtouch (halab/traffic image) and CAP_IPC_LOCK (capabilities: [IPC_LOCK] on its kind)`,
    );
  }
  return mib;
}

/** Release the lock in every node given (best effort: a node may be gone or paused). */
export async function unlockResident(backend: Backend, lab: string, nodes: string[]): Promise<void> {
  await Promise.all(nodes.map((n) => backend.exec(lab, n, ['sh', '-c', unlockScript()], { check: false }).catch(() => undefined)));
}

/** The run's page-cache condition, with the locked size per node. */
export function residentCondition(resident: Record<string, number>): string {
  const mib = Object.values(resident);
  if (!mib.length) return 'not warmed';
  const range = `${Math.min(...mib).toFixed(1)}–${Math.max(...mib).toFixed(1)} MiB`;
  return `every serving node read its whole docroot once (uncapped), then held it locked in memory for the run (vmtouch -l, ${range} per node): this host's kernel pages out file cache left idle for a minute (DAMON), which the thesis's machines did not`;
}
