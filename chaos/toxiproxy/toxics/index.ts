// Registry of toxic types (Toxiproxy's toxics.ToxicRegistry).
import type { ToxicDefinition } from './definition.ts';
import { bandwidth } from './bandwidth.ts';
import { latency } from './latency.ts';
import { limitData } from './limit_data.ts';
import { noop } from './noop.ts';
import { resetPeer } from './reset_peer.ts';
import { slicer } from './slicer.ts';
import { slowClose } from './slow_close.ts';
import { timeout } from './timeout.ts';

export const toxicRegistry: ReadonlyMap<string, ToxicDefinition> = new Map(
  [noop, latency, bandwidth, slowClose, timeout, slicer, limitData, resetPeer].map((d) => [d.type, d]),
);

export type { ToxicDefinition, Attributes, AttributeSchema } from './definition.ts';
export type { Chunk, Direction, EndKind, Sink, StageContext, StageSpec } from './stage.ts';
export { Stage } from './stage.ts';
