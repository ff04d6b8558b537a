// The HAS stack (I. Haddad's HAS architecture, 003): HA-NFS, traffic nodes (Apache + traffic
// client), the masters (VRRP + direct-routing balancer + traffic manager), route failover (erd).
// Deploy order: NFS → traffic nodes → DR on the traffic nodes → masters → erd → the client gets
// an HTTP 200 through the VIP.
import type { Stack, StackContext, StackInspection } from '../stack.ts';
import { UserError } from '../../util/errors.ts';
import { hasConfig, type HasConfig } from './config.ts';
import { drNodes, drSettings, prepareTrafficNodesForDr } from './balancer.ts';
import { deployMasters, inspectMasters } from './masters.ts';
import { deployNfs, inspectNfs } from './nfs.ts';
import { deployTrafficNodes, markInService } from './traffic.ts';
import { deployErd } from './erd.ts';

/** Wait until the node `client` (else the first client-role node) gets HTTP 200 from the VIP. */
export async function waitForService(ctx: StackContext, cfg: HasConfig, timeoutMs = 60_000 * cfg.waitScale): Promise<number> {
  const client = cfg.clients.find((c) => c.name === 'client') ?? cfg.clients[0];
  if (!client) {
    ctx.log.warn('no client node: not checking the service through the VIP');
    return 0;
  }
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    const r = await ctx.backend.exec(
      cfg.lab,
      client.name,
      ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-m', '2', `http://${cfg.vip}${cfg.health.path}`],
      { check: false },
    );
    last = r.stdout.trim() || `curl exit ${r.exitCode}`;
    if (last === '200') return Date.now() - t0;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new UserError(`the service at http://${cfg.vip}${cfg.health.path} did not answer 200 from ${client.name} within ${timeoutMs} ms (last: ${last})`);
}

export const hasStack: Stack = {
  name: 'has',
  async deploy(ctx) {
    const cfg = hasConfig(ctx.plan);
    const s = drSettings(cfg, ctx.plan.params ?? {});
    const { log } = ctx;
    // After a fault only the restarted nodes came back bare; the others still run what the last
    // deploy gave them. Touching them again costs their capped CPU (each exec on a 0.1-core node
    // waits for its CFS slices) while they serve. The masters are always redeployed: the step is
    // idempotent and keeps both balancers' tables in step.
    const restarted = ctx.restarted;
    const toDeploy = <T extends { name: string }>(nodes: readonly T[]): T[] => nodes.filter((n) => !restarted || restarted.includes(n.name));
    const traffic: HasConfig = { ...cfg, traffic: toDeploy(cfg.traffic) };
    if (!restarted || toDeploy(cfg.nfs).length) await log.step('HAS: NFS', () => deployNfs(ctx, cfg));
    if (traffic.traffic.length) {
      await log.step(`HAS: traffic nodes (${traffic.traffic.length})`, () => deployTrafficNodes(ctx, traffic));
      if (cfg.balancer === 'nft-dr') await log.step('HAS: direct routing on the traffic nodes', () => prepareTrafficNodesForDr(ctx, traffic));
      await markInService(ctx, traffic); // only now may the health checks pass (a restarted node's page is gone)
    }
    const nodes = cfg.balancer === 'nft-dr' ? await drNodes(ctx, cfg) : [];
    await log.step(`HAS: masters (VRRP advert ${cfg.vrrp.advertSeconds} s, balancer ${cfg.balancer})`, () => deployMasters(ctx, cfg, s, nodes));
    await log.step('HAS: route failover (erd)', () => deployErd(ctx, cfg, toDeploy(ctx.plan.nodes)));
    const ms = await log.step(`HAS: service through the VIP ${cfg.vip}`, () => waitForService(ctx, cfg));
    log.info(`HAS: http://${cfg.vip}${cfg.health.path} answered 200 after ${ms} ms`);
  },

  async inspect(ctx): Promise<StackInspection> {
    const cfg = hasConfig(ctx.plan);
    const [masters, nfs] = await Promise.all([
      inspectMasters(ctx, cfg),
      inspectNfs(ctx, cfg).catch((e: Error) => ({ owner: null, lines: [`could not inspect NFS: ${e.message}`] })),
    ]);
    const out: StackInspection = { nodes: {}, sections: [] };
    for (const m of masters) out.nodes[m.node] = { vrrp: m.holdsVip ? `${m.vrrp} (VIP)` : m.vrrp };
    const active = masters.find((m) => m.holdsVip);
    for (const m of masters) {
      const t = m.table;
      const lines: string[] = [];
      if (!t) lines.push('traffic manager: no state yet');
      else {
        const age = ((Date.now() - t.t) / 1000).toFixed(1);
        lines.push(`${t.balancer}, ${t.buckets} buckets, updated ${age} s ago`);
        lines.push(['node', 'weight', 'share', 'healthy', 'index', 'cpu', 'mem', 'report', 'packets'].map((h) => h.padEnd(9)).join(' '));
        for (const n of t.nodes) {
          const pct = (x: number | null) => (x === null ? '-' : `${Math.round(x * 100)}%`);
          lines.push(
            [
              n.name,
              String(n.buckets),
              `${((100 * n.buckets) / t.buckets).toFixed(1)}%`,
              n.healthy ? 'yes' : 'NO',
              String(n.index),
              pct(n.cpuUse),
              pct(n.memUse),
              n.reportAgeMs === null ? 'never' : `${(n.reportAgeMs / 1000).toFixed(1)}s ago`,
              String(m.packets?.[n.name] ?? '-'),
            ]
              .map((c) => c.padEnd(9))
              .join(' '),
          );
        }
      }
      out.sections.push({ title: `balancer on ${m.node}${m === active ? ' (active)' : ''}`, lines });
    }
    out.sections.push({ title: `NFS (owner: ${nfs.owner ?? 'none'})`, lines: nfs.lines });
    return out;
  },
};
