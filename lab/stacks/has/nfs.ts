// HA-NFS (thesis 003 §3.15): two nfs-ganesha servers with the same export kept in sync by rsync,
// the NFS service on a floating IP held by keepalived (VRRP, its own router id, unicast) that
// moves to the surviving server on failure. Content: the web file set, generated onto the primary's
// export; the standby mirrors it.
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { putFile, startDaemon } from '../node-files.ts';
import type { HasConfig } from './config.ts';
import { FILESET_ROOT, fileSetKey, installFileSet } from './fileset.ts';
import { DOCROOT } from './traffic.ts';
import { EXPORT_PATH, PSEUDO_PATH, ganeshaConf, rsyncdConf, syncLoop } from './ganesha.ts';
import { startVipWatch } from './vip-watch.ts';
import { allowVrrpRealtime } from './realtime.ts';
import { KEEPALIVED_CONF_PATH, KEEPALIVED_PID_ARGS, keepalivedConf, NOTIFY_SCRIPT_PATH, notifyScript } from './vrrp.ts';

/** NFS failover is slower-paced than the masters': 0.1 s adverts (≈ 0.36 s to declare loss). */
const NFS_ADVERT_SECONDS = 0.1;
const SYNC_PERIOD_SECONDS = 2;

function nicOn(node: PlannedNode, network: string) {
  const nic = node.nics.find((n) => n.network === network);
  if (!nic) throw new UserError(`NFS server ${node.name} has no NIC on ${network}, where the NFS floating IP lives`);
  return nic;
}

async function deployServer(ctx: StackContext, cfg: HasConfig, self: PlannedNode, peer: PlannedNode, primary: boolean): Promise<void> {
  const priority = primary ? 150 : 100;
  const { backend } = ctx;
  const lab = cfg.lab;
  const nic = nicOn(self, cfg.nfsVipNetwork);
  const peerNic = nicOn(peer, cfg.nfsVipNetwork);
  // ganesha's VFS backend needs file handles, which overlayfs (the container's root) lacks: the
  // export must be a volume (topology: volumes: [/srv/export]). The file set is generated on both
  // (the same bytes and mtimes): a first rsync pass of 6,200 files under a 0.25-core cap took
  // minutes. The standby's rsync loop then keeps it a mirror of whatever the owner holds.
  const fs = await backend.exec(lab, self.name, ['stat', '-f', '-c', '%T', EXPORT_PATH], { check: false });
  if (fs.stdout.trim() === 'overlayfs') {
    throw new UserError(`${self.name}: ${EXPORT_PATH} is on overlayfs; give the nfs kind 'volumes: [${EXPORT_PATH}]' in the topology`);
  }
  await installFileSet(backend, lab, self.name, EXPORT_PATH, cfg.files);
  await putFile(backend, lab, self.name, '/etc/ganesha/ganesha.conf', ganeshaConf());
  await putFile(backend, lab, self.name, '/etc/halab/rsyncd.conf', rsyncdConf());
  await backend.exec(lab, self.name, [
    'sh',
    '-c',
    'mkdir -p /run/ganesha /var/lib/nfs/ganesha /var/log/halab && (pidof rsync >/dev/null || rsync --daemon --config=/etc/halab/rsyncd.conf)',
  ]);
  await startDaemon(backend, lab, self.name, {
    name: 'ganesha',
    argv: ['ganesha.nfsd', '-F', '-f', '/etc/ganesha/ganesha.conf', '-L', '/var/log/halab/ganesha.log', '-p', '/run/ganesha/ganesha.pid', '-N', 'NIV_EVENT'],
  });
  await startDaemon(backend, lab, self.name, { name: 'nfs-sync', argv: ['sh', '-c', syncLoop(cfg.nfsVip, SYNC_PERIOD_SECONDS)] });
  await putFile(backend, lab, self.name, NOTIFY_SCRIPT_PATH, notifyScript(self.name), '0755');
  const instance = { name: 'VI_NFS', vips: [`${cfg.nfsVip}/${nic.prefixLength}`] };
  const realtime = await allowVrrpRealtime(ctx, lab, self);
  const conf = keepalivedConf({
    lab,
    node: self.name,
    priority,
    advertSeconds: NFS_ADVERT_SECONDS,
    preemptDelaySeconds: 5,
    notifyScript: NOTIFY_SCRIPT_PATH,
    realtime,
    instances: [
      {
        ...instance,
        ifname: nic.ifname,
        routerId: ((cfg.vrrp.routerId + 100 - 1) % 255) + 1,
        selfAddress: nic.address,
        peerAddresses: [peerNic.address],
      },
    ],
  });
  await putFile(backend, lab, self.name, KEEPALIVED_CONF_PATH, conf);
  await startVipWatch(ctx, lab, self.name, [instance], 20_000 * cfg.waitScale);
  await startDaemon(backend, lab, self.name, { name: 'keepalived', argv: ['keepalived', '-n', '-l', '-D', '-f', KEEPALIVED_CONF_PATH, ...KEEPALIVED_PID_ARGS] });
}

