// The two HAS masters (1+1 active/standby): keepalived VRRP holding the service VIP, the
// balancer table (nft DR or HAProxy), and the traffic manager + health checker daemon.
import { fileURLToPath } from 'node:url';
import { hostAt } from '../../topology/addresses.ts';
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { daemonRunning, installDaemon, putFileIfChanged, startDaemon, stopDaemon } from '../node-files.ts';
import type { HasConfig } from './config.ts';
import {
  DR_NFT_PATH,
  drSpecFor,
  HAPROXY_SOCKET,
  haproxyConf,
  initialAssignment,
  nicOn,
  type DrSettings,
} from './balancer.ts';
import { DR_TABLE, drTableScript, type DrNode } from './daemons/dr-table.ts';
import type { TrafficManagerConfig } from './daemons/traffic-manager.ts';
import { startVipWatch } from './vip-watch.ts';
import { allowVrrpRealtime } from './realtime.ts';
import { EVENTS_FILE, KEEPALIVED_CONF_PATH, KEEPALIVED_PID_ARGS, keepalivedConf, NOTIFY_SCRIPT_PATH, notifyScript, type VrrpInstance } from './vrrp.ts';

const TM_ENTRY = fileURLToPath(new URL('./daemons/traffic-manager.ts', import.meta.url));
export const TM_CONFIG_PATH = '/etc/halab/traffic-manager.json';
export const TM_STATE_PATH = '/run/halab/traffic-manager.json';

/** The floating address of the active master on a network other than the VIP's (host .99). */
export function masterAddressOn(cfg: HasConfig, network: string): string {
  const net = cfg.masters[0]!.nics.find((n) => n.network === network);
  if (!net) throw new UserError(`no master NIC on ${network}`);
  return hostAt(`${net.address}/${net.prefixLength}`, 99);
}

/** VRRP instances of one master: one per network both masters share; the VIP on its network's. */
export function vrrpInstances(cfg: HasConfig, self: PlannedNode, peers: PlannedNode[]): VrrpInstance[] {
  const out: VrrpInstance[] = [];
  self.nics.forEach((nic, k) => {
    const peerAddrs = peers.map((p) => p.nics.find((x) => x.network === nic.network)?.address).filter((a): a is string => !!a);
    if (!peerAddrs.length) return;
    out.push({
      name: `VI_${nic.network.replace(/[^A-Za-z0-9_]/g, '_')}`,
      ifname: nic.ifname,
      routerId: ((cfg.vrrp.routerId - 1 + k) % 255) + 1,
      selfAddress: nic.address,
      peerAddresses: peerAddrs,
      // keepalived (VRRPv3) wants at least one address per instance: a heartbeat-only LAN gets
      // the "active master" address, host .99 of its subnet (never handed out: addresses go
      // from .10 upward, and labs have far fewer than 89 nodes).
      vips: [nic.network === cfg.vipNetwork ? `${cfg.vip}/${nic.prefixLength}` : `${masterAddressOn(cfg, nic.network)}/${nic.prefixLength}`],
    });
  });
  if (!out.some((i) => i.vips[0]?.startsWith(`${cfg.vip}/`))) throw new UserError(`master ${self.name} has no NIC on the VIP network ${cfg.vipNetwork}`);
  return out;
}

export function trafficManagerConfig(cfg: HasConfig, s: DrSettings, master: PlannedNode, assignment: number[], drNodes: DrNode[] = []): TrafficManagerConfig {
  return {
    node: master.name,
    port: cfg.trafficManager.port,
    periodSeconds: cfg.trafficManager.periodSeconds,
    timeoutSeconds: s.reportTimeoutSeconds,
    health: { ...cfg.health, port: 80 },
    balancer: cfg.balancer,
    buckets: s.buckets,
    seed: s.seed,
    smoothing: 0.5,
    nodes: cfg.traffic.map((n, i) => {
      // The master's own NIC names (they may differ between masters).
      const paths = drNodes.find((d) => d.id === i + 1)?.paths?.flatMap((p) => {
        const dev = master.nics.find((x) => x.network === p.network)?.ifname;
        return dev ? [{ ...p, device: dev }] : [];
      });
      return { id: i + 1, name: n.name, address: nicOn(n, cfg.vipNetwork).address, cpus: n.cpus ?? 1, ...(paths?.length ? { paths } : {}) };
    }),
    initialAssignment: assignment,
    eventsFile: EVENTS_FILE,
    stateFile: TM_STATE_PATH,
    haproxySocket: HAPROXY_SOCKET,
    haproxyBackends: s.ports.map((p) => `be_${p}`),
  };
}

