// TCP toxics (latency + jitter, bandwidth, slow_close, timeout, slicer, limit_data, reset_peer)
// on the path from a node to a service (default: the lab's VIP, port 80). The kernel has no
// netem, so the Toxiproxy-compatible proxy (chaos/toxiproxy) runs inside the node, as user
// nobody, API on the node's first address :8474; an nftables nat rule in the node redirects the
// node's own new connections to SERVICE:PORT into the proxy (the proxy's own upstream dials, as
// nobody, are not redirected). The toxic is added and removed through the unchanged
// toxiproxy-node-client from the host. Acts on TCP streams (application data), not on packets.
import { fileURLToPath } from 'node:url';
import { Toxiproxy, type ToxicDirection, type ToxicType } from 'toxiproxy-node-client';
import type { Backend } from '../../lab/backends/backend.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import { daemonRunning, installDaemon, startDaemon, stopDaemon } from '../../lab/stacks/node-files.ts';
import { chaosTable, inNetns } from '../nodeops.ts';
import { param, type FaultContext, type FaultKind, type PreparedFault } from './fault.ts';

const DAEMON = fileURLToPath(new URL('../toxiproxy/daemon.ts', import.meta.url));
const API_PORT = 8474;
const NOBODY = 65534;
const CURL = `curl -s -o /dev/null --max-time 3 -w '%{time_total}'`;
const AS_PROXY_USER = `setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups`;
const TOXICS: ToxicType[] = ['latency', 'bandwidth', 'slow_close', 'timeout', 'slicer', 'limit_data', 'reset_peer'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Give up on an API call after `ms` (a paused node accepts TCP but never answers). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: no answer in ${ms} ms`)))]);
}

const apiOf = (plan: LabPlan, node: string): string => {
  const addr = plan.nodes.find((n) => n.name === node)?.nics[0]?.address;
  if (!addr) throw new Error(`toxic on ${node}: the node has no address for the proxy's API`);
  return `http://${addr}:${API_PORT}`;
};

/** `to`: an address, a node name (its first address) or, by default, the lab's VIP. */
function serviceAddress(plan: LabPlan, to: string | undefined): string {
  if (!to) {
    if (!plan.vip) throw new Error("toxic: the lab has no VIP; say 'to: NODE or ADDRESS'");
    return plan.vip;
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(to)) return to;
  const addr = plan.nodes.find((n) => n.name === to)?.nics[0]?.address;
  if (!addr) throw new Error(`toxic: 'to: ${to}' is neither an IPv4 address nor a node of lab ${plan.lab}`);
  return addr;
}

/** Start the in-node proxy (idempotent) and wait until its API answers. */
async function ensureNodeProxy(backend: Backend, lab: string, node: string, api: string): Promise<Toxiproxy> {
  const argv = await installDaemon(backend, lab, node, 'toxiproxy', DAEMON);
  const listen = new URL(api).host;
  await startDaemon(backend, lab, node, {
    name: 'toxiproxy',
    argv: [...AS_PROXY_USER.split(' '), ...argv, '--listen', listen, '--quiet'],
  });
  const tp = new Toxiproxy(api);
  // node needs a second or two to load the bundle on an idle machine; far more on a loaded one
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(200)) {
    if (await within(tp.getVersion(), 2000, 'version').then(() => true, () => false)) return tp;
  }
  throw new Error(`${node}: the fault proxy did not answer on ${api} (see /var/log/halab/toxiproxy.log there)`);
}

/** Stop the in-node proxy if it runs (scenario end / heal, once its toxics and redirects are gone). */
export async function stopNodeProxy(backend: Backend, lab: string, node: string): Promise<boolean> {
  if (!(await daemonRunning(backend, lab, node, 'toxiproxy').catch(() => false))) return false;
  await stopDaemon(backend, lab, node, 'toxiproxy');
  return true;
}

/** Inverse of a toxic: remove it through the API; harmless when it or the proxy is gone. */
export async function removeToxic(api: string, proxy: string, toxic: string): Promise<string> {
  try {
    const p = await within(new Toxiproxy(api).get(proxy), 5000, 'get proxy');
    await within((await p.getToxic(toxic)).remove(), 5000, 'remove toxic');
    return `toxic ${toxic} removed from ${proxy}`;
  } catch (err) {
    return `toxic ${toxic} already gone (${(err as Error).message})`;
  }
}


function parseTimes(lines: string[]): (number | null)[] {
  return lines.map((l) => (/^[\d.]+$/.test(l) ? Number(l) * 1000 : null));
}

/** Time HTTP requests from the node to url (curl, a new connection each): ms, or null on error. */
export async function timeRequests(backend: Backend, lab: string, node: string, url: string, n: number): Promise<(number | null)[]> {
  const r = await backend.exec(lab, node, ['sh', '-c', `for i in $(seq ${n}); do ${CURL} '${url}' || printf x; echo; done`], { check: false });
  return parseTimes(r.stdout.trim().split('\n'));
}

/** Pairs of requests, one beside the proxy (as its user: not redirected) and one through it
 * (the node's own), interleaved so that both see the same load on a busy machine. */
