// Bandwidth limit on a node's NIC(s) with tc (the kernel has tbf and htb, not netem): egress by a
// tbf root qdisc; ingress by redirecting the NIC's ingress to an ifb device whose root is a tbf.
// Target NODE:NIC, or NODE for all its NICs. params: rate_kbit, direction (egress | ingress |
// both), peer (node the evidence transfer runs with; default: another node on the NIC's network).
import type { PlannedNode } from '../../lab/topology/types.ts';
import { inNetns } from '../nodeops.ts';
import type { Inverse } from '../journal.ts';
import { param, type FaultContext, type FaultKind } from './fault.ts';
import { measureTransfer } from './measure.ts';

/** A handle no one else uses, so the inverse deletes our qdisc and nothing else. */
const HANDLE = '4a1:';

export function tbfArgs(rateKbit: number): string[] {
  // burst ≈ 20 ms of traffic (≥ 2 full frames): smaller starves TSO-sized packets, larger lets bursts through.
  const burst = Math.max(3028, Math.round((rateKbit * 1000) / 8 / 50));
  return ['tbf', 'rate', `${rateKbit}kbit`, 'burst', String(burst), 'latency', '100ms'];
}

/** ifb names are ≤ 15 characters: one per fault and NIC. */
export const ifbName = (id: string, nic: string) => `hb${id.replace(/[^A-Za-z0-9]/g, '')}${nic.replace(/\D/g, '')}`.slice(0, 15);

interface NicPlan {
  nic: string;
  ifb: string;
  network: string;
}

function nicsOf(ctx: FaultContext, target: string): { node: PlannedNode; nics: NicPlan[] } {
  const [name, only] = target.split(':');
  const node = ctx.plan.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`bandwidth: no node ${name} in lab ${ctx.lab}`);
  const nics = node.nics.filter((n) => !only || n.ifname === only).map((n) => ({ nic: n.ifname, ifb: ifbName(ctx.id, n.ifname), network: n.network }));
  if (!nics.length) throw new Error(`bandwidth: ${name} has no NIC ${only}`);
  return { node, nics };
}

export const bandwidth: FaultKind = {
  kind: 'bandwidth',
  layer: 'link (tc tbf on the NIC for egress; ingress redirected to an ifb device shaped by tbf)',
  prepare: (ctx, target, params) => {
    const rate = param(params, 'rate_kbit', 8000);
    const direction = param<string>(params, 'direction', 'both');
    if (!(rate > 0)) throw new Error(`bandwidth rate_kbit must be > 0, not ${rate}`);
    if (!['egress', 'ingress', 'both'].includes(direction)) throw new Error(`bandwidth direction must be egress, ingress or both, not '${direction}'`);
    const egress = direction !== 'ingress';
    const ingress = direction !== 'egress';
    const { node, nics } = nicsOf(ctx, target);
    const cmds = (n: NicPlan): string[][] => [
      ...(egress ? [['tc', 'qdisc', 'add', 'dev', n.nic, 'root', 'handle', HANDLE, ...tbfArgs(rate)]] : []),
      ...(ingress
        ? [
            ['ip', 'link', 'add', n.ifb, 'type', 'ifb'],
            ['ip', 'link', 'set', 'dev', n.ifb, 'up'],
            ['tc', 'qdisc', 'add', 'dev', n.ifb, 'root', 'handle', HANDLE, ...tbfArgs(rate)],
            ['tc', 'qdisc', 'add', 'dev', n.nic, 'handle', 'ffff:', 'ingress'],
            ['tc', 'filter', 'add', 'dev', n.nic, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', n.ifb],
          ]
        : []),
    ];
    const inverse: Inverse = {
      type: 'netns',
      node: node.name,
      note: `bandwidth limit removed from ${nics.map((n) => n.nic).join(', ')}`,
      cmds: nics.flatMap((n) => [
        ['tc', 'qdisc', 'del', 'dev', n.nic, 'root', 'handle', HANDLE],
        // the ingress qdisc only when our ifb exists (so a foreign ingress qdisc is never touched)
        ['sh', '-c', `ip link show ${n.ifb} >/dev/null 2>&1 && tc qdisc del dev ${n.nic} ingress; ip link del ${n.ifb} 2>/dev/null; true`],
      ]),
    };
    return {
      actions: nics.flatMap((n) => cmds(n).map((c) => `nsenter -t <pid of ${node.name}> -n ${c.join(' ')}`)),
      inverse,
      act: async () => {
        for (const n of nics) {
          const qd = await inNetns(ctx.backend, ctx.lab, node.name, ['tc', 'qdisc', 'show', 'dev', n.nic]);
          if ((egress && / root /.test(qd) && !/qdisc noqueue/.test(qd)) || (ingress && /qdisc ingress/.test(qd)))
            throw new Error(`bandwidth on ${node.name}:${n.nic}: the NIC already has a qdisc (${qd.trim()}); not touching it`);
          for (const c of cmds(n)) await inNetns(ctx.backend, ctx.lab, node.name, c);
        }
      },
      verify: async () => {
        const n = nics[0]!;
        const peerName = param<string | undefined>(params, 'peer', undefined);
        const peer = ctx.plan.nodes.find((p) => (peerName ? p.name === peerName : p.name !== node.name && p.nics.some((x) => x.network === n.network)));
        const myAddr = node.nics.find((x) => x.ifname === n.nic)!.address;
        const peerAddr = peer?.nics.find((x) => x.network === n.network)?.address;
        if (!peer || !peerAddr) return { rateKbit: rate, nic: n.nic, measured: 'no peer on the same network' };
        const bytes = Math.round(((rate * 1000) / 8) * 1.5); // ~1.5 s at the limit
        const out: Record<string, unknown> = { rateKbit: rate, nic: n.nic, peer: peer.name };
        if (egress) out.egressKbit = (await measureTransfer(ctx.backend, ctx.lab, node.name, peer.name, peerAddr, bytes)).kbitPerSecond;
        if (ingress) out.ingressKbit = (await measureTransfer(ctx.backend, ctx.lab, peer.name, node.name, myAddr, bytes)).kbitPerSecond;
        return out;
      },
    };
  },
};
