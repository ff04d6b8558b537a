// Network faults inside a node's network namespace: NIC down, partition (nft drops), packet loss
// (nft numgen random). Each nft fault is its own table, so its rollback is one delete.
import { inNetns, chaosTable } from '../nodeops.ts';
import { param, type FaultKind } from './fault.ts';

function splitNic(target: string): [string, string] {
  const [node, nic] = target.split(':');
  if (!node || !nic) throw new Error(`a NIC target is NODE:IFNAME (e.g. web-1:eth1), not '${target}'`);
  return [node, nic];
}

export const nicDown: FaultKind = {
  kind: 'nic-down',
  layer: 'link (ip link set down in the node: carrier lost)',
  prepare: (ctx, target) => {
    const [node, nic] = splitNic(target);
    return {
      actions: [`nsenter -t <pid of ${node}> -n ip link set dev ${nic} down`],
      inverse: { type: 'link-up', node, ifname: nic },
      act: async () => void (await inNetns(ctx.backend, ctx.lab, node, ['ip', 'link', 'set', 'dev', nic, 'down'])),
      // (sysfs seen through nsenter is the host's: ask ip in the node's namespace)
      verify: async () => {
        const flags = await inNetns(ctx.backend, ctx.lab, node, ['ip', '-o', 'link', 'show', 'dev', nic]);
        return { link: /[<,]UP[,>]/.test(flags) ? 'up' : 'down' };
      },
    };
  },
};

/** Addresses of the peers a partition cuts this node off from. */
function peerAddresses(ctx: Parameters<FaultKind['prepare']>[0], peers: string[], network?: string): string[] {
  return ctx.plan.nodes
    .filter((n) => peers.includes(n.name))
    .flatMap((n) => n.nics.filter((x) => !network || x.network === network).map((x) => x.address));
}

export const partition: FaultKind = {
  kind: 'partition',
  layer: 'IP (nftables drop in the node, both directions unless one_way)',
  prepare: (ctx, node, params) => {
    const peers = param<string[]>(params, 'from', []);
    const oneWay = param(params, 'one_way', false);
    const addrs = peerAddresses(ctx, peers, param<string | undefined>(params, 'network', undefined));
    if (addrs.length === 0) throw new Error(`partition of ${node}: 'from' names no node with an address (${peers.join(', ')})`);
    const table = `${chaosTable(ctx.lab)}_${ctx.id}`;
    const set = `{ ${addrs.join(', ')} }`;
    const rules = `table inet ${table} {
  chain in { type filter hook input priority -10; policy accept; ip saddr ${set} drop; }
  ${oneWay ? '' : `chain out { type filter hook output priority -10; policy accept; ip daddr ${set} drop; }`}
}\n`;
    return {
      actions: [`nsenter -t <pid of ${node}> -n nft -f - <<< '${rules.replace(/\n/g, ' ')}'`],
      inverse: { type: 'nft-delete-table', node, family: 'inet', table },
      act: async () => void (await inNetns(ctx.backend, ctx.lab, node, ['nft', '-f', '-'], rules)),
      verify: async () => {
        const r = await ctx.backend.exec(ctx.lab, node, ['ping', '-c', '1', '-W', '1', addrs[0]!], { check: false });
        return { pingTo: addrs[0], pingFails: r.exitCode !== 0 };
      },
    };
  },
};

export const packetLoss: FaultKind = {
  kind: 'loss',
  layer: 'IP (nftables numgen random drop of incoming packets in the node)',
  prepare: (ctx, node, params) => {
    const percent = param(params, 'percent', 5);
    if (!(percent > 0 && percent <= 100)) throw new Error(`loss percent must be in (0, 100], not ${percent}`);
    const table = `${chaosTable(ctx.lab)}_${ctx.id}`;
    const rules = `table inet ${table} {
  chain in { type filter hook input priority -10; policy accept; numgen random mod 1000 < ${Math.round(percent * 10)} counter drop; }
}\n`;
    return {
      actions: [`nsenter -t <pid of ${node}> -n nft -f - <<< '${rules.replace(/\n/g, ' ')}'`],
      inverse: { type: 'nft-delete-table', node, family: 'inet', table },
      act: async () => void (await inNetns(ctx.backend, ctx.lab, node, ['nft', '-f', '-'], rules)),
      verify: async () => ({ rules: (await inNetns(ctx.backend, ctx.lab, node, ['nft', 'list', 'table', 'inet', table])).includes('numgen random') }),
    };
  },
};
