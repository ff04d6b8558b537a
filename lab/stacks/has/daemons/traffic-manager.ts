// The HAS traffic manager (003 §3.22.3) merged with an LDirectord-like health checker (003 §3.19),
// run on BOTH masters (the standby's table is inert until the VIP moves to it, and identical).
//
//   - UDP: LoadReport JSON from every traffic node's client daemon each period.
//   - HTTP GET <node>:80<path> every health interval, timeout health timeout; a failed check puts
//     the node at weight 0 (quiescent: existing connections drain), a passing one re-adds it.
//   - Every period: index per node (dr-table.ts loadIndex) → bucket counts → bucket map, applied
//     atomically when it changed (nft) or as HAProxy server weights.
//   - A node that reported before and then fell silent for `timeoutSeconds` is removed (weight 0),
//     as the thesis's TM timeout does; a node that never reported gets the default index (its cap
//     at no load), so the cluster serves before the first reports arrive.
// Events (JSON lines) go to /var/log/halab/events.jsonl; the current table to a state file that
// `halab inspect` reads.
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { appendFileSync, readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { assignBuckets, bucketCounts, bucketMapScript, loadIndex, nodeChainScript, pickPath, type DrPath } from './dr-table.ts';

export interface TrafficManagerConfig {
  node: string;
  port: number;
  periodSeconds: number;
  timeoutSeconds: number;
  health: { intervalSeconds: number; timeoutSeconds: number; path: string; port: number };
  balancer: 'nft-dr' | 'haproxy';
  buckets: number;
  seed: number;
  /** EWMA weight of a new report (1 = no smoothing). */
  smoothing: number;
  /** paths: the ways to reach the node (nft-dr), the VIP network's first; see dr-table.ts DrPath. */
  nodes: { id: number; name: string; address: string; cpus: number; paths?: DrPath[] }[];
  /** The assignment loaded at deploy (so the first tick changes nothing unless it must). */
  initialAssignment: number[];
  eventsFile: string;
  stateFile: string;
  haproxySocket?: string;
  haproxyBackends?: string[];
}

interface NodeState {
  id: number;
  name: string;
  address: string;
  cpus: number;
  healthy: boolean;
  checkedAt?: number;
  lastError?: string;
  reportAt?: number;
  reportedIndex?: number;
  cpuUse?: number;
  memUse?: number;
  index: number;
  buckets: number;
  paths?: DrPath[];
  /** Networks on which the node reports its NIC down. */
  down: string[];
  /** Network of the path its chain forwards over now (undefined: the table's own, not yet set). */
  via?: string;
}

const cfg = JSON.parse(readFileSync(process.argv[2] ?? '/etc/halab/traffic-manager.json', 'utf8')) as TrafficManagerConfig;
const nodes: NodeState[] = cfg.nodes.map((n) => ({ ...n, healthy: true, index: 0, buckets: 0, down: [] }));
let assignment = cfg.initialAssignment.slice();
/** The kernel's map may hold an older manager's assignment: the first tick always applies. */
let applied = false;
for (const id of assignment) {
  const n = nodes.find((x) => x.id === id);
  if (n) n.buckets++;
}

mkdirSync(dirname(cfg.eventsFile), { recursive: true });
function event(type: 'weight' | 'health' | 'report' | 'start' | 'path', data: Record<string, unknown>): void {
  appendFileSync(cfg.eventsFile, JSON.stringify({ t: Date.now(), node: cfg.node, source: 'balancer', type, data }) + '\n');
}
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);

// ---- load reports -------------------------------------------------------------------------
const sock = createSocket({ type: 'udp4', reuseAddr: true });
sock.on('message', (buf) => {
  let r: { node?: unknown; cpuUse?: unknown; memUse?: unknown; index?: unknown; down?: unknown };
  try {
    r = JSON.parse(buf.toString('utf8'));
  } catch {
    return;
  }
  const n = nodes.find((x) => x.name === r.node);
  if (!n) return;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const cpu = num(r.cpuUse);
  const mem = num(r.memUse);
  const a = cfg.smoothing;
  if (cpu !== undefined) n.cpuUse = n.cpuUse === undefined ? cpu : a * cpu + (1 - a) * n.cpuUse;
  if (mem !== undefined) n.memUse = n.memUse === undefined ? mem : a * mem + (1 - a) * n.memUse;
  n.reportedIndex = num(r.index);
  if (n.reportAt === undefined) event('report', { node: n.name, first: true });
  n.reportAt = Date.now();
  if (Array.isArray(r.down)) {
    const down = r.down.filter((x): x is string => typeof x === 'string').sort();
    if (down.join() !== n.down.join()) {
      n.down = down;
      route(n); // at once: a NIC down is a stall for every flow of the node until this
    }
  }
});

// ---- paths (nft-dr): forward over a network where the node's NIC is up --------------------
const srcMacs = new Map<string, string>();
function srcMac(device: string): string | undefined {
  if (!srcMacs.has(device)) {
    try {
      srcMacs.set(device, readFileSync(`/sys/class/net/${device}/address`, 'utf8').trim());
    } catch {
      return undefined;
    }
  }
  return srcMacs.get(device);
}

function route(n: NodeState): void {
  if (cfg.balancer !== 'nft-dr' || !n.paths?.length) return;
  const p = pickPath(n.paths, n.down)!;
  if (p.network === n.via) return;
  const mac = srcMac(p.device);
  if (!mac) return;
  const r = spawnSync('nft', ['-f', '-'], { input: nodeChainScript(n.id, mac, p), encoding: 'utf8' });
  if (r.status !== 0) {
    log(`nft failed (path of ${n.name}): ${r.stderr}`);
    return;
  }
  const first = n.via === undefined;
  n.via = p.network;
  n.address = p.address; // health checks follow the path
  if (!first || p !== n.paths[0]) {
    event('path', { node: n.name, network: p.network, down: n.down });
    log(`${n.name}: forwarding over ${p.network} (NIC down on: ${n.down.join(', ') || 'none'})`);
  }
}
sock.on('error', (e) => log(`udp error: ${e.message}`));
sock.bind(cfg.port);

