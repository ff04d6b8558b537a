// The shapes a topology file goes through: the raw file (Topology) is
// validated and then expanded into a LabPlan that the backends build.

/** A NIC as written in a topology file: a network name, or a network with a fixed address. */
export type NicSpec = string | { network: string; address?: string };

/** Fields a kind and a node share; a node's own field overrides its kind's. */
export interface NodeFields {
  image?: string;
  backend?: 'container' | 'vm';
  nics?: NicSpec[];
  /** CPU cap in cores (cgroup quota), e.g. 0.1 */
  cpus?: number;
  /** Memory cap, docker style: 256m, 1g */
  memory?: string;
  /** Role the stack deploys on this node (master, traffic, nfs, client, …); defaults to the kind's name. */
  role?: string;
  /** Extra Linux capabilities (NET_ADMIN is always given). */
  capabilities?: string[];
  env?: Record<string, string>;
  /** Directories backed by a per-node volume (host filesystem, kept across restarts of the node). */
  volumes?: string[];
  /** Host devices passed into a container node at the same path (e.g. /dev/fuse for FUSE mounts). */
  devices?: string[];
}

export interface NodeSpec extends NodeFields {
  kind?: string;
  /** Expands to <name>-1 … <name>-<count>. */
  count?: number;
}

export interface NetworkSpec {
  subnet: string;
  gateway?: string;
}

export interface Topology {
  name: string;
  networks: Record<string, NetworkSpec>;
  kinds: Record<string, NodeFields>;
  nodes: Record<string, NodeSpec>;
  /** Which deploy recipe to run after the nodes are up (has, nmt, …). */
  stack?: string;
  /** Service virtual IP (must lie in one of the networks). */
  vip?: string;
  /** Stack-specific settings, passed through unchecked to the stack. */
  params?: Record<string, unknown>;
}

export interface PlannedNic {
  /** Interface name inside the node: eth0, eth1, … in topology order. */
  ifname: string;
  network: string;
  address: string;
  prefixLength: number;
}

export interface PlannedNode {
  /** Node name in the lab (web-3). */
  name: string;
  /** The kind it came from, if any. */
  kind?: string;
  role: string;
  image: string;
  backend: 'container' | 'vm';
  nics: PlannedNic[];
  cpus?: number;
  memoryBytes?: number;
  capabilities: string[];
  env: Record<string, string>;
  /** Directories backed by a per-node volume. */
  volumes?: string[];
  /** Host devices passed through (container nodes only). */
  devices?: string[];
}

export interface PlannedNetwork {
  name: string;
  subnet: string;
  gateway: string;
}

export interface LabPlan {
  lab: string;
  /** Absolute path of the topology file it came from, when known. */
  sourceFile?: string;
  networks: PlannedNetwork[];
  nodes: PlannedNode[];
  stack?: string;
  vip?: string;
  params: Record<string, unknown>;
}

/** One problem found in a topology file, positioned for `FILE:LINE:COL: message`. */
export interface TopologyProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the field, e.g. nodes.web.count */
  field: string;
  message: string;
}

export class TopologyError extends Error {
  constructor(readonly problems: TopologyProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'TopologyError';
  }
}

export function formatProblem(p: TopologyProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.field ? p.field + ': ' : ''}${p.message}`;
}

/** The default image for a node that names none. */
export const BASE_IMAGE = 'halab/base';

/** Lab networks live here; the engine's own pool is ENGINE_POOL. */
export const LAB_RANGE = '198.18.0.0/15';
export const ENGINE_POOL = '198.19.0.0/16';
