// What every toxic module exports: its type name, attribute schema and stage class.
import type { Sink, Stage, StageContext, StageSpec } from './stage.ts';

export interface AttributeSchema {
  /** JSON attribute name, e.g. `latency`. */
  name: string;
  /** Go type of the field in Toxiproxy's struct (all integers); used in error messages. */
  goType: 'int64' | 'int';
}

export type Attributes = Record<string, number>;

export interface ToxicDefinition {
  /** Toxic type as used in the API (`latency`, `bandwidth`, ...). */
  type: string;
  /** Go struct name in Toxiproxy, for error messages (`LatencyToxic`). */
  goStruct: string;
  /** Attributes in Toxiproxy's JSON order; all default to 0. */
  attributes: readonly AttributeSchema[];
  create(spec: StageSpec<Attributes>, ctx: StageContext, next: Sink): Stage<Attributes>;
}

type StageClass<A extends object> = new (spec: StageSpec<A>, ctx: StageContext, next: Sink) => Stage<A>;

/** Build a definition; attribute objects are always complete (schema-checked by the API). */
export function defineToxic<A extends Attributes>(def: {
  type: string;
  goStruct: string;
  attributes: readonly AttributeSchema[];
  stage: StageClass<A>;
}): ToxicDefinition {
  const { stage: StageImpl, ...rest } = def;
  return {
    ...rest,
    create: (spec, ctx, next) => new StageImpl(spec as StageSpec<A>, ctx, next) as unknown as Stage<Attributes>,
  };
}
