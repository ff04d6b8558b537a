// Per-packet faults without netem: nftables in the netdev egress hook of one NIC (kernel ≥ 5.16),
// on a random share of the packets the node sends there (numgen random).
//  duplicate: `dup to` the same NIC: the packet leaves twice.
//  corrupt:   4 bytes at byte 8 of the transport header are overwritten (TCP: the ack number;
//             UDP/ICMP: payload). Checksums are not fixed: a receiver that checks drops the
//             packet (it acts as loss); one that trusts offloaded checksums gets bad data.
// (tc's gact/pedit actions, which could do the same, are not in this kernel.)
import { chaosTable, inNetns, nftTableFault } from '../nodeops.ts';
import { param, type FaultContext, type FaultKind, type PreparedFault } from './fault.ts';

function splitNic(kind: string, target: string): [string, string] {
  const [node, nic] = target.split(':');
  if (!node || !nic) throw new Error(`${kind}: the target is NODE:IFNAME (e.g. web-1:eth0), not '${target}'`);
  return [node, nic];
}

/** ping 100 times from node to a peer on the NIC's network: replies and duplicates. */
async function pingPeer(ctx: FaultContext, node: string, nic: string, peerName?: string) {
  const me = ctx.plan.nodes.find((n) => n.name === node);
  const net = me?.nics.find((x) => x.ifname === nic)?.network;
  const peer = ctx.plan.nodes.find((p) => (peerName ? p.name === peerName : p.name !== node && p.nics.some((x) => x.network === net)));
  const addr = peer?.nics.find((x) => x.network === net)?.address;
  if (!peer || !addr) return { ping: 'no peer on the same network' };
  const r = await ctx.backend.exec(ctx.lab, node, ['ping', '-q', '-c', '100', '-i', '0.01', '-W', '1', addr], { check: false });
  const m = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) duplicates)?/.exec(r.stdout);
  return { peer: peer.name, pingSent: Number(m?.[1] ?? 0), pingReceived: Number(m?.[2] ?? 0), pingDuplicates: Number(m?.[3] ?? 0) };
}

/** skb mark of a packet `duplicate` already copied: the copy passes the same egress hook again. */
const DUP_MARK = '0x48414c42';

function egressRule(kind: string, layer: string, statement: (nic: string) => string, guard = ''): FaultKind {
  return {
    kind,
    layer,
    prepare: (ctx, target, params): PreparedFault => {
      const [node, nic] = splitNic(kind, target);
      const percent = param(params, 'percent', 5);
      if (!(percent > 0 && percent <= 100)) throw new Error(`${kind} percent must be in (0, 100], not ${percent}`);
      const table = `${chaosTable(ctx.lab)}_${ctx.id}`;
      const rules = `table netdev ${table} {
  chain eg { type filter hook egress device "${nic}" priority 0; policy accept; ${guard}numgen random mod 1000 < ${Math.round(percent * 10)} counter ${statement(nic)}; }
}\n`;
      return {
        ...nftTableFault(ctx.backend, ctx.lab, node, 'netdev', table, rules),
        verify: async () => {
          const ping = await pingPeer(ctx, node, nic, param<string | undefined>(params, 'peer', undefined));
          const listed = await inNetns(ctx.backend, ctx.lab, node, ['nft', 'list', 'table', 'netdev', table]);
          return { percent, ...ping, packetsHit: Number(/counter packets (\d+)/.exec(listed)?.[1] ?? 0) };
        },
      };
    },
  };
}

// `dup to` the same NIC sends the copy through this egress hook again, where it could be copied
// again (up to the kernel's recursion limit): 30 % asked gave 53 duplicates in 100 pings. The
// copied packet is marked first, and a marked packet is never copied.
export const duplicate = egressRule(
  'duplicate',
  'link (nftables netdev egress: a random share of the packets sent twice)',
  (nic) => `meta mark set ${DUP_MARK} dup to "${nic}"`,
  `meta mark != ${DUP_MARK} `,
);
export const corrupt = egressRule(
  'corrupt',
  'transport header / payload (nftables netdev egress: 4 bytes overwritten in a random share of packets; checksums not fixed)',
  () => '@th,64,32 set 0xbad0bad0',
);
