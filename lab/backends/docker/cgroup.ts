// Per-container CPU and memory from the container's own cgroup (v1 cgroupfs or v2), read on the host:
// fast and exact, unlike /proc inside a container, which shows the host's figures.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

function readFirst(paths: string[]): string | undefined {
  for (const p of paths) if (existsSync(p)) return readFileSync(p, 'utf8');
  return undefined;
}

/** Where Docker's cgroupfs driver puts its containers' CPU controller (v1: cpu or cpu,cpuacct). */
const v1CpuParents = (root: string) => [`${root}/cpu/docker`, `${root}/cpu,cpuacct/docker`];
/** A container's v1 CPU cgroup holding `file`. */
const v1CpuDir = (root: string, id: string, file: string) => v1CpuParents(root).map((p) => `${p}/${id}`).find((d) => existsSync(`${d}/${file}`));
/** A container's v2 cgroup (systemd or cgroupfs driver) holding `file` ('' = the directory itself). */
const v2Dir = (root: string, id: string, file = '') => [`${root}/system.slice/docker-${id}.scope`, `${root}/docker/${id}`].find((d) => existsSync(file ? `${d}/${file}` : d));

export interface CgroupFigures {
  cpuSeconds?: number;
  memoryBytes?: number;
}

export function readContainerCgroup(id: string, root = '/sys/fs/cgroup'): CgroupFigures {
  const v1cpu = readFirst([`${root}/cpuacct/docker/${id}/cpuacct.usage`, `${root}/cpu,cpuacct/docker/${id}/cpuacct.usage`]);
  const v1mem = readFirst([`${root}/memory/docker/${id}/memory.usage_in_bytes`]);
  if (v1cpu !== undefined) {
    return { cpuSeconds: Number(v1cpu.trim()) / 1e9, memoryBytes: v1mem ? Number(v1mem.trim()) : undefined };
  }
  const v2dir = v2Dir(root, id);
  if (v2dir) {
    const stat = readFileSync(`${v2dir}/cpu.stat`, 'utf8');
    const usec = Number(/usage_usec (\d+)/.exec(stat)?.[1] ?? NaN);
    const mem = readFirst([`${v2dir}/memory.current`]);
    return { cpuSeconds: usec / 1e6, memoryBytes: mem ? Number(mem.trim()) : undefined };
  }
  return {};
}

/** A container's CFS cap as the kernel enforces it (cores; Infinity = none), or undefined when not found. */
export function readContainerCpuCap(id: string, root = '/sys/fs/cgroup'): number | undefined {
  const v1 = v1CpuDir(root, id, 'cpu.cfs_quota_us');
  const v2 = v1 ? undefined : v2Dir(root, id, 'cpu.max');
  const [quota, period] = v1
    ? [readFileSync(`${v1}/cpu.cfs_quota_us`, 'utf8'), readFileSync(`${v1}/cpu.cfs_period_us`, 'utf8')]
    : v2
      ? readFileSync(`${v2}/cpu.max`, 'utf8').split(' ')
      : [];
  if (quota === undefined || period === undefined) return undefined;
  const q = quota.trim();
  return q === 'max' || q === '-1' ? Infinity : Number(q) / Number(period.trim());
}

/**
 * Re-express a container's CPU cap over a longer CFS period (same share: quota = cpus × period).
 * Docker only sets NanoCpus over the kernel's 100 ms period, and a container created with
 * NanoCpus refuses CpuPeriod/CpuQuota updates, so this writes the cgroup files behind it. Why: a
 * 0.04-core node gets 4 ms per 100 ms; a request that needs more waits a whole period per slice,
 * and the node's own daemons take their slice first, so it never reached its cap. Over 500 ms the
 * same share comes as 20 ms slices. Returns false when the cgroup was not found.
 */
export function setContainerCpuPeriod(id: string, cpus: number, periodMs: number, root = '/sys/fs/cgroup'): boolean {
  const periodUs = Math.round(periodMs * 1000);
  const quotaUs = Math.max(1000, Math.round(cpus * periodUs));
  const v1 = v1CpuDir(root, id, 'cpu.cfs_period_us');
  if (v1) {
    writeFileSync(`${v1}/cpu.cfs_quota_us`, '-1'); // lift first: a period below the quota is refused
    writeFileSync(`${v1}/cpu.cfs_period_us`, String(periodUs));
    writeFileSync(`${v1}/cpu.cfs_quota_us`, String(quotaUs));
    return true;
  }
  const v2 = v2Dir(root, id, 'cpu.max');
  if (v2) {
    writeFileSync(`${v2}/cpu.max`, `${quotaUs} ${periodUs}`);
    return true;
  }
  return false;
}

/** Docker's parent cgroup gets this much real-time CPU per second (µs) when it has less: its containers' budgets come out of it. */
export const DOCKER_RT_RUNTIME_US = 600_000;

/**
 * Let a container's tasks run at a real-time priority for up to `runtimeUs` per second. On a
 * kernel with RT group scheduling (cgroup v1 cpu.rt_runtime_us) a cgroup's budget is 0 unless
 * given, and sched_setscheduler(SCHED_RR) there fails even with CAP_SYS_NICE; the budget comes out
 * of Docker's parent cgroup, raised first when short. 'not-needed': the kernel has no RT group
 * budgets (cgroup v2, or no RT_GROUP_SCHED); false: the container's cgroup was not found.
 */
export function grantContainerRealtime(id: string, runtimeUs: number, root = '/sys/fs/cgroup'): 'granted' | 'not-needed' | false {
  const parent = v1CpuParents(root).find((d) => existsSync(`${d}/cpu.rt_runtime_us`));
  if (!parent) return v2Dir(root, id) ? 'not-needed' : false;
  const own = `${parent}/${id}/cpu.rt_runtime_us`;
  if (!existsSync(own)) return false;
  if (Number(readFileSync(`${parent}/cpu.rt_runtime_us`, 'utf8').trim()) < DOCKER_RT_RUNTIME_US) writeFileSync(`${parent}/cpu.rt_runtime_us`, String(DOCKER_RT_RUNTIME_US));
  writeFileSync(own, String(runtimeUs));
  return 'granted';
}
