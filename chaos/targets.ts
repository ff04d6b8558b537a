// Fault targets: a node, NODE:NIC, a glob (web-*), a role at run time (master:active = the node
// holding the VIP now), or a seeded random pick of a glob's nodes (Jepsen's / Chaos Mesh's modes):
//   random:GLOB or one:GLOB   one node           all:GLOB       every node
//   minority:GLOB             ceil(n/2) - 1      majority:GLOB  floor(n/2) + 1
//   N%:GLOB                   round(n·N/100), at least 1
// Each may end with :NIC (majority:web-*:eth1).
import type { LabPlan } from '../lab/topology/types.ts';
import type { DockerBackend } from '../lab/backends/docker/docker-backend.ts';

export function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

const PICKS = ['random', 'one', 'all', 'minority', 'majority'] as const;

/** How many of n nodes a pick takes (pure; throws when the pick is empty). */
export function pickCount(pick: string, n: number): number {
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(pick);
  const k = pct
    ? Math.max(1, Math.round((n * Number(pct[1])) / 100))
    : { random: 1, one: 1, all: n, minority: Math.ceil(n / 2) - 1, majority: Math.floor(n / 2) + 1 }[pick as (typeof PICKS)[number]];
  if (k === undefined) throw new Error(`unknown pick '${pick}' (${PICKS.join(', ')} or N%)`);
  if (pct && Number(pct[1]) > 100) throw new Error(`pick ${pick}: more than 100 %`);
  if (k < 1) throw new Error(`pick ${pick} of ${n} node(s) is empty`);
  return Math.min(k, n);
}

/** k of the items, seeded (Fisher–Yates over a copy), in the items' own order. */
export function seededSample<T>(items: T[], k: number, rand: () => number): T[] {
  const idx = items.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => items[i]!);
}

export function isPick(word: string): boolean {
  return (PICKS as readonly string[]).includes(word) || /^\d+(?:\.\d+)?%$/.test(word);
}

/** Targets that need no look at the running lab (globs, random picks). Pure. */
export function resolveStatic(plan: LabPlan, target: string, rand: () => number): string[] | 'runtime' {
  if (target === 'master:active' || target === 'master:standby') return 'runtime';
  const parts = target.split(':');
  const pick = isPick(parts[0]!) ? parts.shift()! : undefined;
  const [glob, nic] = parts as [string, string | undefined];
  const withNic = (n: string) => (nic ? `${n}:${nic}` : n);
  const matches = plan.nodes.map((n) => n.name).filter((n) => globToRegExp(glob ?? '').test(n));
  if (!matches.length) throw new Error(`target ${target} matches no node of lab ${plan.lab}`);
  if (!pick) return matches.map(withNic);
  return seededSample(matches, pickCount(pick, matches.length), rand).map(withNic);
}

/** master:active / master:standby: ask the masters which one holds the VIP right now. */
export async function resolveRuntime(backend: DockerBackend, plan: LabPlan, target: string): Promise<string[]> {
  const masters = plan.nodes.filter((n) => n.role === 'master');
  const holders: string[] = [];
  for (const m of masters) {
    const r = await backend.exec(plan.lab, m.name, ['ip', '-o', '-4', 'addr', 'show'], { check: false });
    if (plan.vip && r.stdout.includes(` ${plan.vip}/`)) holders.push(m.name);
  }
  if (target === 'master:active') {
    if (holders.length !== 1) throw new Error(`master:active: ${holders.length} masters hold the VIP ${plan.vip} (${holders.join(', ')})`);
    return holders;
  }
  return masters.map((m) => m.name).filter((n) => !holders.includes(n));
}
