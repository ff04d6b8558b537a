// The traffic client daemon (thesis 003 §3.22: the TC on every traffic node): every period it
// measures its own node's load from the node's cgroup (not /proc, which shows the host's) and
// sends a LoadReport to the traffic manager on every master address (UDP).
//   cpuUse = Δ cpuacct.usage / (Δt × cap), cap = cfs_quota/cfs_period (cores; 1 when uncapped)
//   memUse = memory.usage_in_bytes / memory.limit_in_bytes (limit capped at physical RAM)
//   index  = 1000 × cap × max(0.05, 1 − cpuUse) × max(0.05, 1 − memUse)   (dr-table.ts loadIndex)
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { loadIndex } from './dr-table.ts';
import { watchLinks } from './link-watch.ts';

interface Config {
  node: string;
  masters: string[];
  port: number;
  periodSeconds: number;
  /** The node's NICs: a report names the networks whose NIC is down (the balancer then forwards
   * over another), and a change of them is reported at once. */
  nics?: { ifname: string; network: string }[];
}

/** Networks whose NIC is not up (operstate; a missing NIC counts as down). */
export function downNetworks(nics: { ifname: string; network: string }[], read = (f: string) => readFileSync(f, 'utf8')): string[] {
  return nics
    .filter((n) => {
      try {
        return read(`/sys/class/net/${n.ifname}/operstate`).trim() !== 'up';
      } catch {
        return true;
      }
    })
    .map((n) => n.network)
    .sort();
}

function first(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}
const num = (p: string | undefined) => (p ? Number(readFileSync(p, 'utf8').trim()) : NaN);

const CPU_DIRS = ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpuacct', '/sys/fs/cgroup/cpu'];

export function readCgroup(): { cpuNs: number; cap: number; mem: number; memLimit: number } {
  const usage = first(CPU_DIRS.map((d) => `${d}/cpuacct.usage`));
  const quota = num(first(CPU_DIRS.map((d) => `${d}/cpu.cfs_quota_us`)));
  const period = num(first(CPU_DIRS.map((d) => `${d}/cpu.cfs_period_us`)));
  let cpuNs = num(usage);
  let cap = quota > 0 && period > 0 ? quota / period : 1;
  // cgroup v2 fallback
  if (!usage && existsSync('/sys/fs/cgroup/cpu.stat')) {
    cpuNs = 1000 * Number(/usage_usec (\d+)/.exec(readFileSync('/sys/fs/cgroup/cpu.stat', 'utf8'))?.[1] ?? NaN);
    const [q, p] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    cap = q !== 'max' ? Number(q) / Number(p) : 1;
  }
  const mem = num(first(['/sys/fs/cgroup/memory/memory.usage_in_bytes', '/sys/fs/cgroup/memory.current']));
  let memLimit = num(first(['/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max']));
  if (!Number.isFinite(memLimit) || memLimit > totalmem()) memLimit = totalmem();
  return { cpuNs, cap, mem, memLimit };
}

function main(): void {
  const cfg = JSON.parse(readFileSync(process.argv[2] ?? '/etc/halab/traffic-client.json', 'utf8')) as Config;
  const sock = createSocket('udp4');
  let prev = readCgroup();
  let prevT = performance.now();
  let down = downNetworks(cfg.nics ?? []);
  let last: { cpuUse?: number; memUse?: number; index?: number } = {}; // no load measured yet
  const send = () => {
    const msg = Buffer.from(JSON.stringify({ node: cfg.node, t: Date.now(), ...last, down }));
    for (const m of cfg.masters) sock.send(msg, cfg.port, m, () => {});
  };
  // NIC state on every kernel link event (and a 1 s safety poll): a change goes out at once, not
  // at the next period.
  if (cfg.nics?.length)
    watchLinks(() => {
      const now = downNetworks(cfg.nics ?? []);
      if (now.join() !== down.join()) {
        down = now;
        send();
      }
    }, 1000);
  setInterval(() => {
    const cur = readCgroup();
    const t = performance.now();
    const cpuUse = (cur.cpuNs - prev.cpuNs) / 1e6 / (t - prevT) / cur.cap;
    const memUse = cur.mem / cur.memLimit;
    prev = cur;
    prevT = t;
    last = {
      cpuUse: Number(cpuUse.toFixed(4)),
      memUse: Number(memUse.toFixed(4)),
      index: loadIndex({ cpus: cur.cap, cpuUse, memUse }),
    };
    send();
  }, cfg.periodSeconds * 1000);
}

if (process.argv[1]?.endsWith('traffic-client.mjs')) main();