export async function deployNfs(ctx: StackContext, cfg: HasConfig): Promise<void> {
  if (cfg.nfs.length === 0) {
    ctx.log.info('HAS: no nodes of role nfs: HA-NFS not deployed');
    return;
  }
  if (cfg.nfs.length !== 2) throw new UserError(`HA-NFS needs exactly 2 nodes of role nfs (found ${cfg.nfs.length})`);
  const [a, b] = cfg.nfs as [PlannedNode, PlannedNode];
  await Promise.all([deployServer(ctx, cfg, a, b, true), deployServer(ctx, cfg, b, a, false)]);
  // Ready when the floating IP is up on one server and NFS answers on it.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { owner } = await inspectNfs(ctx, cfg);
    if (owner) {
      const r = await ctx.backend.exec(cfg.lab, owner, ['sh', '-c', `nfs-ls 'nfs://${cfg.nfsVip}${PSEUDO_PATH}?version=4' >/dev/null`], { check: false });
      if (r.exitCode === 0) return waitForMirror(ctx, cfg, owner === a.name ? b : a);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new UserError(`HA-NFS did not come up on ${cfg.nfsVip} within 30 s (see /var/log/halab/ganesha.log in ${a.name})`);
}

/** The standby must hold the content before it can take over: wait for its first rsync pass. */
async function waitForMirror(ctx: StackContext, cfg: HasConfig, standby: PlannedNode): Promise<void> {
  const want = `${fileSetKey(cfg.files)}\n${cfg.files.count}`;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    // rsync copies the marker (.fileset sorts first) before the files: count them too.
    const r = await ctx.backend.exec(
      cfg.lab,
      standby.name,
      ['sh', '-c', `cat ${EXPORT_PATH}/.fileset; find ${EXPORT_PATH}${FILESET_ROOT} -name 'f*.html' | wc -l`],
      { check: false },
    );
    if (r.stdout.trim() === want) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new UserError(`${standby.name}: the rsync mirror of the NFS export did not arrive within 120 s (see /var/log/halab/nfs-sync.log)`);
}

export async function inspectNfs(ctx: StackContext, cfg: HasConfig): Promise<{ owner: string | null; lines: string[] }> {
  const lines: string[] = [];
  let owner: string | null = null;
  // A node that is down (the fault under test) cannot be exec'd into: it is simply not the owner.
  const run = (node: string, script: string) => ctx.backend.exec(cfg.lab, node, ['sh', '-c', script], { check: false }).catch(() => null);
  for (const n of cfg.nfs) {
    const r = await run(n.name, `ip -o addr show | grep -q " ${cfg.nfsVip}/" && echo owner; pidof ganesha.nfsd >/dev/null && echo ganesha; ls ${EXPORT_PATH}/files 2>/dev/null | wc -l`);
    if (!r) {
      lines.push(`${n.name}: not running`);
      continue;
    }
    const out = r.stdout.split('\n');
    const holds = out.includes('owner');
    if (holds) owner = owner ? `${owner}+${n.name}` : n.name;
    lines.push(`${n.name}: ${holds ? `holds ${cfg.nfsVip}` : 'standby'}, ganesha ${out.includes('ganesha') ? 'running' : 'NOT running'}, ${out.at(-2) ?? '?'} export dirs`);
  }
  // The clients: each traffic node's mount of the export (FUSE on containers, the kernel's NFS
  // client on VMs) and its reconnects (FUSE) or remounts (kernel) so far.
  for (const n of cfg.traffic) {
    const r = await run(
      n.name,
      `awk '$2 == "${DOCROOT}" { print "mount", $1, $3, $4 }' /proc/mounts | tail -n1; ` +
        `echo reconnects $(grep -cs '"type":"reconnect"' /var/log/halab/nfs-fuse.log); echo remounts $(grep -cs '"type":"remount"' /var/log/halab/nfs-remount.log)`,
    );
    if (!r) {
      lines.push(`${n.name}: not running`);
      continue;
    }
    lines.push(`${n.name}: ${describeClientMount(r.stdout, cfg.nfsVip)}`);
  }
  return { owner, lines };
}

/**
 * One traffic node's content mount from the output of inspectNfs's probe (pure, unit-tested):
 * "mount SOURCE FSTYPE OPTIONS", "reconnects N", "remounts N".
 */
export function describeClientMount(out: string, nfsVip: string): string {
  const field = (k: string) => out.split('\n').find((l) => l.startsWith(`${k} `))?.slice(k.length + 1).trim() ?? '';
  const [source = '', type = '', options = ''] = field('mount').split(' ');
  const count = (k: string) => Number(field(k)) || 0;
  if (type.startsWith('fuse')) return `${DOCROOT} mounted from ${nfsVip} (FUSE, ${source}), ${count('reconnects')} reconnects`;
  if (type === 'nfs4') {
    const keep = options.split(',').filter((o) => /^(vers|hard|soft|timeo|retrans|proto)\b/.test(o));
    return `${DOCROOT} mounted from ${source} (kernel NFS: nfs4 ${keep.join(',')}), ${count('remounts')} remounts`;
  }
  return `${DOCROOT} NOT an NFS mount`;
}
