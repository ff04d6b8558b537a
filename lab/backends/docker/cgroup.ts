// Per-container CPU and memory from the container's own cgroup (v1 cgroupfs or v2), read on the host:
// fast and exact, unlike /proc inside a container, which shows the host's figures.
import { existsSync, readFileSync } from 'node:fs';

function readFirst(paths: string[]): string | undefined {
  for (const p of paths) if (existsSync(p)) return readFileSync(p, 'utf8');
  return undefined;
}

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
  const v2dir = [`${root}/system.slice/docker-${id}.scope`, `${root}/docker/${id}`].find((d) => existsSync(d));
  if (v2dir) {
    const stat = readFileSync(`${v2dir}/cpu.stat`, 'utf8');
    const usec = Number(/usage_usec (\d+)/.exec(stat)?.[1] ?? NaN);
    const mem = readFirst([`${v2dir}/memory.current`]);
    return { cpuSeconds: usec / 1e6, memoryBytes: mem ? Number(mem.trim()) : undefined };
  }
  return {};
}
