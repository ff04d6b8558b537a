// The NMT agent, one per host: the RPC end of the paper's "non-preemptive remote execution".
//   POST /standby {service, primary}  create the service process, let it start, then SIGSTOP it
//                                     (the sleeping standby, step 4.2)
//   POST /wake {service}              fetch the service's data over NFS (libnfs nfs-cp: containers
//                                     have no kernel NFS client), SIGCONT the standby (or start it
//                                     cold), add the service IP and send a gratuitous ARP (step 2)
//   POST /release {service}           delete the service IP, kill the process (step 1)
//   GET  /status                      CPU use over the overload window (own cgroup) + services
//   POST /config {…}                  new monitor interval / ping timeout / window
// It logs, every 100 ms, which service IPs it holds on a link that is up (events 'state' MASTER/
// BACKUP per IP, for the one-owner invariant), and gives its services up when their NIC loses
// its link. On the monitor's secondary it also watches the
// monitor's primary (the paper does not say who watches the monitor; this is our choice) and
// wakes its own standby monitor when that primary fails.
import { createServer, type IncomingMessage } from 'node:http';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, readFileSync, renameSync, writeFileSync, openSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { readCgroup } from '../../has/daemons/traffic-client.ts';
import { TIMING_KEYS, type NmtConfig, type ServiceName } from '../config.ts';
import { DATA_DIR, NFS_DATA, NMT_RUN, serviceSpec } from '../services.ts';
import { assess, probeSummary, type Placement } from '../schedule.ts';
import { checkName } from './clients.ts';
import { event, probeHosts, rpc } from './rpc.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cfg = JSON.parse(readFileSync(process.argv[2] ?? '/etc/nmt/nmt.json', 'utf8')) as NmtConfig;
const node = process.argv[3] ?? '';
const monitorEntry = process.argv[4] ?? '/opt/halab/nmt-monitor.mjs';
const self = cfg.hosts.find((h) => h.name === node);
if (!self) throw new Error(`agent: ${node} is not a host of ${cfg.lab}`);

interface Running {
  state: 'standby' | 'active';
  child: ChildProcess;
}
const services = new Map<ServiceName, Running>();
const svcCfg = (s: ServiceName) => {
  const c = cfg.services.find((x) => x.name === s);
  if (!c) throw new Error(`unknown service ${s}`);
  return c;
};

// --- CPU use over a sliding window (the overload heuristic's input) ---
// The node's cgroup CPU minus what halab itself spends: this agent, and standbys while they are
// being created (a node or Apache starting up on a 0.25-core host would otherwise look like an
// overload of the services the host runs).
const creating = new Set<number>();
function ownNs(): number {
  const u = process.cpuUsage();
  let ticks = 0;
  if (creating.size === 0) return (u.user + u.system) * 1000;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (creating.has(Number(f[2]))) ticks += Number(f[11]) + Number(f[12]); // pgrp, utime, stime
    } catch {
      /* gone */
    }
  }
  return (u.user + u.system) * 1000 + ticks * 1e7; // USER_HZ = 100
}
const samples: { t: number; ns: number; cap: number }[] = [];
setInterval(() => {
  const c = readCgroup();
  samples.push({ t: performance.now(), ns: c.cpuNs - ownNs(), cap: c.cap });
  while (samples.length > 2 && samples[1]!.t < performance.now() - cfg.overloadWindowS * 1000) samples.shift();
}, 100).unref();
function cpuUse(): number {
  const a = samples[0];
  const b = samples.at(-1);
  if (!a || !b || b.t - a.t < 1) return 0;
  return (b.ns - a.ns) / 1e6 / (b.t - a.t) / b.cap;
}

// --- service processes ---
function signalGroup(r: Running, sig: NodeJS.Signals): void {
  try {
    process.kill(-r.child.pid!, sig);
  } catch {
    /* already gone */
  }
}

