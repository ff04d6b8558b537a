// Network faults inside a node's network namespace: NIC down, partition (nft drops), packet loss
// (nft numgen random). Each nft fault is its own table, so its rollback is one delete.
import { inNetns, chaosTable, nftTableFault } from '../nodeops.ts';
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const nicFlap: FaultKind = {
  kind: 'nic-flap',
  layer: 'link (ip link set down/up in the node, count times, period_s apart; carrier lost each time)',
  prepare: (ctx, target, params) => {
    const [node, nic] = splitNic(target);
    const period = param(params, 'period_s', 2);
    const count = param(params, 'count', 3);
    if (!(period > 0) || !(count >= 1)) throw new Error(`nic-flap needs period_s > 0 and count ≥ 1 (got ${period}, ${count})`);
    const seen: string[] = [];
    const link = async () => (/[<,]UP[,>]/.test(await inNetns(ctx.backend, ctx.lab, node, ['ip', '-o', 'link', 'show', 'dev', nic])) ? 'up' : 'down');
    const set = async (state: 'up' | 'down') => {
      await inNetns(ctx.backend, ctx.lab, node, ['ip', 'link', 'set', 'dev', nic, state]);
      seen.push(await link());
    };
    return {
      actions: [`${count} × (nsenter -t <pid of ${node}> -n ip link set dev ${nic} down; sleep ${period / 2}; … up; sleep ${period / 2})`],
      inverse: { type: 'link-up', node, ifname: nic },
      // Flaps in the foreground: the runner verifies once the last flap is done.
      act: async () => {
        for (let i = 0; i < count; i++) {
          await set('down');
          await sleep((period * 1000) / 2);
          await set('up');
          if (i < count - 1) await sleep((period * 1000) / 2);
        }
      },
      verify: async () => ({ flaps: count, periodS: period, observed: seen.join(','), link: await link() }),
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
      ...nftTableFault(ctx.backend, ctx.lab, node, 'inet', table, rules),
      verify: async () => {
        const r = await ctx.backend.exec(ctx.lab, node, ['ping', '-c', '1', '-W', '1', addrs[0]!], { check: false });
        return { pingTo: addrs[0], pingFails: r.exitCode !== 0 };
      },
    };
  },
};

/** link-cut: partition of one node from one peer on one network (both directions). */
export const linkCut: FaultKind = {
  kind: 'link-cut',
  layer: 'IP (nftables drop in the node, of one peer on one network, both directions)',
  prepare: (ctx, node, params) => {
    const peer = param<string>(params, 'peer', '');
    const network = param<string>(params, 'network', '');
    if (!peer || !network) throw new Error("link-cut needs 'peer: NODE' and 'network: NAME'");
    return partition.prepare(ctx, node, { from: [peer], network });
  },
};

export const packetLoss: FaultKind = {
  kind: 'loss',
  layer: 'IP (nftables numgen random drop of packets the node receives on its lab NICs; loopback spared)',
  prepare: (ctx, node, params) => {
    const percent = param(params, 'percent', 5);
    if (!(percent > 0 && percent <= 100)) throw new Error(`loss percent must be in (0, 100], not ${percent}`);
    const table = `${chaosTable(ctx.lab)}_${ctx.id}`;
    const rules = `table inet ${table} {
  chain in { type filter hook input priority -10; policy accept; iifname != "lo" numgen random mod 1000 < ${Math.round(percent * 10)} counter drop; }
}\n`;
    return {
      ...nftTableFault(ctx.backend, ctx.lab, node, 'inet', table, rules),
      verify: async () => ({ rules: (await inNetns(ctx.backend, ctx.lab, node, ['nft', 'list', 'table', 'inet', table])).includes('numgen random') }),
    };
  },
};