async function timePairs(backend: Backend, lab: string, node: string, url: string, n: number) {
  const r = await backend.exec(
    lab,
    node,
    ['sh', '-c', `for i in $(seq ${n}); do ${AS_PROXY_USER} ${CURL} '${url}' || printf x; echo; ${CURL} '${url}' || printf x; echo; done`],
    { check: false },
  );
  const all = parseTimes(r.stdout.trim().split('\n'));
  return { direct: all.filter((_, i) => i % 2 === 0), proxied: all.filter((_, i) => i % 2 === 1) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : null;
};
const round1 = (x: number | null) => (x === null ? null : Number(x.toFixed(1)));
const minOf = (xs: number[]) => (xs.length ? Math.min(...xs) : null);

interface ToxicSpec {
  type: ToxicType;
  attributes: Record<string, number>;
  stream: ToxicDirection;
  toxicity: number;
}

function prepareToxic(ctx: FaultContext, node: string, params: Record<string, unknown>, spec: ToxicSpec, kind: string): PreparedFault {
  const to = serviceAddress(ctx.plan, param<string | undefined>(params, 'to', undefined));
  const port = param(params, 'port', 80);
  const url = `http://${to}:${port}${param(params, 'path', '/')}`;
  const api = apiOf(ctx.plan, node);
  const proxyName = `halab_${to.replace(/\./g, '_')}_${port}`;
  const toxicName = `halab_${ctx.id}`;
  const table = `${chaosTable(ctx.lab)}_${ctx.id}`;
  const samples = param(params, 'samples', 9);
  const redirect = (lport: number) => `table inet ${table} {
  chain out { type nat hook output priority -100; policy accept; meta skuid != ${NOBODY} ip daddr ${to} tcp dport ${port} counter redirect to :${lport}; }
}\n`;
  return {
    actions: [
      `exec ${node}: start the fault proxy (halab toxiproxy, user nobody) with its API on ${api}`,
      `toxiproxy-node-client ${api}: proxy ${proxyName} 127.0.0.1:<port> → ${to}:${port}; add toxic ${toxicName} ${JSON.stringify(spec)}`,
      `nsenter -t <pid of ${node}> -n nft: redirect ${node}'s new connections to ${to}:${port} into the proxy (table ${table})`,
    ],
    inverse: {
      type: 'steps',
      steps: [
        { type: 'nft-delete-table', node, family: 'inet', table },
        { type: 'toxic-remove', node, api, proxy: proxyName, toxic: toxicName },
      ],
    },
    warmup: () => ensureNodeProxy(ctx.backend, ctx.lab, node, api).then(() => undefined),
    act: async () => {
      const tp = await ensureNodeProxy(ctx.backend, ctx.lab, node, api);
      const proxy = await tp
        .get(proxyName)
        .catch(() => tp.createProxy({ name: proxyName, listen: '127.0.0.1:0', upstream: `${to}:${port}` }))
        .catch(() => tp.get(proxyName)); // created meanwhile by a fault acting at the same time
      await proxy.addToxic({ name: toxicName, ...spec });
      const lport = Number(proxy.listen.slice(proxy.listen.lastIndexOf(':') + 1));
      await inNetns(ctx.backend, ctx.lab, node, ['nft', '-f', '-'], redirect(lport));
    },
    verify: async () => {
      const { direct: baseline, proxied: during } = await timePairs(ctx.backend, ctx.lab, node, url, samples);
      const ok = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
      const listed = (await (await fetch(`${api}/proxies/${proxyName}/toxics`, { signal: AbortSignal.timeout(5000) })).json()) as { name: string }[];
      const toxics = listed.map((t) => t.name);
      const nft = await inNetns(ctx.backend, ctx.lab, node, ['nft', 'list', 'table', 'inet', table]);
      // A delay adds a floor under every sample while CPU contention only adds on top: the
      // difference of the minima estimates the added delay best on a busy machine.
      const [bMin, dMin] = [minOf(ok(baseline)), minOf(ok(during))];
      return {
        fault: kind,
        url,
        toxicListed: toxics.includes(toxicName),
        redirected: Number(/packets (\d+)/.exec(nft)?.[1] ?? 0),
        baselineMs: { min: round1(bMin), median: round1(median(ok(baseline))) },
        duringMs: { min: round1(dMin), median: round1(median(ok(during))) },
        addedMs: bMin === null || dMin === null ? null : round1(dMin - bMin),
        failedDuring: during.length - ok(during).length,
        samples,
      };
    },
  };
}

const stream = (params: Record<string, unknown>): ToxicDirection => {
  const s = param<string>(params, 'stream', 'downstream');
  if (s !== 'upstream' && s !== 'downstream') throw new Error(`stream must be upstream or downstream, not '${s}'`);
  return s;
};

/** latency: params latency_ms, jitter_ms, stream, toxicity, to, port, path. Evidence: HTTP time rose. */
export const latency: FaultKind = {
  kind: 'latency',
  layer: 'TCP stream (Toxiproxy-compatible proxy in the node; each chunk held latency ± jitter ms)',
  prepare: (ctx, node, params) => {
    const ms = param(params, 'latency_ms', 100);
    if (!(ms >= 0)) throw new Error(`latency_ms must be ≥ 0, not ${ms}`);
    const attributes = { latency: ms, jitter: param(params, 'jitter_ms', 0) };
    return prepareToxic(ctx, node, params, { type: 'latency', attributes, stream: stream(params), toxicity: param(params, 'toxicity', 1) }, 'latency');
  },
};

/** Any toxic by name: params type, attributes (as Toxiproxy's), stream, toxicity, to, port, path. */
export const toxic: FaultKind = {
  kind: 'toxic',
  layer: 'TCP stream (Toxiproxy-compatible proxy in the node)',
  prepare: (ctx, node, params) => {
    const type = param<string>(params, 'type', '') as ToxicType;
    if (!TOXICS.includes(type)) throw new Error(`toxic type must be one of ${TOXICS.join(', ')}, not '${type}'`);
    const attributes = param<Record<string, number>>(params, 'attributes', {});
    return prepareToxic(ctx, node, params, { type, attributes, stream: stream(params), toxicity: param(params, 'toxicity', 1) }, `toxic ${type}`);
  },
};