async function isReady(service: ServiceName): Promise<boolean> {
  const spec = serviceSpec(service, node, monitorEntry);
  if ('dns' in spec.ready) return checkName('127.0.0.1', 300).then(() => true, (e: Error) => !/ECONNREFUSED|ETIMEOUT|TIMEOUT/i.test(String((e as { code?: string }).code ?? e.message)));
  const port = spec.ready.tcp;
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

async function create(service: ServiceName): Promise<Running> {
  const spec = serviceSpec(service, node, monitorEntry);
  mkdirSync(`${DATA_DIR}/${service}`, { recursive: true });
  mkdirSync(NMT_RUN, { recursive: true });
  // Placeholders so a daemon that opens its data at start (smtpd's table) comes up before takeover.
  for (const f of spec.dataFiles) {
    try {
      writeFileSync(`${DATA_DIR}/${service}/${f}`, '', { flag: 'wx' });
    } catch {
      /* exists */
    }
  }
  if (service === 'monitor') writeFileSync(`${NMT_RUN}/monitor.active`, '0');
  const log = openSync(`/var/log/halab/${service}.log`, 'a');
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
  const r: Running = { state: 'standby', child };
  creating.add(child.pid!);
  child.on('exit', (code, sig) => {
    if (services.get(service) === r) services.delete(service);
    event(node, 'exit', { service, code, signal: sig });
  });
  const deadline = Date.now() + 60_000; // a node start on a busy 0.25-core host can take many seconds
  while (!(await isReady(service))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${service} did not come up on ${node} (see /var/log/halab/${service}.log)`);
    await sleep(50);
  }
  // Keep discounting it one more window: its start-up CPU is still inside the sliding window.
  setTimeout(() => creating.delete(child.pid!), cfg.overloadWindowS * 1000 + 100).unref();
  return r;
}

// One creation per service at a time: the monitor may ask again (a repair) while a slow start on a
// busy host is still under way, and a second process would hold the same ports.
const starting = new Map<ServiceName, Promise<Running>>();
function ensure(service: ServiceName): Promise<Running> {
  const cur = services.get(service);
  if (cur) return Promise.resolve(cur);
  let p = starting.get(service);
  if (!p) {
    p = create(service)
      .then((r) => (services.set(service, r), r))
      .finally(() => starting.delete(service));
    starting.set(service, p);
  }
  return p;
}

async function standby(service: ServiceName, primary: string | undefined): Promise<void> {
  if (services.get(service)?.state === 'active') throw new Error(`${service} is active on ${node}`);
  const fresh = !services.has(service);
  const r = await ensure(service);
  if (fresh && r.state === 'standby') signalGroup(r, 'SIGSTOP');
  if (service === 'monitor' && primary) watchMonitor(primary);
  event(node, 'standby', { service, primary });
}

/**
 * nfs-cp with two retries: a copy can fail for a moment (a reply lost on a busy host, a handle the
 * server's cache just dropped); a wake that gives up on the first error leaves the service down.
 */
async function nfsCopy(url: string, to: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await run('nfs-cp', [url, to], { timeout: 5000 });
      return;
    } catch (e) {
      if (attempt === 3) throw new Error(`nfs-cp ${url}: ${(e as Error).message}`);
      await sleep(150 * attempt);
    }
  }
}

/** The newest versioned file of a service on the NFS server (e.g. the monitor's state-<ms>.json), or null. */
async function newestVersion(service: ServiceName, stem: string): Promise<string | null> {
  const base = `nfs://${cfg.nfs.address}${cfg.nfs.exportPath}/${NFS_DATA}/${service}/`;
  const ls = await run('nfs-ls', [`${base}?version=4`], { timeout: 5000 });
  const re = new RegExp(`^${stem}-(\\d+)\\.json$`);
  const newest = ls.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/).at(-1) ?? '')
    .filter((n) => re.test(n))
    .sort((a, b) => Number(re.exec(b)![1]) - Number(re.exec(a)![1]))[0];
  return newest ? `${base}${newest}?version=4` : null;
}

