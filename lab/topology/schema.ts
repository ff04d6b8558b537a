// Shape checks of a topology file: keys, types, names. Lenient on purpose: a bad field is reported
// and dropped, so the semantic checks still run and every problem is reported in one go.
import { reportUnknownKeys, type FieldPath, type Report } from './yaml-positions.ts';
import type { NetworkSpec, NicSpec, NodeFields, NodeSpec, Topology } from './types.ts';


export const TOP_KEYS = ['name', 'networks', 'kinds', 'nodes', 'stack', 'vip', 'params'] as const;
export const NETWORK_KEYS = ['subnet', 'gateway'] as const;
export const FIELD_KEYS = ['image', 'backend', 'nics', 'cpus', 'memory', 'role', 'capabilities', 'env', 'volumes', 'devices'] as const;
export const NODE_KEYS = [...FIELD_KEYS, 'kind', 'count'] as const;
export const NIC_KEYS = ['network', 'address'] as const;

export const NAME_RE = /^[a-z][a-z0-9-]*$/;
/** A host device a container node may use (passed through as the same path). */
export const DEVICE_RE = /^\/dev\/[\w.-]+(\/[\w.-]+)*$/;

/** Lab names prefix Docker resource names and bridge labels: short, lowercase. */
export function validateLabName(name: string): string | undefined {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) return `lab name '${name}' must match [a-z][a-z0-9-]* (lowercase letters, digits, '-')`;
  if (name.length > 24) return `lab name '${name}' is longer than 24 characters`;
  return undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`);


function str(obj: Obj, key: string, path: FieldPath, report: Report): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') {
    report([...path, key], `must be a non-empty string, not ${typeName(v)}`);
    return undefined;
  }
  return v;
}

function mapOf(obj: Obj, key: string, path: FieldPath, report: Report, required: boolean): Obj | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) report(path, `missing required key '${key}'`);
    return undefined;
  }
  if (!isObj(v)) {
    report([...path, key], `must be a mapping of names, not ${typeName(v)}`);
    return undefined;
  }
  return v;
}

function checkName(name: string, path: FieldPath, what: string, report: Report): boolean {
  if (NAME_RE.test(name) && name.length <= 40) return true;
  report(path, `${what} name '${name}' must match [a-z][a-z0-9-]* (at most 40 characters)`, true);
  return false;
}

function checkNics(v: unknown, path: FieldPath, report: Report): NicSpec[] | undefined {
  if (!Array.isArray(v)) {
    report(path, `must be a list of networks (e.g. [lan1, lan2]), not ${typeName(v)}`);
    return undefined;
  }
  const out: NicSpec[] = [];
  v.forEach((item, i) => {
    const p = [...path, i];
    if (typeof item === 'string') out.push(item);
    else if (isObj(item)) {
      reportUnknownKeys(item, NIC_KEYS, p, report);
      const network = str(item, 'network', p, report);
      const address = str(item, 'address', p, report);
      if (!network) {
        if (item.network === undefined) report(p, "a NIC needs 'network'");
        return;
      }
      out.push(address ? { network, address } : { network });
    } else report(p, `must be a network name or { network, address }, not ${typeName(item)}`);
  });
  return out;
}

function checkFields(obj: Obj, path: FieldPath, report: Report, into: NodeFields): void {
  const image = str(obj, 'image', path, report);
  if (image) into.image = image;
  const role = str(obj, 'role', path, report);
  if (role) into.role = role;
  if (obj.backend !== undefined) {
    if (obj.backend === 'container' || obj.backend === 'vm') into.backend = obj.backend;
    else report([...path, 'backend'], `must be 'container' or 'vm', not ${typeName(obj.backend)}`);
  }
  if (obj.nics !== undefined) {
    const nics = checkNics(obj.nics, [...path, 'nics'], report);
    if (nics) into.nics = nics;
  }
  if (obj.cpus !== undefined) {
    if (typeof obj.cpus === 'number' && obj.cpus > 0 && obj.cpus <= 64) into.cpus = obj.cpus;
    else report([...path, 'cpus'], `must be a number of cores > 0 (e.g. 0.1), not ${typeName(obj.cpus)}`);
  }
  if (obj.memory !== undefined) {
    if ((typeof obj.memory === 'string' && parseMemory(obj.memory) !== undefined) || (typeof obj.memory === 'number' && obj.memory > 0)) {
      into.memory = String(obj.memory);
    } else report([...path, 'memory'], `must be a size like 256m, 1g or a number of bytes, not ${typeName(obj.memory)}`);
  }
  if (obj.capabilities !== undefined) {
    if (Array.isArray(obj.capabilities) && obj.capabilities.every((c) => typeof c === 'string' && /^[A-Z_]+$/.test(c))) {
      into.capabilities = obj.capabilities as string[];
    } else report([...path, 'capabilities'], 'must be a list of Linux capability names like [NET_ADMIN, SYS_ADMIN]');
  }
  if (obj.volumes !== undefined) {
    if (Array.isArray(obj.volumes) && obj.volumes.every((v) => typeof v === 'string' && /^\/[\w./-]*$/.test(v))) {
      into.volumes = obj.volumes as string[];
    } else report([...path, 'volumes'], 'must be a list of absolute directory paths, like [/srv/export]');
  }
  if (obj.devices !== undefined) {
    if (Array.isArray(obj.devices) && obj.devices.every((d) => typeof d === 'string' && DEVICE_RE.test(d))) {
      into.devices = obj.devices as string[];
    } else report([...path, 'devices'], 'must be a list of host device paths under /dev, like [/dev/fuse]');
  }
  if (obj.env !== undefined) {
    if (isObj(obj.env) && Object.values(obj.env).every((x) => ['string', 'number', 'boolean'].includes(typeof x))) {
      into.env = Object.fromEntries(Object.entries(obj.env).map(([k, x]) => [k, String(x)]));
    } else report([...path, 'env'], 'must be a mapping of NAME: value');
  }
}

/** Bytes from 256m / 1g / 512k / 1048576. */
export function parseMemory(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) return undefined;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = Math.round(Number(m[1]) * mult);
  return bytes > 0 ? bytes : undefined;
}

/** Returns the cleaned topology (bad fields dropped) — problems go to `report`. */
export function checkShape(raw: unknown, report: Report): Topology | undefined {
  if (!isObj(raw)) {
    report([], `a topology file must be a mapping with name, networks and nodes, not ${typeName(raw)}`);
    return undefined;
  }
  reportUnknownKeys(raw, TOP_KEYS, [], report);
  let name = str(raw, 'name', [], report);
  if (raw.name === undefined) report([], "missing required key 'name'");
  if (name) {
    const problem = validateLabName(name);
    if (problem) {
      report(['name'], problem);
      name = undefined;
    }
  }
  const topo: Topology = { name: name ?? '', networks: {}, kinds: {}, nodes: {}, params: {} };

  for (const [net, v] of Object.entries(mapOf(raw, 'networks', [], report, true) ?? {})) {
    const p = ['networks', net];
    if (!checkName(net, p, 'network', report)) continue;
    if (!isObj(v)) {
      report(p, `must be a mapping like { subnet: 198.18.1.0/24 }, not ${typeName(v)}`);
      continue;
    }
    reportUnknownKeys(v, NETWORK_KEYS, p, report);
    const subnet = str(v, 'subnet', p, report);
    if (v.subnet === undefined) report(p, "missing required key 'subnet'");
    const spec: NetworkSpec = { subnet: subnet ?? '' };
    const gateway = str(v, 'gateway', p, report);
    if (gateway) spec.gateway = gateway;
    if (subnet) topo.networks[net] = spec;
  }
  for (const [kind, v] of Object.entries(mapOf(raw, 'kinds', [], report, false) ?? {})) {
    const p = ['kinds', kind];
    if (!checkName(kind, p, 'kind', report)) continue;
    if (!isObj(v)) {
      report(p, `must be a mapping of node fields, not ${typeName(v)}`);
      continue;
    }
    reportUnknownKeys(v, FIELD_KEYS, p, report);
    const fields: NodeFields = {};
    checkFields(v, p, report, fields);
    topo.kinds[kind] = fields;
  }
  for (const [node, v] of Object.entries(mapOf(raw, 'nodes', [], report, true) ?? {})) {
    const p = ['nodes', node];
    if (!checkName(node, p, 'node', report)) continue;
    const spec: NodeSpec = {};
    if (v !== null && !isObj(v)) {
      report(p, `must be a mapping of node fields, not ${typeName(v)}`);
      continue;
    }
    const obj = v ?? {};
    reportUnknownKeys(obj, NODE_KEYS, p, report);
    checkFields(obj, p, report, spec);
    const kind = str(obj, 'kind', p, report);
    if (kind) spec.kind = kind;
    if (obj.count !== undefined) {
      if (Number.isInteger(obj.count) && (obj.count as number) >= 1 && (obj.count as number) <= 64) spec.count = obj.count as number;
      else report([...p, 'count'], `must be a whole number from 1 to 64, not ${typeName(obj.count)}`);
    }
    topo.nodes[node] = spec;
  }
  const stack = str(raw, 'stack', [], report);
  if (stack) topo.stack = stack;
  const vip = str(raw, 'vip', [], report);
  if (vip) topo.vip = vip;
  if (raw.params !== undefined) {
    if (isObj(raw.params)) topo.params = raw.params;
    else report(['params'], `must be a mapping, not ${typeName(raw.params)}`);
  }
  return topo;
}
