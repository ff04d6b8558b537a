// The cluster monitor (paper 001), itself a service: it runs asleep on its secondary and works only
// once woken (NMT_RUN/monitor.active = 1). Every M seconds it probes every host (ping + agent
// status), decides with schedule.ts's plan(), and carries out the recovery procedure by RPC:
// release on the questionable primary (overload only: a host that misses pings cannot be told),
// wake on the secondary, then a new sleeping standby on the host the scheduling table picks.
// The placement is saved to the NFS server after every change (a woken monitor fetches it).
import { createServer } from 'node:http';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { TIMING_KEYS, type NmtConfig } from '../config.ts';
import { DATA_DIR, NFS_DATA, NMT_RUN } from '../services.ts';
import { assess, plan, probeSummary, type Action, type Health, type Placement, type StatusReply } from '../schedule.ts';
import { event, probeHosts, rpc } from './rpc.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cfg = JSON.parse(readFileSync(process.argv[2] ?? '/etc/nmt/nmt.json', 'utf8')) as NmtConfig;
const node = process.argv[3] ?? '';
const STATE = `${DATA_DIR}/monitor/state.json`;

type Saved = { placement: Placement } & Partial<Record<(typeof TIMING_KEYS)[number], number>>;

let placement: Placement = Object.fromEntries(cfg.services.map((s) => [s.name, { primary: s.primary, secondary: s.secondary }]));
let health: Record<string, Health> = {};
let why: Record<string, string> = {}; // a host that is not ok: what the probe saw (in /state)
let ticks = 0;
const misses: Record<string, number> = {};

function load(): void {
  try {
    const s = JSON.parse(readFileSync(STATE, 'utf8')) as Saved;
    placement = s.placement;
    for (const k of TIMING_KEYS) if (typeof s[k] === 'number') cfg[k] = s[k];
  } catch {
    /* no saved state: the topology's placement */
  }
  const m = placement.monitor;
  if (m && m.primary !== node) placement.monitor = { primary: node, secondary: m.secondary === node ? null : m.secondary };
}

let saving = Promise.resolve();
function save(): void {
  const s: Saved = { placement, ...Object.fromEntries(TIMING_KEYS.map((k) => [k, cfg[k]])) };
  writeFileSync(STATE, JSON.stringify(s));
  const url = `nfs://${cfg.nfs.address}${cfg.nfs.exportPath}/${NFS_DATA}/monitor/state-${Date.now()}.json?version=4`;
  saving = saving.then(() => run('nfs-cp', [STATE, url], { timeout: 5000 }).then(() => undefined, (e: Error) => event(node, 'error', { op: 'save', message: e.message })));
}

const addr = (h: string) => cfg.hosts.find((x) => x.name === h)?.address ?? h;

async function act(a: Action): Promise<void> {
  try {
    if (a.type === 'migrate') {
      if (a.release) await rpc(addr(a.from), cfg.agentPort, '/release', { service: a.service }, cfg.releaseTimeoutS).catch(() => undefined);
      const r = await rpc<Record<string, number>>(addr(a.to), cfg.agentPort, '/wake', { service: a.service }, 70);
      event(node, 'migrated', { service: a.service, from: a.from, to: a.to, ...r });
    } else if (a.type === 'standby') {
      const t0 = Date.now();
      await rpc(addr(a.host), cfg.agentPort, '/standby', { service: a.service, primary: a.primary }, 70);
      event(node, 'secondary', { service: a.service, host: a.host, ms: Date.now() - t0 });
    } else if (a.type === 'wake') {
      const r = await rpc<Record<string, number>>(addr(a.host), cfg.agentPort, '/wake', { service: a.service }, 70);
      event(node, 'repaired', { service: a.service, host: a.host, ...r });
    } else {
      await rpc(addr(a.host), cfg.agentPort, '/release', { service: a.service }, 5);
      event(node, 'fenced', { service: a.service, host: a.host });
    }
  } catch (e) {
    event(node, 'error', { op: a.type, service: a.service, message: (e as Error).message });
  }
}

async function tick(): Promise<void> {
  const probes = await probeHosts(cfg.hosts.filter((h) => h.name !== node), cfg.agentPort, cfg.pingTimeoutS, cfg.statusTimeoutS);
  health = { [node]: 'ok' };
  why = {};
  const running: Record<string, StatusReply['services']> = {};
  for (const p of probes) {
    misses[p.node] = p.ping && p.status === 'timeout' ? (misses[p.node] ?? 0) + 1 : 0;
    health[p.node] = assess(p, cfg.overloadCpu, misses[p.node]);
    if (p.status !== 'timeout') running[p.node] = p.status.services;
    if (health[p.node] !== 'ok') why[p.node] = probeSummary(p, misses[p.node]!);
  }
  const next = plan(cfg.scheduling, placement, health, running, node);
  // A standby or repair still under way from an earlier tick is not asked for twice.
  const actions = next.actions.filter((a) => a.type === 'migrate' || !inFlight.has(actionKey(a)));
  if (actions.length === 0) return;
  const moved = JSON.stringify(next.placement) !== JSON.stringify(placement);
  placement = next.placement;
  for (const a of actions) if (a.type === 'migrate') event(node, 'decision', { service: a.service, from: a.from, to: a.to, cause: a.cause, why: why[a.from], cold: a.coldStart });
  if (moved) save();
  // Steps 1–2 for every failed service at once; steps 3–4 (new secondaries) after, not in R.
  await Promise.all(actions.filter((a) => a.type === 'migrate').map(act));
  // Not awaited: creating a standby can take long on a busy host and must not delay the next tick.
  for (const a of actions.filter((x) => x.type !== 'migrate')) {
    inFlight.add(actionKey(a));
    void act(a).finally(() => inFlight.delete(actionKey(a)));
  }
}

const inFlight = new Set<string>();
const actionKey = (a: Action) => `${a.type} ${a.service} ${'host' in a ? a.host : a.to}`;

async function main(): Promise<void> {
  while (readFileSync(`${NMT_RUN}/monitor.active`, 'utf8').trim() !== '1') await sleep(50);
  load();
  event(node, 'monitor-start', { placement });
  save();
  for (;;) {
    const start = Date.now();
    await tick().catch((e: Error) => event(node, 'error', { op: 'tick', message: e.message }));
    ticks++;
    await sleep(Math.max(0, start + cfg.monitorIntervalS * 1000 - Date.now()));
  }
}

createServer(async (req, res) => {
  const send = (code: number, v: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  if (req.url === '/state') return send(200, { node, placement, health, why, ticks, monitorIntervalS: cfg.monitorIntervalS, pingTimeoutS: cfg.pingTimeoutS });
  if (req.url === '/config' && req.method === 'POST') {
    let s = '';
    for await (const c of req) s += c;
    const b = JSON.parse(s || '{}') as Record<string, unknown>;
    for (const k of TIMING_KEYS) if (typeof b[k] === 'number') cfg[k] = b[k];
    save();
    await Promise.all(cfg.hosts.map((h) => rpc(h.address, cfg.agentPort, '/config', b, 2).catch(() => undefined)));
    return send(200, { ok: true });
  }
  send(404, { error: `no ${req.url}` });
}).listen(cfg.monitorPort);

if (existsSync(`${NMT_RUN}/monitor.active`)) void main();
else throw new Error(`monitor: ${NMT_RUN}/monitor.active missing (start me through the agent)`);