async function fetchData(service: ServiceName): Promise<void> {
  const spec = serviceSpec(service, node, monitorEntry);
  const dir = `${DATA_DIR}/${service}`;
  mkdirSync(dir, { recursive: true });
  await Promise.all(
    spec.dataFiles.map(async (f) => {
      await nfsCopy(`nfs://${cfg.nfs.address}${cfg.nfs.exportPath}/${NFS_DATA}/${service}/${f}?version=4`, `${dir}/${f}.nfs`);
      chmodSync(`${dir}/${f}.nfs`, 0o644); // daemons that dropped privileges read it (smtpd's table)
      renameSync(`${dir}/${f}.nfs`, `${dir}/${f}`);
    }),
  );
  if (spec.versioned) {
    const newest = await newestVersion(service, spec.versioned);
    // None yet (the first monitor): it starts from the topology's placement, not a stale local copy.
    if (!newest) rmSync(`${dir}/${spec.versioned}.json`, { force: true });
    else {
      await nfsCopy(newest, `${dir}/${spec.versioned}.json.nfs`);
      renameSync(`${dir}/${spec.versioned}.json.nfs`, `${dir}/${spec.versioned}.json`);
    }
  }
}

/**
 * Who the last monitor named as its secondary, read from the state it saved on the NFS server;
 * undefined when that cannot be read. A standby monitor the placement no longer names (replaced
 * while this host was slow to answer) must not wake: two monitors would both act.
 */
async function savedMonitorSecondary(): Promise<string | null | undefined> {
  try {
    const newest = await newestVersion('monitor', 'state');
    if (!newest) return undefined;
    const tmp = `${NMT_RUN}/state-check.json`;
    await nfsCopy(newest, tmp);
    const saved = JSON.parse(readFileSync(tmp, 'utf8')) as { placement: Placement };
    return saved.placement.monitor?.secondary ?? null;
  } catch {
    return undefined;
  }
}

/** The IP is on one of this host's interfaces that is up (libuv lists only interfaces up and running). */
function holdsIp(ip: string): boolean {
  return Object.values(networkInterfaces()).some((l) => l?.some((a) => a.address === ip));
}

/** The IP is configured on the NIC, whatever its link state (what add and delete act on). */
async function configured(ip: string, ifname: string): Promise<boolean> {
  const r = await run('ip', ['-o', '-4', 'addr', 'show', 'dev', ifname]).catch(() => ({ stdout: '' }));
  return r.stdout.includes(` ${ip}/`);
}

async function wake(service: ServiceName): Promise<Record<string, number>> {
  const c = svcCfg(service);
  const t0 = performance.now();
  await fetchData(service); // step 2.1: ready the resources (NFS)
  const t1 = performance.now();
  const cold = !services.has(service);
  const r = await ensure(service);
  if (service === 'monitor') writeFileSync(`${NMT_RUN}/monitor.active`, '1');
  signalGroup(r, 'SIGCONT'); // step 2.2: wake the sleeping standby
  const spec = serviceSpec(service, node, monitorEntry);
  if (spec.reload === 'hup') signalGroup(r, 'SIGHUP');
  else if (spec.reload !== 'none') await run(spec.reload.exec[0]!, spec.reload.exec.slice(1), { timeout: 3000 }).catch(() => undefined);
  r.state = 'active';
  const t2 = performance.now();
  // step 2.3: the service IP, then tell the neighbours (gratuitous ARP, not awaited)
  if (!(await configured(c.ip, c.ifname))) await run('ip', ['addr', 'add', `${c.ip}/${c.prefixLength}`, 'dev', c.ifname]);
  spawn('arping', ['-q', '-U', '-c', '2', '-i', c.ifname, '-S', c.ip, c.ip], { stdio: 'ignore' }).on('error', () => undefined);
  const t3 = performance.now();
  event(node, 'active', { service, ip: c.ip, cold, nfsMs: t1 - t0, wakeMs: t2 - t1, ipMs: t3 - t2 });
  if (service === 'monitor') stopWatching();
  return { nfsMs: t1 - t0, wakeMs: t2 - t1, ipMs: t3 - t2 };
}

async function release(service: ServiceName): Promise<void> {
  const c = svcCfg(service);
  // Asked of the NIC itself: on a NIC whose link is down the address is still there (a self-fence
  // that trusted holdsIp() left it, and it came back with the link: two owners).
  if (await configured(c.ip, c.ifname)) await run('ip', ['addr', 'del', `${c.ip}/${c.prefixLength}`, 'dev', c.ifname]).catch(() => undefined);
  const r = services.get(service);
  if (r) {
    services.delete(service);
    signalGroup(r, 'SIGKILL');
  }
  event(node, 'released', { service, ip: c.ip });
}

