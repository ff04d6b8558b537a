// Every fault kind halab knows, by name.
import type { FaultKind } from './fault.ts';
import { nodeKill, nodePause, nodeStop } from './node.ts';
import { nicDown, packetLoss, partition } from './network.ts';
import { cpuLoad, processKill } from './process.ts';

export const FAULT_KINDS: Record<string, FaultKind> = Object.fromEntries(
  [nodeKill, nodeStop, nodePause, nicDown, partition, packetLoss, cpuLoad, processKill].map((k) => [k.kind, k]),
);
