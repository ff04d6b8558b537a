// Fault targets: a node, NODE:NIC, a glob (web-*), a role at run time (master:active = the node
// holding the VIP now), or a seeded random pick (random:web-*).
import type { LabPlan } from '../lab/topology/types.ts';
import type { DockerBackend } from '../lab/backends/docker/docker-backend.ts';

export function globToRegExp(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
}

/** Targets that need no look at the running lab (globs, random picks). Pure. */
export function resolveStatic(plan: LabPlan, target: string, rand: () => number): string[] | 'runtime' {
  if (target === 'master:active' || target === 'master:standby') return 'runtime';
  const [nodePart, nic] = target.split(':') as [string, string | undefined];
  const withNic = (n: string) => (nic ? `${n}:${nic}` : n);
  if (nodePart.startsWith('random(') || target.startsWith('random:')) {
    const glob = target.slice('random:'.length);
    const matches = plan.nodes.map((n) => n.name).filter((n) => globToRegExp(glob).test(n));
    if (!matches.length) throw new Error(`target ${target} matches no node`);
    return [matches[Math.floor(rand() * matches.length)]!];
  }
  const matches = plan.nodes.map((n) => n.name).filter((n) => globToRegExp(nodePart).test(n));
  if (!matches.length) throw new Error(`target ${target} matches no node of lab ${plan.lab}`);
  return matches.map(withNic);
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
