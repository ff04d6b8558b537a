// Traffic (web) nodes: Apache 2 serving the file set over HTTP and TLS with an X-Served-By header
// and /health, restarted by a watchdog if it dies (the thesis's cron job), and the traffic client
// daemon reporting the node's load index to the traffic manager on the masters. The content comes
// from the HA-NFS export, mounted on the document root: on container nodes by halab-nfsfuse
// (images/traffic/nfsfuse: the host kernel has no NFS client), on VM nodes (backend: vm) by the
// guest kernel's own NFS client (mount -t nfs4, hard) with the nfs-remount daemon beside it.
// Without NFS servers in the lab each node gets a local copy instead.
import { fileURLToPath } from 'node:url';
import type { StackContext } from '../stack.ts';
import type { PlannedNode } from '../../topology/types.ts';
import { installDaemon, putFile, putFileIfChanged, startDaemon } from '../node-files.ts';
import { UserError } from '../../util/errors.ts';
import type { HasConfig } from './config.ts';
import { fileSetKey, generateFileSet, installFileSet } from './fileset.ts';
import { PSEUDO_PATH } from './ganesha.ts';

export const DOCROOT = '/srv/www';
/**
 * The health page the balancer's checks read. Under /run/halab, which a node's start empties: a
 * traffic node restarted after a fault fails its checks until the deploy has mounted its content,
 * started Apache and set up direct routing (markInService), instead of being re-added as soon as
 * Apache answers (requests to the VIP then failed for ~1 s per return: no VIP on its loopback yet).
 */
export const HEALTH_FILE = '/run/halab/health.txt';
const TC_ENTRY = fileURLToPath(new URL('./daemons/traffic-client.ts', import.meta.url));
const REMOUNT_ENTRY = fileURLToPath(new URL('./daemons/nfs-remount.ts', import.meta.url));

/** Apache site for a traffic node (plain and TLS share everything but the port). */
export function apacheSite(node: string, docroot: string): string {
  const body = `    DocumentRoot ${docroot}
    Header always set X-Served-By "${node}"
    Alias /health ${HEALTH_FILE}
    <Directory ${docroot}>
        Options -Indexes
        Require all granted
        # The docroot is an NFS mount (FUSE or kernel): a mapped page whose read fails would kill
        # the worker with SIGBUS, and sendfile skips Apache's own error handling; read() instead.
        EnableMMAP Off
        EnableSendfile Off
    </Directory>
    <Files "health.txt">
        Require all granted
    </Files>
    <Directory /run/halab>
        Require all granted
    </Directory>
    ErrorLog \${APACHE_LOG_DIR}/error.log
    CustomLog /dev/null common`;
  return `<VirtualHost *:80>
${body}
</VirtualHost>
<VirtualHost *:443>
${body}
    SSLEngine on
    SSLCertificateFile /etc/ssl/certs/ssl-cert-snakeoil.pem
    SSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key
</VirtualHost>
`;
}

/** MPM event sized for a node capped at a fraction of a core: few processes, enough threads. */
export const APACHE_MPM = `<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 4
    ThreadsPerChild 32
    MinSpareThreads 8
    MaxSpareThreads 64
    MaxRequestWorkers 128
    MaxConnectionsPerChild 0
</IfModule>
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
`;

/**
 * Restarts Apache when it died (the thesis's cron job); each restart is an event. Its period is
 * longer than the health check's so the balancer sees the node fail and takes it out first.
 */
export const watchdog = (periodSeconds: number) => `while sleep ${periodSeconds}; do
  if ! pidof apache2 >/dev/null; then
    apache2ctl start >/dev/null 2>&1
    echo "{\\"t\\":$(date +%s%3N),\\"node\\":\\"$(hostname)\\",\\"source\\":\\"apache-watchdog\\",\\"type\\":\\"restart\\"}" >> /var/log/halab/events.jsonl
  fi
done`;

/**
 * FUSE options of the content mount. Read-only web content: the kernel caches attributes and
 * entries for `cacheSeconds` (params.nfs_cache_seconds) and keeps file pages until a file's mtime
 * or size changes (auto_cache, checked when the cached attributes expire); missing names are not
 * cached, so a file added on the server is served at once. With 1 s, every request of a capped
 * node went to the server for its attributes: the node spent its quota on NFS calls, not serving.
 */
export const fuseOptions = (cacheSeconds: number) =>
  `ro,allow_other,auto_cache,attr_timeout=${cacheSeconds},entry_timeout=${cacheSeconds},negative_timeout=0,max_threads=16`;

/** Which NFS client a traffic node mounts its content with: the guest kernel's on a VM node. */
export function nfsClientOf(node: PlannedNode): 'kernel' | 'fuse' {
  return node.backend === 'vm' ? 'kernel' : 'fuse';
}