/** Write a file only when its content changed; says whether it did. */
const putIfChanged = (ctx: StackContext, node: string, path: string, content: string, mode?: string) =>
  putFileIfChanged(ctx.backend, ctx.plan.lab, node, path, content, mode);

async function vipHolder(ctx: StackContext, cfg: HasConfig, master: PlannedNode): Promise<boolean> {
  const nic = nicOn(master, cfg.vipNetwork);
  const r = await ctx.backend.exec(cfg.lab, master.name, ['ip', '-o', '-4', 'addr', 'show', 'dev', nic.ifname], { check: false });
  return r.stdout.includes(` ${cfg.vip}/`);
}

async function waitFor(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new UserError(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * CFS period of a capped master, ms. Over Docker's 100 ms period a master at 0.5 cores that used
 * its 50 ms (a node daemon starting during a deploy) was throttled for the rest of the period:
 * 16 times in its first minute on has-2, and the standby took the VIP from it, since with 0.02 s
 * adverts it declares the master dead after ≈ 70 ms. Over 10 ms the same share comes in 5 ms
 * slices and no pause is long enough to miss three adverts.
 */
export const MASTER_CFS_PERIOD_MS = 10;

export async function deployMasters(ctx: StackContext, cfg: HasConfig, s: DrSettings, nodes: DrNode[]): Promise<void> {
  const { backend } = ctx;
  const assignment = initialAssignment(cfg, s);
  const masters = cfg.masters;
  // Again on every deploy: a restarted container gets Docker's period back.
  if (backend.setCpuLimit) for (const m of masters) if (m.cpus && m.backend !== 'vm') await backend.setCpuLimit(cfg.lab, m.name, m.cpus, { periodMs: MASTER_CFS_PERIOD_MS });
  // 1. The balancer and the traffic manager on both masters (the standby's copy is inert: no
  //    frame is addressed to its MAC until it holds the VIP).
  await Promise.all(
    masters.map(async (m) => {
      if (cfg.balancer === 'nft-dr') {
        const spec = drSpecFor(cfg, s, m, nodes, assignment);
        // Reloading the table would empty the sticky connection map: only when it changed.
        const changed = await putIfChanged(ctx, m.name, DR_NFT_PATH, drTableScript(spec));
        const loaded = (await backend.exec(cfg.lab, m.name, ['nft', 'list', 'table', 'netdev', DR_TABLE], { check: false })).exitCode === 0;
        if (changed || !loaded) await backend.exec(cfg.lab, m.name, ['nft', '-f', DR_NFT_PATH]);
      } else {
        // HAProxy binds the VIP before it holds it.
        await backend.setSysctl(cfg.lab, m.name, 'net.ipv4.ip_nonlocal_bind', '1');
        const changed = await putIfChanged(ctx, m.name, '/etc/haproxy/haproxy.cfg', haproxyConf(cfg, s));
        if (changed) await stopDaemon(backend, cfg.lab, m.name, 'haproxy');
        await startDaemon(backend, cfg.lab, m.name, { name: 'haproxy', argv: ['haproxy', '-W', '-db', '-f', '/etc/haproxy/haproxy.cfg'] });
      }
      const argv = await installDaemon(backend, cfg.lab, m.name, 'traffic-manager', TM_ENTRY); // stops it when the bundle changed
      const configChanged = await putIfChanged(ctx, m.name, TM_CONFIG_PATH, JSON.stringify(trafficManagerConfig(cfg, s, m, assignment, nodes), null, 2) + '\n');
      // Restarted only when its config changed: a redeploy after one traffic node's restart must not
      // reset the health and load state the manager holds for all the others (a restarted manager
      // starts from every node at once).
      if (configChanged) await stopDaemon(backend, cfg.lab, m.name, 'traffic-manager');
      await startDaemon(backend, cfg.lab, m.name, { name: 'traffic-manager', argv: [...argv, TM_CONFIG_PATH] });
    }),
  );
  // 2. keepalived, the highest priority first so the initial MASTER is deterministic (m1).
  for (const [i, m] of masters.entries()) {
    const peers = masters.filter((p) => p !== m);
    await putIfChanged(ctx, m.name, NOTIFY_SCRIPT_PATH, notifyScript(m.name), '0755');
    const instances = vrrpInstances(cfg, m, peers);
    const realtime = await allowVrrpRealtime(ctx, cfg.lab, m); // again on every deploy: a restarted container's cgroup has no budget
    const conf = keepalivedConf({
      lab: cfg.lab,
      node: m.name,
      priority: cfg.vrrp.priorities[i] ?? 100,
      advertSeconds: cfg.vrrp.advertSeconds,
      preemptDelaySeconds: s.preemptDelaySeconds,
      instances,
      notifyScript: NOTIFY_SCRIPT_PATH,
      realtime,
    });
    await startVipWatch(ctx, cfg.lab, m.name, instances, 20_000 * cfg.waitScale);
    const changed = await putIfChanged(ctx, m.name, KEEPALIVED_CONF_PATH, conf);
    if (changed && (await daemonRunning(backend, cfg.lab, m.name, 'keepalived'))) {
      await backend.exec(cfg.lab, m.name, ['sh', '-c', 'kill -HUP "$(cat /run/halab/keepalived.pid)"']);
    }
    await startDaemon(backend, cfg.lab, m.name, {
      name: 'keepalived',
      argv: ['keepalived', '--dont-fork', '--log-console', '--use-file', KEEPALIVED_CONF_PATH, '--vrrp', ...KEEPALIVED_PID_ARGS],
    });
    if (i === 0) {
      const anyHolder = async () => (await Promise.all(masters.map((x) => vipHolder(ctx, cfg, x)))).some(Boolean);
      await waitFor(`a master to take the VIP ${cfg.vip}`, 15_000 * cfg.waitScale, anyHolder);
    }
  }
}

export interface MasterStatus {
  node: string;
  vrrp: string;
  holdsVip: boolean;
  table?: {
    t: number;
    balancer: string;
    buckets: number;
    nodes: { name: string; buckets: number; healthy: boolean; index: number; cpuUse: number | null; memUse: number | null; reportAgeMs: number | null }[];
  };
  packets?: Record<string, number>;
}

export async function inspectMasters(ctx: StackContext, cfg: HasConfig): Promise<MasterStatus[]> {
  return Promise.all(
    cfg.masters.map(async (m): Promise<MasterStatus> => {
      const info = await ctx.backend.inspect(cfg.lab, m.name).catch(() => undefined);
      if (info?.state !== 'running') return { node: m.name, vrrp: (info?.state ?? 'missing').toUpperCase(), holdsVip: false };
      const r = await ctx.backend.exec(
        cfg.lab,
        m.name,
        ['sh', '-c', `cat /run/halab/vrrp-*.state 2>/dev/null | head -n 20; echo ---; cat ${TM_STATE_PATH} 2>/dev/null; echo; echo ---; nft list table netdev halab_dr 2>/dev/null | grep -E 'chain rs|counter packets'`],
        { check: false },
      );
      const [vr = '', tm = '', nft = ''] = r.stdout.split('---\n');
      const states = [...new Set(vr.split('\n').map((l) => l.split(' ')[0]).filter(Boolean))];
      const holdsVip = await vipHolder(ctx, cfg, m).catch(() => false);
      let table: MasterStatus['table'];
      try {
        table = tm.trim() ? JSON.parse(tm) : undefined;
      } catch {
        table = undefined;
      }
      const packets: Record<string, number> = {};
      let chain = '';
      for (const line of nft.split('\n')) {
        const c = /chain rs(\d+)/.exec(line);
        if (c) chain = c[1]!;
        const p = /counter packets (\d+)/.exec(line);
        if (p && chain) packets[cfg.traffic[Number(chain) - 1]?.name ?? chain] = Number(p[1]);
      }
      const running = await daemonRunning(ctx.backend, cfg.lab, m.name, 'keepalived').catch(() => false);
      const vrrp = !running ? 'STOPPED' : states.length === 1 ? states[0]! : states.length ? states.join('/') : 'INIT';
      return { node: m.name, vrrp, holdsVip, table, packets };
    }),
  );
}
