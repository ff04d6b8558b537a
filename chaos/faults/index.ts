// Every fault kind halab knows, by name.
import type { FaultKind } from './fault.ts';
import { nodeKill, nodePause, nodeRestart, nodeStop } from './node.ts';
import { linkCut, nicDown, nicFlap, packetLoss, partition } from './network.ts';
import { cpuLoad, memoryPressure, processKill, processStop } from './process.ts';
import { bandwidth } from './bandwidth.ts';
import { latency, toxic } from './toxic.ts';
import { corrupt, duplicate } from './packet.ts';

export const FAULT_KINDS: Record<string, FaultKind> = Object.fromEntries(
  [
    nodeKill,
    nodeStop,
    nodePause,
    nodeRestart,
    nicDown,
    nicFlap,
    partition,
    linkCut,
    packetLoss,
    duplicate,
    corrupt,
    bandwidth,
    latency,
    toxic,
    cpuLoad,
    memoryPressure,
    processKill,
    processStop,
  ].map((k) => [k.kind, k]),
);
