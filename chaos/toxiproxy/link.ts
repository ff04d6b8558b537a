// A proxied connection: client socket <-> upstream socket, with one Link (toxic
// chain) per direction. Counterpart of Toxiproxy's ToxicLink pair.
//
// Differences from Toxiproxy's Go link, on purpose:
// - a FIN from one side is forwarded as a FIN (half-close) and the other direction
//   keeps flowing; Toxiproxy closes the whole connection on the first EOF. When a
//   toxic ends a direction (limit_data, timeout) or a socket fails, the whole
//   connection is closed, as in Toxiproxy.
// - reset_peer always resets with RST, also when the toxic was added to a live
//   connection (Toxiproxy only sets SO_LINGER=0 when the link starts).
import type net from 'node:net';
import type { Toxic } from './toxic-collection.ts';
import type { Chunk, Direction, EndKind, Sink, Stage } from './toxics/index.ts';
import { toxicRegistry } from './toxics/index.ts';

/** Pause reading from the source when this many bytes are inside the link. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;

interface StageEntry {
  toxic: Toxic;
  stage: Stage;
}

/** Sink with a re-pointable `next`: the fixed entry of the chain. */
class Head implements Sink {
  constructor(public next: Sink) {}
  write(chunk: Chunk): void {
    this.next.write(chunk);
  }
  end(kind: EndKind): void {
    this.next.end(kind);
  }
}

class Tail implements Sink {
  ended = false;
  constructor(private readonly link: Link) {}
  write(chunk: Chunk): void {
    this.link.deliver(chunk);
  }
  end(kind: EndKind): void {
    if (this.ended) return;
    this.ended = true;
    this.link.finish(kind);
  }
}

export class Link {
  private readonly head: Head;
  private readonly tail: Tail;
  private stages: StageEntry[] = [];
  private inflight = 0;
  private paused = false;
  /** No more reading from the source (it ended, failed, or was cut). */
  sourceDone = false;
  /** The chain has delivered its end to the destination. */
  finished = false;

  constructor(
    private readonly conn: Connection,
    readonly direction: Direction,
    readonly source: net.Socket,
    readonly dest: net.Socket,
    chain: readonly Toxic[],
  ) {
    this.tail = new Tail(this);
    this.head = new Head(this.tail);
    for (const toxic of chain) this.addToxic(toxic);
    source.on('data', (data: Buffer) => this.onData(data));
    source.on('end', () => this.endSource('fin'));
  }

  private readonly ctx = { release: (bytes: number) => this.release(bytes) };

  private onData(data: Buffer): void {
    if (this.sourceDone) return;
    this.inflight += data.length;
    this.head.write({ data, ts: performance.now() });
    if (!this.paused && this.inflight > HIGH_WATER && !this.sourceDone) {
      this.paused = true;
      this.source.pause();
    }
  }

  private release(bytes: number): void {
    this.inflight -= bytes;
    if (this.paused && this.inflight < LOW_WATER) {
      this.paused = false;
      if (!this.sourceDone && !this.source.destroyed) this.source.resume();
    }
  }

  /** The source will give no more data: push the end through the chain. */
  endSource(kind: EndKind): void {
    if (this.sourceDone) return;
    this.sourceDone = true;
    if (kind !== 'fin') this.source.pause();
    this.head.end(kind);
  }

  /** Tail: a chunk reached the end of the chain. */
  deliver(chunk: Chunk): void {
    const n = chunk.data.length;
    if (this.finished || this.dest.destroyed || !this.dest.writable) {
      this.release(n);
      return;
    }
    this.dest.write(chunk.data, () => this.release(n));
  }

  /** Tail: the chain ended. */
  finish(kind: EndKind): void {
    if (this.finished) return;
    this.finished = true;
    this.conn.linkFinished(this, kind);
  }

  addToxic(toxic: Toxic): void {
    const def = toxicRegistry.get(toxic.type);
    if (!def) return;
    const last = this.stages.length ? this.stages[this.stages.length - 1].stage : this.head;
    const stage = def.create(toxic, this.ctx, this.tail);
    last.next = stage;
    this.stages.push({ toxic, stage });
    stage.start();
  }

  updateToxic(toxic: Toxic): void {
    this.stages.find((e) => e.toxic === toxic)?.stage.update(toxic);
  }

  removeToxic(toxic: Toxic): void {
    const entry = this.stages.find((e) => e.toxic === toxic);
    if (!entry) return;
    entry.stage.detach(() => {
      const i = this.stages.indexOf(entry);
      if (i < 0) return;
      const prev = i > 0 ? this.stages[i - 1].stage : this.head;
      prev.next = entry.stage.next;
      this.stages.splice(i, 1);
    });
  }

  dispose(): void {
    for (const { stage } of this.stages) stage.dispose();
  }
}

export interface ConnectionOwner {
  /** Toxics for a direction, in chain order. */
  chain(direction: Direction): readonly Toxic[];
  register(conn: Connection): void;
  unregister(conn: Connection): void;
}

export class Connection {
  readonly up: Link;
  readonly down: Link;
  private closed = false;

  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    private readonly owner: ConnectionOwner,
  ) {
    for (const s of [client, upstream]) s.setNoDelay(true); // Go's default for TCP
    this.up = new Link(this, 'upstream', client, upstream, owner.chain('upstream'));
    this.down = new Link(this, 'downstream', upstream, client, owner.chain('downstream'));
    const onFailure = (socket: net.Socket) => () => {
      // A socket failed or closed under us: end the direction reading from it.
      const reader = socket === client ? this.up : this.down;
      reader.endSource('close');
    };
    client.on('error', onFailure(client));
    upstream.on('error', onFailure(upstream));
    client.on('close', onFailure(client));
    upstream.on('close', onFailure(upstream));
    client.on('close', () => this.maybeGone());
    upstream.on('close', () => this.maybeGone());
    owner.register(this);
    client.resume();
    upstream.resume();
  }

  links(): Link[] {
    return [this.up, this.down];
  }

  /** A direction's chain ended; forward it to the sockets. */
  linkFinished(link: Link, kind: EndKind): void {
    if (this.closed) return;
    if (kind === 'reset') {
      this.destroy(true);
      return;
    }
    const other = link === this.up ? this.down : this.up;
    if (!link.dest.destroyed) link.dest.end();
    // Toxiproxy closes the whole connection when a toxic ends a link: stop reading
    // from the destination so the other direction drains and ends too.
    if (kind === 'close') other.endSource('close');
    if (other.finished) this.closeWhenFlushed();
  }

  private closeWhenFlushed(): void {
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      if (s.writableFinished) s.destroy();
      else {
        s.once('finish', () => s.destroy());
      }
    }
  }

  /** Close both sockets now (proxy disabled/deleted, or reset_peer with RST). */
  destroy(reset = false): void {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links()) link.dispose();
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
    this.owner.unregister(this);
  }

  private maybeGone(): void {
    if (this.client.destroyed && this.upstream.destroyed && !this.closed) {
      this.closed = true;
      for (const link of this.links()) link.dispose();
      this.owner.unregister(this);
    }
  }
}
