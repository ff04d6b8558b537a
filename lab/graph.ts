// `halab graph`: the topology as DOT, rendered to SVG by Graphviz (compiled to WebAssembly, @viz-js/viz).
import type { LabPlan } from './topology/types.ts';

const ROLE_COLOURS: Record<string, string> = {
  master: '#f4a261',
  traffic: '#8ecae6',
  nfs: '#b5e48c',
  client: '#e9c46a',
};

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

export function planToDot(plan: LabPlan): string {
  const lines = [
    `graph ${q(plan.lab)} {`,
    `  graph [label=${q(`lab ${plan.lab}${plan.stack ? ` — stack ${plan.stack}` : ''}${plan.vip ? ` — VIP ${plan.vip}` : ''}`)}, labelloc=t, fontname="Helvetica", rankdir=LR, nodesep=0.3];`,
    `  node [fontname="Helvetica", fontsize=10];`,
    `  edge [fontname="Helvetica", fontsize=8];`,
  ];
  for (const net of plan.networks) {
    lines.push(`  ${q('net:' + net.name)} [shape=ellipse, style=filled, fillcolor="#eeeeee", label=${q(`${net.name}\n${net.subnet}`)}];`);
  }
  for (const node of plan.nodes) {
    const colour = ROLE_COLOURS[node.role] ?? '#dddddd';
    const caps = [node.cpus ? `${node.cpus} CPU` : '', node.backend === 'vm' ? 'VM' : ''].filter(Boolean).join(', ');
    const label = `${node.name}\n${node.role} · ${node.image}${caps ? `\n${caps}` : ''}`;
    lines.push(`  ${q('node:' + node.name)} [shape=box, style="rounded,filled", fillcolor=${q(colour)}, label=${q(label)}];`);
    for (const nic of node.nics) {
      lines.push(`  ${q('node:' + node.name)} -- ${q('net:' + nic.network)} [label=${q(`${nic.ifname} ${nic.address}`)}];`);
    }
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

export async function renderSvg(dot: string): Promise<string> {
  const { instance } = await import('@viz-js/viz');
  const viz = await instance();
  return viz.renderString(dot, { format: 'svg', engine: 'dot' });
}
