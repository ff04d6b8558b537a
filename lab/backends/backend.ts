// The contract every node backend (docker containers now, QEMU VMs later) fulfils.
import type { LabPlan, PlannedNode } from '../topology/types.ts';

export type NodeState = 'running' | 'paused' | 'stopped' | 'missing' | 'unknown';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Fail (throw) on a non-zero exit code. Default true. */
  check?: boolean;
  env?: Record<string, string>;
  user?: string;
  /** Kill the command after this many ms. */
  timeoutMs?: number;
  stdin?: string;
}

export interface NodeStats {
  /** Cumulative CPU time used by the node, seconds. */
  cpuSeconds: number;
  /** CPU cap in cores, when one is set. */
  cpuLimit?: number;
  memoryBytes: number;
  memoryLimitBytes?: number;
}

export interface NodeInfo {
  name: string;
  role: string;
  backend: 'container' | 'vm';
  state: NodeState;
  /** Host PID of the node's init process, for nsenter-based faults. */
  pid?: number;
  nics: { ifname: string; network: string; address: string; mac?: string }[];
}

/** Anything the backend made for a lab, found by its label. */
export interface LabResource {
  type: 'container' | 'network' | 'volume' | 'image' | 'process' | 'file';
  id: string;
  name: string;
}

export interface Backend {
  readonly kind: 'container' | 'vm';
  /** Make the lab's networks (idempotent). */
  createNetworks(plan: LabPlan): Promise<void>;
  /** Create and start one node (idempotent: an existing running node is left as is). */
  createNode(plan: LabPlan, node: PlannedNode): Promise<void>;
  start(lab: string, node: string): Promise<void>;
  stop(lab: string, node: string, timeoutSeconds?: number): Promise<void>;
  pause(lab: string, node: string): Promise<void>;
  resume(lab: string, node: string): Promise<void>;
  kill(lab: string, node: string, signal?: string): Promise<void>;
  destroy(lab: string, node: string): Promise<void>;
  exec(lab: string, node: string, cmd: string[], opts?: ExecOptions): Promise<ExecResult>;
  setLink(lab: string, node: string, ifname: string, up: boolean): Promise<void>;
  /** Unpack a tar archive into a directory of the node (fast bulk copy: no work inside the node). */
  putArchive(lab: string, node: string, dir: string, tar: Buffer): Promise<void>;
  /** Set a network sysctl in the node's network namespace (e.g. net.ipv4.conf.all.arp_ignore). */
  setSysctl(lab: string, node: string, key: string, value: string): Promise<void>;
  stats(lab: string, node: string): Promise<NodeStats>;
  /**
   * Change a running node's CPU cap (cores; 0 = uncapped), live, optionally over a CFS period other
   * than the kernel's 100 ms. Optional: benchmarks that vary the cap need it.
   */
  setCpuLimit?(lab: string, node: string, cpus: number, opts?: { periodMs?: number }): Promise<void>;
  /**
   * Let a node's tasks run at a real-time priority for up to `runtimeUs` of CPU per second (the
   * kernel's RT group budget, where it has one). The task still needs CAP_SYS_NICE to ask for it.
   */
  allowRealtime?(lab: string, node: string, runtimeUs: number): Promise<void>;
  /** Restrict a node to a set of host CPUs (cpuset list, e.g. "1" or "0-1"), live. */
  setCpuSet?(lab: string, node: string, cpus: string): Promise<void>;
  inspect(lab: string, node: string): Promise<NodeInfo>;
  /** Every resource carrying the lab's label. */
  listResources(lab: string): Promise<LabResource[]>;
  /** Remove every resource carrying the lab's label. */
  destroyLab(lab: string): Promise<LabResource[]>;
}

export const LAB_LABEL = 'halab.lab';
export const NODE_LABEL = 'halab.node';
export const ROLE_LABEL = 'halab.role';
