// The toxics of one proxy: an ordered chain per direction, mirrored into every live
// link of that direction (Toxiproxy's ToxicCollection). Also parses/validates toxic
// JSON the way Toxiproxy's AddToxicJson/UpdateToxicJson do.
import { ApiError, Errors, JsonShape, asObject } from './errors.ts';
import type { Link } from './link.ts';
import { toxicRegistry, type Attributes, type Direction } from './toxics/index.ts';

export interface Toxic {
  name: string;
  type: string;
  /** The stream as given by the user (Toxiproxy keeps its spelling). */
  stream: string;
  direction: Direction;
  toxicity: number;
  attributes: Attributes;
  /** halab extension: remove the toxic by itself after this many ms. */
  durationMs?: number;
  /** When `durationMs` is set: epoch ms at which the toxic goes away. */
  expiresAt?: number;
}

export interface ToxicJson {
  attributes: Attributes;
  name: string;
  type: string;
  stream: string;
  toxicity: number;
  duration_ms?: number;
}

export function toxicToJson(t: Toxic): ToxicJson {
  const json: ToxicJson = {
    attributes: { ...t.attributes },
    name: t.name,
    type: t.type,
    stream: t.stream,
    toxicity: t.toxicity,
  };
  if (t.durationMs !== undefined) json.duration_ms = t.durationMs;
  return json;
}

export function parseDirection(value: string): Direction | undefined {
  const v = value.toLowerCase();
  return v === 'upstream' || v === 'downstream' ? v : undefined;
}

/**
 * Parse a toxic creation body (already JSON-decoded), in Toxiproxy's order of checks:
 * decode, stream, default name, type, (existence is checked by the caller), attributes.
 */
export function parseNewToxic(body: unknown, exists: (name: string) => boolean): Toxic {
  const obj = asObject(body, 'toxics.ToxicWrapper');
  const shape = new JsonShape(obj, 'ToxicWrapper');
  const name = shape.string('name') ?? '';
  const type = shape.string('type') ?? '';
  const stream = shape.string('stream') ?? 'downstream';
  const toxicity = shape.float('toxicity', 'float32') ?? 1;
  const durationMs = shape.durationMs();
  const direction = parseDirection(stream);
  if (!direction) throw Errors.invalidStream();
  const def = toxicRegistry.get(type);
  const toxic: Toxic = {
    name: name || `${type}_${stream}`,
    type,
    stream,
    direction,
    toxicity,
    attributes: {},
  };
  if (!def) throw Errors.invalidToxicType();
  if (exists(toxic.name)) throw Errors.toxicExists();
  for (const a of def.attributes) toxic.attributes[a.name] = 0;
  applyAttributes(toxic, shape.raw('attributes'));
  if (durationMs !== undefined) toxic.durationMs = durationMs;
  return toxic;
}

/** Decode `attributes` into an existing toxic (only given fields change, like Go's json.Decode). */
function applyAttributes(toxic: Toxic, raw: unknown): void {
  if (raw === undefined || raw === null) return;
  const def = toxicRegistry.get(toxic.type)!;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw Errors.badBody(`json: cannot unmarshal ${JsonShape.kind(raw)} into Go struct field .attributes of type toxics.${def.goStruct}`);
  }
  const shape = new JsonShape(raw as Record<string, unknown>, `${def.goStruct}`, 'attributes.');
  const next = { ...toxic.attributes };
  for (const a of def.attributes) {
    const v = shape.int(a.name, a.goType);
    if (v !== undefined) next[a.name] = v;
  }
  toxic.attributes = next;
}

export class ToxicCollection {
  private chains: Record<Direction, Toxic[]> = { upstream: [], downstream: [] };
  private readonly links = new Set<Link>();
  private readonly expiries = new Map<Toxic, NodeJS.Timeout>();

  constructor(private readonly onExpire?: (toxic: Toxic) => void) {}

  chain(direction: Direction): readonly Toxic[] {
    return this.chains[direction];
  }

  /** Upstream chain first, then downstream (Toxiproxy's GetToxicArray order). */
  all(): Toxic[] {
    return [...this.chains.upstream, ...this.chains.downstream];
  }