/**
 * Kernel NFS client options (VM traffic nodes). hard: a call to a lost server waits (the thesis:
 * "no interruption … a delay") instead of failing; timeo=10 (1 s, not the default 60 s) with
 * retrans=2: a call left unanswered is sent again after a second, not a minute. (Measured: the
 * stall after an owner's kill is ~3 s, set not by timeo but by sunrpc: the first reconnect goes to
 * the dead server before the IP moves, and sunrpc waits a fixed 3 s before the next one.)
 * vers=4.1: sessions, no callback channel to open back to the client. addr= because there is no
 * mount.nfs helper in the image (nfs-common is not needed): util-linux mount hands the options
 * to the kernel as they are. nosharecache: every mount (and remount) gets its own superblock, so
 * a remount looks the root up afresh instead of reusing the old one. lookupcache=positive: no
 * negative lookups are cached (as the FUSE mount's negative_timeout=0), so a file added on the
 * server is served at once. ac*: attributes cached for params.nfs_cache_seconds, as on the FUSE mount.
 */
export const kernelNfsOptions = (nfsVip: string, cacheSeconds: number) =>
  `ro,vers=4.1,proto=tcp,port=2049,hard,timeo=10,retrans=2,lookupcache=positive,nosharecache,acregmin=${cacheSeconds},acregmax=${cacheSeconds},acdirmin=${cacheSeconds},acdirmax=${cacheSeconds},addr=${nfsVip}`;
/** Where the remount script lives in a VM traffic node (it also makes the first mount). */
export const REMOUNT_SCRIPT = '/etc/halab/nfs-remount.sh';
/** The nfs-remount daemon reads a file of the export this often to notice a stale mount. */
export const REMOUNT_PERIOD_MS = 200;

/**
 * Shell script that mounts the export beside the docroot and swaps it in with `mount --move`
 * (used for the first mount and by the nfs-remount daemon after a takeover; see
 * daemons/nfs-remount.ts). A failure leaves the old mount, if any, in place.
 */
export function remountScript(docroot: string, source: string, options: string): string {
  const next = '/run/halab/nfs-next';
  const old = '/run/halab/nfs-old';
  return `# generated by halab (stack has): (re)mount the NFS export on ${docroot}
set -e
mkdir -p ${docroot} ${next} ${old}
umount -l ${next} 2>/dev/null || true
mount -t nfs4 -o ${options} ${source} ${next}
if grep -qs ' ${docroot} nfs4 ' /proc/mounts; then mount --move ${docroot} ${old}; fi
mount --move ${next} ${docroot}
umount -l ${old} 2>/dev/null || true
`;
}

/** Wait until the docroot serves the file set (its .fileset marker). */
async function waitForContent(ctx: StackContext, cfg: HasConfig, node: PlannedNode, timeoutMs: number, what: string): Promise<void> {
  const want = fileSetKey(cfg.files);
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await ctx.backend.exec(cfg.lab, node.name, ['cat', `${DOCROOT}/.fileset`], { check: false });
    if (r.stdout.trim() === want) return;
    last = (r.stdout + r.stderr).trim();
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new UserError(`${node.name}: the NFS mount ${cfg.nfsVip}:${PSEUDO_PATH} on ${DOCROOT} did not serve the file set within ${timeoutMs / 1000} s (${last}; ${what})`);
}

/** VM node: the guest kernel mounts the export (nfsv4 from the guest kernel's modules, loaded with /opt/halab/bin/modprobe: the image has no kmod) and nfs-remount watches it. */
async function mountKernelNfs(ctx: StackContext, cfg: HasConfig, node: PlannedNode): Promise<void> {
  const { backend } = ctx;
  const lab = cfg.lab;
  await putFile(backend, lab, node.name, REMOUNT_SCRIPT, remountScript(DOCROOT, `${cfg.nfsVip}:${PSEUDO_PATH}`, kernelNfsOptions(cfg.nfsVip, cfg.nfsClient.cacheSeconds)), '0755');
  const r = await backend.exec(lab, node.name, ['sh', '-c', `PATH=$PATH:/opt/halab/bin modprobe nfsv4 && { grep -qs ' ${DOCROOT} nfs4 ' /proc/mounts || sh ${REMOUNT_SCRIPT}; }`], { check: false });
  if (r.exitCode !== 0) throw new UserError(`${node.name}: kernel NFS mount of ${cfg.nfsVip}:${PSEUDO_PATH} on ${DOCROOT} failed: ${(r.stdout + r.stderr).trim()}`);
  const argv = await installDaemon(backend, lab, node.name, 'nfs-remount', REMOUNT_ENTRY);
  await startDaemon(backend, lab, node.name, { name: 'nfs-remount', argv: [...argv, DOCROOT, REMOUNT_SCRIPT, String(REMOUNT_PERIOD_MS)] });
  // Everything in a TCG guest is slow, more so on a loaded host.
  await waitForContent(ctx, cfg, node, 300_000, 'see /var/log/halab/nfs-remount.log and dmesg');
}

