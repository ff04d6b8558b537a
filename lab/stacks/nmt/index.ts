// The NMT stack (Garvin, Baldwin, Chang, NCISSE 2001, paper 001): services with a primary and a
// sleeping standby, a cluster monitor pinging every host each M seconds, recovery by RPC, service
// data on NFS. Deploy: NFS server (nfs-ganesha) with the services' data → an agent on every host →
// initial placement (wake on the primaries, sleeping standbys on the secondaries) → a real client
// of every service answers. Idempotent: on a lab whose monitor runs already (a node restarted
// after a fault) it only restarts missing agents; the restarted host rejoins as a free host.
import type { Stack, StackContext, StackInspection } from '../stack.ts';
import { UserError } from '../../util/errors.ts';
import { daemonRunning, installDaemon, putFile, startDaemon } from '../node-files.ts';
import { EXPORT_PATH, ganeshaConf } from '../has/ganesha.ts';
import { nmtConfig, type NmtConfig, type ServiceName } from './config.ts';
import { NFS_DATA, NMT_ETC, NMT_RUN, apacheConf, nfsData, smtpdConf } from './services.ts';
import type { Placement, StatusReply } from './schedule.ts';

const DAEMONS = new URL('./daemons/', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function deployNfs(ctx: StackContext, cfg: NmtConfig): Promise<void> {
  const { backend } = ctx;
  const nfs = ctx.plan.nodes.find((n) => n.role === 'nfs')!;
  // A redeploy (a host restarted after a fault) leaves a running server and its data alone:
  // rewriting files under ganesha made its cached handles stale (NFS4ERR_STALE to the next reads).
  if (await daemonRunning(backend, cfg.lab, nfs.name, 'ganesha')) return;
  const fs = await backend.exec(cfg.lab, nfs.name, ['stat', '-f', '-c', '%T', EXPORT_PATH], { check: false });
  if (fs.stdout.trim() === 'overlayfs') throw new UserError(`${nfs.name}: ${EXPORT_PATH} is on overlayfs; give it 'volumes: [${EXPORT_PATH}]' in the topology`);
  for (const [svc, files] of Object.entries(nfsData(cfg.hosts, cfg.services.find((s) => s.name === 'web')?.ip ?? ''))) {
    await backend.exec(cfg.lab, nfs.name, ['mkdir', '-p', `${EXPORT_PATH}/${NFS_DATA}/${svc}`]);
    for (const [f, text] of Object.entries(files)) await putFile(backend, cfg.lab, nfs.name, `${EXPORT_PATH}/${NFS_DATA}/${svc}/${f}`, text);
  }
  await putFile(backend, cfg.lab, nfs.name, '/etc/ganesha/ganesha.conf', ganeshaConf());
  await backend.exec(cfg.lab, nfs.name, ['mkdir', '-p', '/run/ganesha', '/var/lib/nfs/ganesha']);
  await startDaemon(backend, cfg.lab, nfs.name, {
    name: 'ganesha',
    argv: ['ganesha.nfsd', '-F', '-f', '/etc/ganesha/ganesha.conf', '-L', '/var/log/halab/ganesha.log', '-p', '/run/ganesha/ganesha.pid', '-N', 'NIV_EVENT'],
  });
  const url = `nfs://${cfg.nfs.address}${cfg.nfs.exportPath}/${NFS_DATA}/web/?version=4`;
  for (let i = 0; i < 120; i++) {
    if ((await backend.exec(cfg.lab, nfs.name, ['nfs-ls', url], { check: false })).exitCode === 0) return;
    await sleep(250);
  }
  throw new UserError(`NFS did not answer at ${url} within 30 s (see /var/log/halab/ganesha.log in ${nfs.name})`);
}

async function deployHost(ctx: StackContext, cfg: NmtConfig, name: string): Promise<void> {
  const { backend } = ctx;
  const agent = await installDaemon(backend, cfg.lab, name, 'nmt-agent', `${DAEMONS}agent.ts`);
  const monitor = await installDaemon(backend, cfg.lab, name, 'nmt-monitor', `${DAEMONS}monitor.ts`);
  await putFile(backend, cfg.lab, name, `${NMT_ETC}/nmt.json`, JSON.stringify(cfg, null, 2));
  await putFile(backend, cfg.lab, name, `${NMT_ETC}/apache.conf`, apacheConf(name));
  await putFile(backend, cfg.lab, name, `${NMT_ETC}/smtpd.conf`, smtpdConf(name), '0600');
  await backend.exec(cfg.lab, name, ['mkdir', '-p', NMT_RUN, '/var/lib/nmt', '/var/mail']);
  await startDaemon(backend, cfg.lab, name, { name: 'nmt-agent', argv: [...agent, `${NMT_ETC}/nmt.json`, name, monitor[1]!] });
}

/** An agent RPC made from inside the host itself (the host's own address). */
export async function agentRpc<T>(ctx: StackContext, cfg: NmtConfig, host: string, path: string, body?: unknown): Promise<T> {
  const h = cfg.hosts.find((x) => x.name === host)!;
  const args = ['curl', '-s', '-f', '-m', '70', `http://${h.address}:${cfg.agentPort}${path}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const r = await ctx.backend.exec(cfg.lab, host, args, { check: false });
  if (r.exitCode !== 0) throw new UserError(`agent ${host} ${path}: curl exit ${r.exitCode} ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function agentStatus(ctx: StackContext, cfg: NmtConfig, host: string): Promise<StatusReply | undefined> {
  return agentRpc<StatusReply>(ctx, cfg, host, '/status').catch(() => undefined);
}

/** Wait for a real client in the client node to get an answer from every service. */
export async function waitForServices(ctx: StackContext, cfg: NmtConfig, timeoutMs = 60_000): Promise<Record<ServiceName, string>> {
  if (!cfg.client) throw new UserError('stack nmt needs a node of role client (the real clients run there)');
  const check = await installDaemon(ctx.backend, cfg.lab, cfg.client.name, 'nmt-check', `${DAEMONS}check.ts`);
  const out = {} as Record<ServiceName, string>;
  await Promise.all(
    cfg.services.map(async (s) => {
      const end = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const r = await ctx.backend.exec(cfg.lab, cfg.client!.name, [...check, s.name, s.ip, '2000'], { check: false });
        if (r.exitCode === 0) return void (out[s.name] = r.stdout.trim());
        last = r.stderr.trim();
        if (Date.now() > end) throw new UserError(`service ${s.name} at ${s.ip} did not answer a real client within ${timeoutMs} ms (${last})`);
        await sleep(300);
      }
    }),
  );
  return out;
}

export const nmtStack: Stack = {
  name: 'nmt',
  async deploy(ctx) {
    const cfg = nmtConfig(ctx.plan);
    const { log } = ctx;
    await log.step('NMT: NFS server with the services\' data', () => deployNfs(ctx, cfg));
    // After a fault only the restarted hosts lack their agent: the others' files and agents are
    // left alone (nine hosts' worth of docker execs took 10–20 s on a loaded runner).
    const bare = ctx.restarted ? cfg.hosts.filter((h) => ctx.restarted!.includes(h.name)) : cfg.hosts;
    await log.step(`NMT: agents on ${bare.length} hosts`, () => Promise.all(bare.map((h) => deployHost(ctx, cfg, h.name))));
    const statuses = await Promise.all(
      cfg.hosts.map(async (h) => {
        for (let i = 0; i < 80; i++) {
          const s = await agentStatus(ctx, cfg, h.name);
          if (s) return s;
          await sleep(250);
        }
        throw new UserError(`agent on ${h.name} did not answer (see /var/log/halab/nmt-agent.log there)`);
      }),
    );
    if (statuses.some((s) => s.services.monitor === 'active')) {
      log.info('NMT: the monitor runs already; restarted hosts rejoin the pool');
      return;
    }
    // Services placed but no monitor: placing again from the topology would start second copies
    // beside the running ones. Leave it as it is and say so.
    if (statuses.some((s) => Object.keys(s.services).length > 0)) {
      log.warn('NMT: services run but no monitor is active (its primary and secondary both failed): nothing recovers them until the lab is redeployed (halab down, halab up)');
      return;
    }
    await log.step('NMT: placement (primaries awake, secondaries asleep)', async () => {
      // A new cluster: no monitor state from an earlier deploy on this lab.
      const nfs = ctx.plan.nodes.find((n) => n.role === 'nfs')!;
      await ctx.backend.exec(cfg.lab, nfs.name, ['sh', '-c', `rm -f ${EXPORT_PATH}/${NFS_DATA}/monitor/state-*.json`]);
      const services = cfg.services.filter((s) => s.name !== 'monitor');
      await Promise.all(
        services.map(async (s) => {
          await agentRpc(ctx, cfg, s.primary, '/wake', { service: s.name });
          await agentRpc(ctx, cfg, s.secondary, '/standby', { service: s.name, primary: s.primary });
        }),
      );
      const m = cfg.services.find((s) => s.name === 'monitor')!;
      // The primary first: the secondary's agent starts watching it as soon as it holds the standby.
      await agentRpc(ctx, cfg, m.primary, '/wake', { service: 'monitor' });
      await agentRpc(ctx, cfg, m.secondary, '/standby', { service: 'monitor', primary: m.primary });
    });
    const servers = await log.step('NMT: every service answers a real client', () => waitForServices(ctx, cfg));
    log.info(`NMT: ${Object.entries(servers).map(([k, v]) => `${k} on ${v}`).join(', ')}; M = ${cfg.monitorIntervalS} s`);
  },

  async inspect(ctx): Promise<StackInspection> {
    const cfg = nmtConfig(ctx.plan);
    const out: StackInspection = { nodes: {}, sections: [] };
    const statuses = await Promise.all(cfg.hosts.map((h) => agentStatus(ctx, cfg, h.name)));
    cfg.hosts.forEach((h, i) => {
      const s = statuses[i];
      out.nodes[h.name] = { nmt: s ? Object.entries(s.services).map(([k, v]) => `${k}:${v}`).join(' ') || 'free' : 'agent down' };
    });
    const mon = cfg.services.find((s) => s.name === 'monitor')!;
    const r = cfg.client
      ? await ctx.backend.exec(cfg.lab, cfg.client.name, ['curl', '-s', '-m', '2', `http://${mon.ip}:${cfg.monitorPort}/state`], { check: false })
      : undefined;
    try {
      const st = JSON.parse(r?.stdout ?? '') as { node: string; placement: Placement };
      out.sections.push({
        title: `NMT placement (monitor on ${st.node})`,
        lines: Object.entries(st.placement).map(([k, a]) => `${k.padEnd(8)} primary ${a!.primary}, secondary ${a!.secondary ?? '(none)'}`),
      });
    } catch {
      out.sections.push({ title: 'NMT placement', lines: [`the monitor at ${mon.ip} did not answer`] });
    }
    return out;
  },
};