// --- watching the monitor's primary (only while this host holds the monitor's standby) ---
let watch: NodeJS.Timeout | undefined;
let watched = '';
let misses = 0;
function stopWatching(): void {
  if (watch) clearTimeout(watch);
  watch = undefined;
}
function watchMonitor(primary: string): void {
  stopWatching();
  watched = primary;
  const host = cfg.hosts.find((h) => h.name === primary);
  if (!host) return;
  const tick = async () => {
    const start = Date.now();
    if (services.get('monitor')?.state !== 'standby' || watched !== primary) return;
    const [probe] = await probeHosts([host], cfg.agentPort, cfg.pingTimeoutS, cfg.statusTimeoutS);
    misses = probe.ping && probe.status === 'timeout' ? misses + 1 : 0;
    const h = assess(probe, cfg.overloadCpu, misses);
    if (h !== 'ok' && services.get('monitor')?.state === 'standby' && watched === primary) {
      const named = await savedMonitorSecondary();
      if (named !== undefined && named !== node) {
        event(node, 'stale-standby', { service: 'monitor', primary, named });
        await release('monitor');
        return;
      }
      event(node, 'decision', { service: 'monitor', from: primary, to: node, cause: h, why: probeSummary(probe, misses) });
      if (h === 'overload') await rpc(host.address, cfg.agentPort, '/release', { service: 'monitor' }, cfg.releaseTimeoutS).catch(() => undefined);
      try {
        await wake('monitor');
        return;
      } catch (e) {
        // Keep watching: the standby is still here, the next tick wakes it again (a wake whose NFS
        // copy timed out on a busy host otherwise left the cluster without a monitor for good).
        event(node, 'error', { op: 'wake', service: 'monitor', message: (e as Error).message });
      }
    }
    watch = setTimeout(() => void tick(), Math.max(0, start + cfg.monitorIntervalS * 1000 - Date.now()));
  };
  watch = setTimeout(() => void tick(), cfg.monitorIntervalS * 1000);
}

// --- who owns which service IP (sampled: covers IPs added or lost by any means) ---
const owned = new Map<string, boolean>();
function linkUp(ifname: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${ifname}/operstate`, 'utf8').trim() !== 'down';
  } catch {
    return false;
  }
}
function sampleOwnership(): void {
  for (const c of cfg.services) {
    const up = linkUp(c.ifname);
    // Not in the paper: a host that lost its link gives its services up at once (nobody can reach
    // them; the monitor moves them), so the IP is not still there when the link comes back.
    if (!up && services.get(c.name)?.state === 'active') {
      event(node, 'self-fenced', { service: c.name, reason: `${c.ifname} down` });
      void release(c.name);
    }
    const own = holdsIp(c.ip) && up;
    if (owned.get(c.ip) !== own) {
      owned.set(c.ip, own);
      event(node, 'state', { instance: c.ip, service: c.name, state: own ? 'MASTER' : 'BACKUP' });
    }
  }
}
setInterval(sampleOwnership, 100);
sampleOwnership();

// --- the RPC server ---
async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const chunk of req) s += chunk;
  return s ? (JSON.parse(s) as Record<string, unknown>) : {};
}

createServer(async (req, res) => {
  const send = (code: number, v: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  try {
    const b = req.method === 'POST' ? await body(req) : {};
    const service = b.service as ServiceName;
    switch (req.url) {
      case '/status':
        return send(200, {
          node,
          cpu: Number(cpuUse().toFixed(3)),
          services: Object.fromEntries([...services].map(([k, v]) => [k, v.state])),
        });
      case '/standby':
        await standby(service, b.primary as string | undefined);
        return send(200, { ok: true });
      case '/wake':
        return send(200, await wake(service));
      case '/release':
        await release(service);
        return send(200, { ok: true });
      case '/config':
        for (const k of TIMING_KEYS) {
          if (typeof b[k] === 'number') cfg[k] = b[k];
        }
        if (watch && watched) watchMonitor(watched);
        return send(200, { ok: true });
      default:
        return send(404, { error: `no ${req.url}` });
    }
  } catch (e) {
    event(node, 'error', { op: req.url, message: (e as Error).message });
    send(500, { error: (e as Error).message });
  }
}).listen(cfg.agentPort, self.address);

event(node, 'agent-start', {});
