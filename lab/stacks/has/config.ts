// The HAS stack's settings: read from the topology's `params:` (snake_case keys), with the
// defaults below. Every value the thesis leaves open is chosen here and printed in reports
// (TARGETS.md §D rule 4).
import ipaddr from 'ipaddr.js';
import { hostAt } from '../../topology/addresses.ts';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';

export interface HasConfig {
  lab: string;
  /** Service VIP (topology `vip:`), on `vipNetwork`. */
  vip: string;
  vipNetwork: string;
  /** Floating IP of the NFS service (params.nfs_vip; default host .100 of the second network). */
  nfsVip: string;
  nfsVipNetwork: string;
  vrrp: {
    /** keepalived advert_int, seconds (≥ 0.01). */
    advertSeconds: number;
    routerId: number;
    /** Priority of m1, m2, … (first master is the initial MASTER). */
    priorities: number[];
  };
  /** LDirectord-like checks (thesis: 2 s interval, 10 s timeout; failed node → weight 0). */
  health: { intervalSeconds: number; timeoutSeconds: number; path: string };
  /** Traffic manager: load reports every period; weights recomputed every period. */
  trafficManager: { periodSeconds: number; port: number };
  balancer: 'nft-dr' | 'haproxy';
  /** Apache watchdog period (the thesis's cron job): longer than the health check interval. */
  apacheWatchdogSeconds: number;
  /**
   * The traffic nodes' NFS client: how long attributes and names are cached (params.
   * nfs_cache_seconds) and the FUSE client's RPC timeout (params.nfs_rpc_timeout_ms: how long a
   * lost server stalls a call before the client reconnects).
   */
  nfsClient: { cacheSeconds: number; rpcTimeoutMs: number };
  /** Route failover daemon (erd): safety poll period (it acts on the kernel's link events). */
  erd: { pollMs: number };
  /** WebBench-like file set on every traffic node (deterministic from the seed). */
  files: { seed: number; count: number; meanBytes: number };
  /**
   * Factor on the deploy's waits (VIP taken, service answering): 1, or 10 when a master is a VM —
   * a TCG guest runs everything (keepalived, nft, node daemons, each exec) many times slower.
   */
  waitScale: number;
  masters: PlannedNode[];
  traffic: PlannedNode[];
  nfs: PlannedNode[];
  clients: PlannedNode[];
}

type Params = Record<string, unknown>;

function num(params: Params, key: string, dflt: number, min: number, max: number): number {
  const v = params[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new UserError(`params.${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function networkOf(plan: LabPlan, address: string): string {
  const ip = ipaddr.parse(address);
  const net = plan.networks.find((n) => ip.match(ipaddr.parseCIDR(n.subnet)));
  if (!net) throw new UserError(`${address} is in none of lab ${plan.lab}'s networks`);
  return net.name;
}

/** Host `.100` (or the given offset) of a network: the default place for floating IPs. */
export function hasConfig(plan: LabPlan): HasConfig {
  const p = plan.params ?? {};
  const byRole = (role: string) => plan.nodes.filter((n) => n.role === role);
  const masters = byRole('master');
  const traffic = byRole('traffic');
  if (!plan.vip) throw new UserError(`stack has needs a top-level 'vip:' in the topology of lab ${plan.lab}`);
  if (masters.length < 2) throw new UserError(`stack has needs 2 nodes of role master (found ${masters.length})`);
  if (traffic.length < 1) throw new UserError('stack has needs at least one node of role traffic');
  const second = plan.networks[1] ?? plan.networks[0]!;
  const nfsVip = typeof p.nfs_vip === 'string' ? p.nfs_vip : hostAt(second.subnet, 100);
  const balancer = p.balancer ?? 'nft-dr';
  if (balancer !== 'nft-dr' && balancer !== 'haproxy') throw new UserError(`params.balancer must be nft-dr or haproxy`);
  return {
    lab: plan.lab,
    vip: plan.vip,
    vipNetwork: networkOf(plan, plan.vip),
    nfsVip,
    nfsVipNetwork: networkOf(plan, nfsVip),
    vrrp: {
      advertSeconds: num(p, 'vrrp_advert_interval', 0.02, 0.01, 255),
      routerId: num(p, 'vrrp_router_id', 51, 1, 255),
      priorities: masters.map((_, i) => 150 - 50 * Math.min(i, 2)),
    },
    health: {
      intervalSeconds: num(p, 'health_check_interval', 2, 0.1, 60),
      timeoutSeconds: num(p, 'health_check_timeout', 10, 0.1, 120),
      path: typeof p.health_check_path === 'string' ? p.health_check_path : '/health',
    },
    trafficManager: { periodSeconds: num(p, 'traffic_manager_period', 1, 0.1, 60), port: num(p, 'traffic_manager_port', 7070, 1024, 65535) },
    balancer,
    nfsClient: { cacheSeconds: num(p, 'nfs_cache_seconds', 60, 0, 86400), rpcTimeoutMs: num(p, 'nfs_rpc_timeout_ms', 300, 50, 60000) },
    erd: { pollMs: num(p, 'erd_poll_ms', 1000, 5, 60000) },
    apacheWatchdogSeconds: num(p, 'apache_watchdog_interval', 5, 1, 3600),
    files: {
      seed: num(p, 'fileset_seed', 1032, 0, 2 ** 31),
      count: num(p, 'fileset_count', 6200, 1, 100000),
      meanBytes: num(p, 'fileset_mean_bytes', 5700, 64, 10_000_000),
    },
    waitScale: masters.some((m) => m.backend === 'vm') ? 10 : 1,
    masters,
    traffic,
    nfs: byRole('nfs'),
    clients: byRole('client'),
  };
}

/**
 * The load report a traffic node's client daemon sends to the traffic manager on every master
 * (UDP, JSON, to <master lan address>:<trafficManager.port>, every period).
 */
export interface LoadReport {
  node: string;
  /** Wall-clock ms when measured. */
  t: number;
  /** CPU used over the last period as a fraction of the node's cap (0..1+). */
  cpuUse: number;
  /** Memory used as a fraction of the node's limit (0..1). */
  memUse: number;
  /** The load index the weight is derived from (higher = more spare capacity). */
  index: number;
}