// ---- health checks (LDirectord: negotiate check, quiescent on failure) ---------------------
function check(n: NodeState): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request(
      { host: n.address, port: cfg.health.port, path: cfg.health.path, method: 'GET', timeout: cfg.health.timeoutSeconds * 1000, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`));
        res.on('error', (e) => resolve(e.message));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function healthLoop(n: NodeState): Promise<void> {
  for (;;) {
    const t0 = Date.now();
    const err = await check(n);
    n.checkedAt = Date.now();
    const healthy = err === undefined;
    if (healthy !== n.healthy) {
      n.healthy = healthy;
      n.lastError = err;
      event('health', { node: n.name, healthy, error: err ?? null });
      log(`${n.name} ${healthy ? 'healthy again' : `failed its check: ${err}`}`);
      tick(); // act now, not at the next period
    }
    await new Promise((r) => setTimeout(r, Math.max(0, cfg.health.intervalSeconds * 1000 - (Date.now() - t0))));
  }
}

// ---- weights ----------------------------------------------------------------------------
/**
 * A live node's index only follows its load when it moved by more than this share: small load
 * noise must not move buckets, because a moved bucket breaks the connections hashed to it (and
 * both masters must keep identical maps for connections to survive a master failover).
 */
const INDEX_HYSTERESIS = 0.25;

function computeIndexes(now: number): void {
  for (const n of nodes) {
    const stale = n.reportAt !== undefined && now - n.reportAt > cfg.timeoutSeconds * 1000;
    let fresh: number;
    if (!n.healthy || stale) fresh = 0;
    else if (n.reportAt === undefined) fresh = loadIndex({ cpus: n.cpus, cpuUse: 0, memUse: 0 });
    else fresh = loadIndex({ cpus: n.cpus, cpuUse: n.cpuUse ?? 0, memUse: n.memUse ?? 0 });
    const small = fresh > 0 && n.index > 0 && Math.abs(fresh - n.index) / n.index <= INDEX_HYSTERESIS;
    if (!small) n.index = fresh;
  }
}

function apply(next: number[], counts: Map<number, number>): boolean {
  if (cfg.balancer === 'nft-dr') {
    const r = spawnSync('nft', ['-f', '-'], { input: bucketMapScript(next), encoding: 'utf8' });
    if (r.status !== 0) {
      log(`nft failed: ${r.stderr}`);
      return false;
    }
    return true;
  }
  // HAProxy: one runtime command per server (weights 0..256; bucket counts fit).
  const cmds =
    (cfg.haproxyBackends ?? []).flatMap((be) => nodes.map((n) => `set weight ${be}/${n.name} ${counts.get(n.id) ?? 0}`)).join(';') + '\n';
  const c = connect(cfg.haproxySocket!);
  c.on('error', (e) => log(`haproxy socket: ${e.message}`));
  c.end(cmds);
  return true;
}

function tick(): void {
  const now = Date.now();
  for (const n of nodes) route(n); // the deploy may have reloaded the table (chains back to the VIP network)
  computeIndexes(now);
  let weights = nodes.map((n) => ({ id: n.id, weight: n.index }));
  // Nothing usable at all: fall back to every node that passes its check (LDirectord's fallback
  // would be a sorry server; serving from a stale-reporting node beats serving nothing).
  if (weights.every((w) => w.weight <= 0)) weights = nodes.map((n) => ({ id: n.id, weight: n.healthy ? 1 : 0 }));
  if (weights.every((w) => w.weight <= 0)) return; // all down: keep the last table
  const counts = bucketCounts(weights, cfg.buckets);
  const next = assignBuckets(counts, cfg.buckets, cfg.seed);
  if (!applied || next.some((id, b) => id !== assignment[b])) {
    if (apply(next, counts)) {
      applied = true;
      assignment = next;
      for (const n of nodes) {
        const c = counts.get(n.id) ?? 0;
        if (c !== n.buckets) {
          event('weight', { node: n.name, weight: c, healthy: n.healthy, index: n.index, cpuUse: n.cpuUse ?? null, memUse: n.memUse ?? null });
        }
        n.buckets = c;
      }
    }
  }
  writeState(now);
}

function writeState(now: number): void {
  const state = {
    t: now,
    node: cfg.node,
    balancer: cfg.balancer,
    buckets: cfg.buckets,
    nodes: nodes.map((n) => ({
      name: n.name,
      id: n.id,
      buckets: n.buckets,
      healthy: n.healthy,
      index: n.index,
      reportedIndex: n.reportedIndex ?? null,
      cpuUse: n.cpuUse ?? null,
      memUse: n.memUse ?? null,
      reportAgeMs: n.reportAt === undefined ? null : now - n.reportAt,
      lastError: n.lastError ?? null,
    })),
  };
  writeFileSync(cfg.stateFile + '.tmp', JSON.stringify(state) + '\n');
  renameSync(cfg.stateFile + '.tmp', cfg.stateFile);
}

event('start', { nodes: nodes.map((n) => n.name), balancer: cfg.balancer, buckets: cfg.buckets });
log(`traffic manager on ${cfg.node}: udp ${cfg.port}, ${nodes.length} nodes, ${cfg.buckets} buckets, ${cfg.balancer}`);
for (const n of nodes) void healthLoop(n);
setInterval(tick, cfg.periodSeconds * 1000);
tick();
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