  get(name: string): Toxic | undefined {
    return this.all().find((t) => t.name === name);
  }

  addLink(link: Link): void {
    this.links.add(link);
  }

  removeLink(link: Link): void {
    this.links.delete(link);
  }

  /** POST /proxies/{proxy}/toxics */
  addJson(body: unknown): Toxic {
    const toxic = parseNewToxic(body, (name) => this.get(name) !== undefined);
    this.add(toxic);
    return toxic;
  }

  add(toxic: Toxic): void {
    this.chains[toxic.direction].push(toxic);
    this.schedule(toxic);
    for (const link of this.links) if (link.direction === toxic.direction) link.addToxic(toxic);
  }

  /** POST /proxies/{proxy}/toxics/{toxic}: attributes and toxicity (and our duration_ms). */
  updateJson(name: string, body: unknown): Toxic {
    const toxic = this.get(name);
    if (!toxic) throw Errors.toxicNotFound();
    const shape = new JsonShape(asObject(body, 'struct { Attributes interface {}; Toxicity float32 }'), '');
    const updated: Toxic = { ...toxic };
    applyAttributes(updated, shape.raw('attributes'));
    const toxicity = shape.float('toxicity', 'float32');
    const durationMs = shape.durationMs();
    toxic.attributes = updated.attributes;
    if (toxicity !== undefined) toxic.toxicity = toxicity;
    if (durationMs !== undefined) {
      toxic.durationMs = durationMs;
      this.schedule(toxic);
    }
    this.update(toxic);
    return toxic;
  }

  update(toxic: Toxic): void {
    for (const link of this.links) if (link.direction === toxic.direction) link.updateToxic(toxic);
  }

  remove(name: string): void {
    const toxic = this.get(name);
    if (!toxic) throw Errors.toxicNotFound();
    this.removeToxic(toxic);
  }

  removeToxic(toxic: Toxic): void {
    const chain = this.chains[toxic.direction];
    const i = chain.indexOf(toxic);
    if (i < 0) return;
    chain.splice(i, 1);
    const timer = this.expiries.get(toxic);
    if (timer) clearTimeout(timer);
    this.expiries.delete(toxic);
    for (const link of this.links) if (link.direction === toxic.direction) link.removeToxic(toxic);
  }

  /** Remove every toxic (POST /reset). */
  reset(): void {
    for (const toxic of this.all()) this.removeToxic(toxic);
  }

  /**
   * halab extension for /populate: make the toxic set exactly `wanted`. Toxics with the
   * same name, type and stream are updated in place (connections keep their state),
   * others are removed or added.
   */
  replaceAll(wanted: Toxic[]): void {
    const names = new Set(wanted.map((t) => t.name));
    for (const t of this.all()) if (!names.has(t.name)) this.removeToxic(t);
    for (const w of wanted) {
      const current = this.get(w.name);
      if (current && current.type === w.type && current.direction === w.direction) {
        current.stream = w.stream;
        current.attributes = w.attributes;
        current.toxicity = w.toxicity;
        current.durationMs = w.durationMs;
        current.expiresAt = undefined;
        this.schedule(current);
        this.update(current);
      } else {
        if (current) this.removeToxic(current);
        this.add(w);
      }
    }
  }

  /** Stop all expiry timers (proxy deleted). */
  dispose(): void {
    for (const t of this.expiries.values()) clearTimeout(t);
    this.expiries.clear();
  }

  private schedule(toxic: Toxic): void {
    const old = this.expiries.get(toxic);
    if (old) clearTimeout(old);
    this.expiries.delete(toxic);
    if (toxic.durationMs === undefined) {
      toxic.expiresAt = undefined;
      return;
    }
    toxic.expiresAt = Date.now() + toxic.durationMs;
    const timer = setTimeout(() => {
      this.expiries.delete(toxic);
      if (this.chains[toxic.direction].includes(toxic)) {
        this.removeToxic(toxic);
        this.onExpire?.(toxic);
      }
    }, toxic.durationMs);
    timer.unref();
    this.expiries.set(toxic, timer);
  }
}

export { ApiError };
