// The NMT stack's settings (paper 001), read from the topology's `params:` with positioned
// errors: the monitor interval M, the ping timeout, the overload heuristic, the four services
// (service IP, primary, secondary) and the scheduling table. Pure: used by `halab validate`
// (through lab/stacks/index.ts), by the deploy and, as JSON, by the daemons in the nodes.
import ipaddr from 'ipaddr.js';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import type { FieldPath, Report } from '../../topology/yaml-positions.ts';
import { reportUnknownKeys } from '../../topology/yaml-positions.ts';
import { UserError } from '../../util/errors.ts';

/** The paper's services; each kind runs a fixed real daemon (services.ts). */
export const SERVICE_NAMES = ['web', 'mail', 'name', 'monitor'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceConfig {
  name: ServiceName;
  /** The service IP that moves with the service (an extra address on the holder's NIC). */
  ip: string;
  prefixLength: number;
  /** Interface carrying the service IP on every host (the NIC on the service's network). */
  ifname: string;
  primary: string;
  secondary: string;
}

export interface NmtHost {
  name: string;
  address: string;
}

/** Everything the monitor and agents need (written as /etc/nmt/nmt.json in every host). */
export interface NmtConfig {
  lab: string;
  /** Monitor interval M, seconds. */
  monitorIntervalS: number;
  /** ICMP ping timeout, seconds. */
  pingTimeoutS: number;
  /** How long the agent's status (load) may take before the host counts as overloaded, seconds. */
  statusTimeoutS: number;
  /** Overload heuristic: CPU use over the window, as a fraction of the node's cap. */
  overloadCpu: number;
  overloadWindowS: number;
  /** How long the monitor waits for a questionable primary to release (overload path), seconds. */
  releaseTimeoutS: number;
  services: ServiceConfig[];
  hosts: NmtHost[];
  /** Candidate order for new secondaries (the paper's scheduling table). */
  scheduling: string[];
  nfs: { address: string; exportPath: string };
  agentPort: number;
  monitorPort: number;
  /** The node the real clients run in. */
  client?: NmtHost;
}

export const PARAM_KEYS = [
  'monitor_interval',
  'ping_timeout',
  'status_timeout',
  'overload_cpu',
  'overload_window',
  'release_timeout',
  'services',
  'scheduling',
] as const;
const SERVICE_KEYS = ['ip', 'primary', 'secondary'] as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(p: Record<string, unknown>, key: string, dflt: number, min: number, max: number, report: Report): number {
  const v = p[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    report(['params', key], `must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return dflt;
  }
  return v;
}

/**
 * Check the params and build the config. Every problem goes to `report` (path under `params`);
 * the returned config is only meaningful when nothing was reported.
 */
export function readNmtConfig(plan: LabPlan, report: Report): NmtConfig {
  const p = isObj(plan.params) ? plan.params : {};
  reportUnknownKeys(p, PARAM_KEYS, ['params'], report);
  const hosts = plan.nodes.filter((n) => n.role === 'host');
  const hostNames = hosts.map((h) => h.name);
  const nfsNode = plan.nodes.find((n) => n.role === 'nfs');
  const clientNode = plan.nodes.find((n) => n.role === 'client');
  if (hosts.length < 2) report(['nodes'], `stack nmt needs at least 2 nodes of role host (found ${hosts.length})`);
  if (!nfsNode) report(['nodes'], 'stack nmt needs a node of role nfs (the NFS server holding the services\' data)');

  const m = num(p, 'monitor_interval', 4, 0.1, 600, report);
  const cfg: NmtConfig = {
    lab: plan.lab,
    monitorIntervalS: m,
    pingTimeoutS: num(p, 'ping_timeout', 0.5, 0.01, 60, report),
    statusTimeoutS: num(p, 'status_timeout', 2, 0.01, 60, report),
    overloadCpu: num(p, 'overload_cpu', 0.9, 0.1, 1, report),
    overloadWindowS: num(p, 'overload_window', 1, 0.05, 60, report),
    releaseTimeoutS: num(p, 'release_timeout', 1, 0.05, 60, report),
    services: [],
    hosts: hosts.map((h) => ({ name: h.name, address: h.nics[0]?.address ?? '' })),
    scheduling: [],
    nfs: { address: nfsNode?.nics[0]?.address ?? '', exportPath: '/export' },
    agentPort: 7800,
    monitorPort: 7801,
    client: clientNode ? { name: clientNode.name, address: clientNode.nics[0]?.address ?? '' } : undefined,
  };
  if (cfg.pingTimeoutS >= m) report(['params', 'ping_timeout'], `must be shorter than monitor_interval (${m} s)`);

  const services = p.services;
  if (!isObj(services)) report(['params', 'services'], services === undefined ? 'missing: the services web, mail, name and monitor with ip, primary, secondary' : 'must be a mapping of service name to { ip, primary, secondary }');
  else {
    reportUnknownKeys(services, SERVICE_NAMES, ['params', 'services'], report);
    for (const name of SERVICE_NAMES) {
      const s = services[name];
      const path: FieldPath = ['params', 'services', name];
      if (!isObj(s)) {
        report(s === undefined ? ['params', 'services'] : path, s === undefined ? `missing service '${name}'` : 'must be a mapping { ip, primary, secondary }');
        continue;
      }
      reportUnknownKeys(s, SERVICE_KEYS, path, report);
      const svc = readService(plan, hosts, name, s, path, report);
      if (svc) cfg.services.push(svc);
    }
    checkDistinct(cfg.services, report);
  }

  const table = p.scheduling;
  if (table === undefined) cfg.scheduling = [...hostNames];
  else if (!Array.isArray(table)) report(['params', 'scheduling'], 'must be a list of host node names (candidate order for new secondaries)');
  else {
    table.forEach((h, i) => {
      if (typeof h !== 'string' || !hostNames.includes(h)) report(['params', 'scheduling', i], `'${String(h)}' is not a node of role host (${hostNames.join(', ')})`);
      else if (cfg.scheduling.includes(h)) report(['params', 'scheduling', i], `'${h}' is listed twice`);
      else cfg.scheduling.push(h);
    });
  }
  return cfg;
}

function readService(
  plan: LabPlan,
  hosts: PlannedNode[],
  name: ServiceName,
  s: Record<string, unknown>,
  path: FieldPath,
  report: Report,
): ServiceConfig | undefined {
  let ok = true;
  const host = (key: 'primary' | 'secondary'): string => {
    const v = s[key];
    if (typeof v !== 'string' || !hosts.some((h) => h.name === v)) {
      report([...path, key], v === undefined ? `missing ${key} (a node of role host)` : `'${String(v)}' is not a node of role host (${hosts.map((h) => h.name).join(', ')})`);
      ok = false;
    }
    return String(v);
  };
  const primary = host('primary');
  const secondary = host('secondary');
  if (ok && primary === secondary) {
    report([...path, 'secondary'], `must differ from the primary (${primary})`);
    ok = false;
  }
  const ip = s.ip;
  let prefixLength = 0;
  if (typeof ip !== 'string' || !ipaddr.IPv4.isValidFourPartDecimal(ip)) {
    report([...path, 'ip'], ip === undefined ? 'missing ip (the service IP)' : `'${String(ip)}' is not an IPv4 address`);
    return undefined;
  }
  const net = plan.networks.find((n) => ipaddr.parse(ip).match(ipaddr.parseCIDR(n.subnet)));
  if (!net) {
    report([...path, 'ip'], `${ip} is in none of the lab's networks (${plan.networks.map((n) => n.subnet).join(', ')})`);
    return undefined;
  }
  const network = net.name;
  prefixLength = ipaddr.parseCIDR(net.subnet)[1];
  const taken = plan.nodes.find((n) => n.nics.some((x) => x.address === ip));
  if (taken) report([...path, 'ip'], `${ip} is already the address of node ${taken.name}`);
  if (ip === net.gateway) report([...path, 'ip'], `${ip} is the gateway of ${net.name}`);
  const nics = hosts.map((h) => h.nics.find((x) => x.network === network));
  if (nics.some((x) => !x)) {
    report([...path, 'ip'], `every host needs a NIC on ${network} to carry ${ip}`);
    return undefined;
  }
  const ifnames = new Set(nics.map((x) => x!.ifname));
  if (ifnames.size > 1) report([...path, 'ip'], `hosts reach ${network} through different interfaces (${[...ifnames].join(', ')}); give them the same NIC order`);
  if (!ok) return undefined;
  return { name, ip, prefixLength, ifname: nics[0]!.ifname, primary, secondary };
}

/** Two services sharing an IP would make "who owns the IP" ambiguous. */
function checkDistinct(services: ServiceConfig[], report: Report): void {
  const seen = new Map<string, string>();
  for (const s of services) {
    const other = seen.get(s.ip);
    if (other) report(['params', 'services', s.name, 'ip'], `${s.ip} is already the IP of service ${other}`);
    seen.set(s.ip, s.name);
  }
}

/** The settings the benchmark changes at run time (the monitor passes them on to the agents). */
export const TIMING_KEYS = ['monitorIntervalS', 'pingTimeoutS', 'statusTimeoutS', 'overloadWindowS', 'releaseTimeoutS'] as const;

/** For callers outside validation (deploy, bench): throw every problem at once. */
export function nmtConfig(plan: LabPlan): NmtConfig {
  const problems: string[] = [];
  const cfg = readNmtConfig(plan, (path, message) => problems.push(`${path.map(String).join('.')}: ${message}`));
  if (problems.length) throw new UserError(`lab ${plan.lab}: invalid nmt params:\n  ${problems.join('\n  ')}`);
  return cfg;
}