/** Container node: mount the NFS export (through its floating IP) on the docroot with halab-nfsfuse and wait until it serves the file set. */
async function mountFuse(ctx: StackContext, cfg: HasConfig, node: PlannedNode): Promise<void> {
  const { backend } = ctx;
  const lab = cfg.lab;
  // A client that died leaves its mount point dead ("transport endpoint is not connected").
  await backend.exec(lab, node.name, [
    'sh',
    '-c',
    `mkdir -p ${DOCROOT}; kill -0 "$(cat /run/halab/nfs-fuse.pid 2>/dev/null)" 2>/dev/null || fusermount3 -uz ${DOCROOT} 2>/dev/null; true`,
  ]);
  // Supervised: libnfs 4.0 has been seen to crash (a segfault inside libnfs) during a server
  // failover; a restart on the same mount point costs a short outage instead of the node's content.
  const client = `halab-nfsfuse ${cfg.nfsVip} ${PSEUDO_PATH} ${DOCROOT} -f -o ${fuseOptions(cfg.nfsClient.cacheSeconds)}`;
  await startDaemon(backend, lab, node.name, {
    name: 'nfs-fuse',
    argv: [
      'sh',
      '-c',
      `while :; do fusermount3 -uz ${DOCROOT} 2>/dev/null; ${client}; s=$?; echo "{\\"t\\":$(date +%s%3N),\\"source\\":\\"nfs-fuse\\",\\"type\\":\\"exit\\",\\"status\\":$s}" >&2; sleep 0.2; done`,
    ],
    env: { NFSFUSE_TIMEOUT_MS: String(cfg.nfsClient.rpcTimeoutMs) },
  });
  await waitForContent(ctx, cfg, node, 60_000, 'see /var/log/halab/nfs-fuse.log');
}

async function deployOne(ctx: StackContext, cfg: HasConfig, node: PlannedNode): Promise<void> {
  const { backend } = ctx;
  const lab = cfg.lab;
  if (cfg.nfs.length > 0) await (nfsClientOf(node) === 'kernel' ? mountKernelNfs : mountFuse)(ctx, cfg, node);
  else await installFileSet(backend, lab, node.name, DOCROOT, cfg.files);
  const siteChanged = await putFileIfChanged(backend, lab, node.name, '/etc/apache2/sites-available/halab.conf', apacheSite(node.name, DOCROOT));
  const mpmChanged = await putFileIfChanged(backend, lab, node.name, '/etc/apache2/conf-available/halab-mpm.conf', APACHE_MPM);
  // A graceful restart only when the config changed: on a node capped at 0.1 core, re-reading the
  // config and initialising TLS takes whole CFS periods, and a redeploy after another node's
  // restart (the chaos runner's rollback) cost ~3 s of 300 ms timeouts through the VIP each time.
  const reload = siteChanged || mpmChanged ? 'apache2ctl graceful' : 'true';
  await backend.exec(lab, node.name, [
    'sh',
    '-c',
    [
      'mkdir -p /var/log/halab',
      'a2enmod -q headers ssl alias >/dev/null',
      'a2dissite -q 000-default default-ssl >/dev/null 2>&1 || true',
      'a2ensite -q halab >/dev/null',
      'a2enconf -q halab-mpm >/dev/null',
      'apache2ctl configtest >/dev/null 2>&1',
      `if pidof apache2 >/dev/null; then ${reload}; else apache2ctl start; fi`,
    ].join(' && '),
  ]);
  await startDaemon(backend, lab, node.name, { name: 'apache-watchdog', argv: ['sh', '-c', watchdog(cfg.apacheWatchdogSeconds)] });
  const argv = await installDaemon(backend, lab, node.name, 'traffic-client', TC_ENTRY);
  await putFile(
    backend,
    lab,
    node.name,
    '/etc/halab/traffic-client.json',
    JSON.stringify({
      node: node.name,
      masters: cfg.masters.flatMap((m) => m.nics.map((n) => n.address)),
      port: cfg.trafficManager.port,
      periodSeconds: cfg.trafficManager.periodSeconds,
      nics: node.nics.map((n) => ({ ifname: n.ifname, network: n.network })),
    }),
  );
  await startDaemon(backend, lab, node.name, { name: 'traffic-client', argv: [...argv, '/etc/halab/traffic-client.json'] });
}

export async function deployTrafficNodes(ctx: StackContext, cfg: HasConfig): Promise<void> {
  await Promise.all(cfg.traffic.map((n) => deployOne(ctx, cfg, n)));
}

/** The last step of a traffic node's deploy: its health page, so the balancer's checks pass. */
export async function markInService(ctx: StackContext, cfg: HasConfig): Promise<void> {
  await Promise.all(cfg.traffic.map((n) => putFile(ctx.backend, cfg.lab, n.name, HEALTH_FILE, `ok ${n.name}\n`)));
}

/** URL paths of the file set (for load generators). */
export function fileSetPaths(cfg: HasConfig): string[] {
  return generateFileSet(cfg.files.seed, cfg.files.count, cfg.files.meanBytes).map((f) => f.path);
}
