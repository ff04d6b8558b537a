// The HAS balancer: LVS-style direct routing rebuilt with nftables (default, `balancer: nft-dr`)
// or HAProxy in TCP mode (`balancer: haproxy`), plus the traffic-node side of direct routing.
// Pure generation lives in daemons/dr-table.ts (shared with the traffic manager); this file
// gathers the facts (MACs, devices) and applies them.
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { putFile } from '../node-files.ts';
import type { HasConfig } from './config.ts';
import { assignBuckets, bucketCounts, drTableScript, type DrNode, type DrPath, type DrTableSpec } from './daemons/dr-table.ts';

/** Balancer settings the thesis leaves open, from params (snake_case) with these defaults. */
export interface DrSettings {
  /** Hash buckets: the weight resolution (a node's weight = its bucket count). */
  buckets: number;
  /** Fixed jhash seed: both masters must hash a flow to the same bucket. */
  seed: number;
  /** Idle timeout of the sticky connection map, seconds. */
  connTimeoutSeconds: number;
  /** Service ports balanced. */
  ports: number[];
  /** Traffic manager: a node silent this long (after reporting once) is removed. */
  reportTimeoutSeconds: number;
  /** keepalived preempt_delay of the higher-priority master when it comes back. */
  preemptDelaySeconds: number;
}

export function drSettings(cfg: HasConfig, params: Record<string, unknown>): DrSettings {
  const num = (key: string, dflt: number, min: number, max: number) => {
    const v = params[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new UserError(`params.${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  };
  return {
    buckets: num('balancer_buckets', 256, 1, 4096),
    seed: num('balancer_seed', 0x5eed, 0, 2 ** 32 - 1),
    connTimeoutSeconds: num('balancer_conn_timeout', 300, 1, 86400),
    ports: [80, 443],
    reportTimeoutSeconds: num('traffic_manager_timeout', Math.max(3 * cfg.trafficManager.periodSeconds, 2) + 0.5, 0.2, 600),
    preemptDelaySeconds: num('vrrp_preempt_delay', 5, 0, 1000),
  };
}

/** The node's NIC on a network, or a clear error. */
export function nicOn(node: PlannedNode, network: string) {
  const nic = node.nics.find((n) => n.network === network);
  if (!nic) throw new UserError(`node ${node.name} has no NIC on ${network}, which the HAS stack needs`);
  return nic;
}

/** Traffic nodes' weights at deploy: equal (the traffic manager refines them from reports). */
export function initialAssignment(cfg: HasConfig, s: DrSettings): number[] {
  const counts = bucketCounts(
    cfg.traffic.map((n, i) => ({ id: i + 1, weight: n.cpus ?? 1 })),
    s.buckets,
  );
  return assignBuckets(counts, s.buckets, s.seed);
}

/** Gather the traffic nodes' MACs on the VIP network (from the backend). */
export async function drNodes(ctx: StackContext, cfg: HasConfig): Promise<DrNode[]> {
  return Promise.all(
    cfg.traffic.map(async (n, i) => {
      const info = await ctx.backend.inspect(cfg.lab, n.name);
      const ifname = nicOn(n, cfg.vipNetwork).ifname;
      let mac = info.nics.find((x) => x.ifname === ifname)?.mac;
      if (!mac) {
        const r = await ctx.backend.exec(cfg.lab, n.name, ['cat', `/sys/class/net/${ifname}/address`]);
        mac = r.stdout.trim();
      }
      // Every network the node and the masters share, the VIP network's first.
      const nets = [cfg.vipNetwork, ...n.nics.map((x) => x.network).filter((x) => x !== cfg.vipNetwork)];
      const paths: DrPath[] = [];
      for (const network of nets) {
        const nic = n.nics.find((x) => x.network === network);
        const masterNic = cfg.masters[0]?.nics.find((x) => x.network === network);
        if (!nic || !masterNic) continue;
        let m = info.nics.find((x) => x.ifname === nic.ifname)?.mac;
        if (!m) m = (await ctx.backend.exec(cfg.lab, n.name, ['cat', `/sys/class/net/${nic.ifname}/address`])).stdout.trim();
        paths.push({ network, device: masterNic.ifname, mac: m, address: nic.address });
      }
      return { id: i + 1, name: n.name, mac, paths };
    }),
  );
}

export function drSpecFor(cfg: HasConfig, s: DrSettings, master: PlannedNode, nodes: DrNode[], assignment: number[]): DrTableSpec {
  return {
    device: nicOn(master, cfg.vipNetwork).ifname,
    vip: cfg.vip,
    ports: s.ports,
    buckets: s.buckets,
    seed: s.seed,
    connTimeoutSeconds: s.connTimeoutSeconds,
    nodes,
    assignment,
  };
}

/**
 * Traffic-node side of direct routing: the VIP on lo (/32), and ARP suppressed so only the
 * active master answers for the VIP: arp_ignore=1 (reply only for addresses on the receiving
 * NIC), arp_announce=2 (never use the VIP as an ARP source). rp_filter stays loose-or-off.
 */
export async function prepareTrafficNodesForDr(ctx: StackContext, cfg: HasConfig): Promise<void> {
  await Promise.all(
    cfg.traffic.map(async (n) => {
      for (const scope of ['all', 'default', 'lo', ...n.nics.map((x) => x.ifname)]) {
        await ctx.backend.setSysctl(cfg.lab, n.name, `net.ipv4.conf.${scope}.arp_ignore`, '1');
        await ctx.backend.setSysctl(cfg.lab, n.name, `net.ipv4.conf.${scope}.arp_announce`, '2');
      }
      await ctx.backend.exec(cfg.lab, n.name, ['sh', '-c', `ip addr show dev lo | grep -q ' ${cfg.vip}/32' || ip addr add ${cfg.vip}/32 dev lo`]);
    }),
  );
}

/** Load (replace) the DR table on a master. */
export const DR_NFT_PATH = '/etc/halab/dr.nft';

export async function applyDrTable(ctx: StackContext, cfg: HasConfig, master: string, spec: DrTableSpec): Promise<void> {
  await putFile(ctx.backend, cfg.lab, master, DR_NFT_PATH, drTableScript(spec));
  await ctx.backend.exec(cfg.lab, master, ['nft', '-f', DR_NFT_PATH]);
}

// ---- HAProxy fallback (TCP mode; the master is in the data path both ways) ------------------

export const HAPROXY_SOCKET = '/run/haproxy-admin.sock';

export function haproxyConf(cfg: HasConfig, s: DrSettings): string {
  const backends = s.ports.map((port) =>
    [
      `frontend fe_${port}`,
      `  bind ${cfg.vip}:${port}`,
      `  default_backend be_${port}`,
      `backend be_${port}`,
      '  balance roundrobin',
      ...cfg.traffic.map((n) => `  server ${n.name} ${nicOn(n, cfg.vipNetwork).address}:${port} weight 1`),
    ].join('\n'),
  );
  return [
    'global',
    '  maxconn 8000', // nofile is capped at 20000 on this machine (env-docker.md)
    `  stats socket ${HAPROXY_SOCKET} mode 600 level admin`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    ...backends,
    '',
  ].join('\n');
}
