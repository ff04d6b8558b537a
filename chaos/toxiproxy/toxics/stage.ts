// One stage of a toxic chain: the TypeScript counterpart of Toxiproxy's ToxicStub.
//
// A link (one direction of one proxied connection) is a chain
//
//     source socket -> head -> Stage -> Stage -> ... -> sink -> destination socket
//
// Each stage receives chunks in order, transforms them (delay, slice, drop, ...)
// and hands them to `next`. A stage processes one item at a time; while its
// handler awaits (a timer), later items queue up behind it, so order is kept.
// Stages can be appended and removed while data flows: removal interrupts the
// pending wait, flushes everything still queued to `next` unchanged (Toxiproxy:
// "don't drop any data on the floor") and only then splices the stage out.

export type Direction = 'upstream' | 'downstream';

/** A piece of stream data plus the time (performance.now(), ms) it was read from the source. */
export interface Chunk {
  data: Buffer;
  ts: number;
}

/**
 * How a direction ends.
 * - `fin`: the source half-closed (EOF); propagated as a FIN to the destination.
 * - `close`: a toxic closed the link (limit_data, timeout, ...) or a socket failed;
 *   the whole connection is closed, like Toxiproxy's `stub.Close()` + `conn.Close()`.
 * - `reset`: like `close` but both sockets are reset (TCP RST), for reset_peer.
 */
export type EndKind = 'fin' | 'close' | 'reset';

export interface Sink {
  write(chunk: Chunk): void;
  end(kind: EndKind): void;
}

/** What a stage may ask of the link it sits in. */
export interface StageContext {
  /** Bytes that left the pipeline without reaching the destination (dropped). */
  release(bytes: number): void;
}

/** The per-toxic settings a stage is built from (a view of the API's toxic object). */
export interface StageSpec<A> {
  name: string;
  type: string;
  toxicity: number;
  attributes: A;
}

type Item = Chunk | { end: EndKind };

const isEnd = (item: Item): item is { end: EndKind } => (item as { end?: EndKind }).end !== undefined;

export abstract class Stage<A extends object = Record<string, number>> implements Sink {
  next: Sink;
  protected attrs: A;
  /** Result of the toxicity roll: when false the stage behaves as a noop. */
  protected active: boolean;
  protected readonly ctx: StageContext;

  private queue: Item[] = [];
  private busy = false;
  private inputEnded = false;
  private outputEnded = false;
  private disposed = false;
  private detaching = false;
  private detached = false;
  private onDetached: (() => void) | undefined;
  private wakers = new Set<() => void>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(spec: StageSpec<A>, ctx: StageContext, next: Sink) {
    this.attrs = { ...spec.attributes };
    this.ctx = ctx;
    this.next = next;
    this.active = roll(spec.toxicity);
  }

  /** Hook: a chunk arrived. Emit with `this.emit`; may await `this.sleep`. */
  protected abstract onChunk(chunk: Chunk): void | Promise<void>;

  /** Hook: the input ended. Default: pass the end on. */
  protected onEnd(kind: EndKind): void | Promise<void> {
    this.emitEnd(kind);
  }

  /** Hook: called once when the stage joins a link (after construction). */
  start(): void {}

  /** Hook: the toxic is being removed (Toxiproxy's CleanupToxic). */
  protected onRemove(): void {}

  /** Hook: attributes or toxicity changed. */
  protected onUpdate(): void {}

  // ---- Sink side (called by the previous stage) -------------------------------------

  write(chunk: Chunk): void {
    if (this.disposed || this.inputEnded || this.outputEnded) {
      this.ctx.release(chunk.data.length);
      return;
    }
    if (this.detached) {
      this.next.write(chunk);
      return;
    }
    this.queue.push(chunk);
    this.pump();
  }

  end(kind: EndKind): void {
    if (this.disposed || this.inputEnded) return;
    this.inputEnded = true;
    if (this.detached) {
      this.next.end(kind);
      return;
    }
    this.queue.push({ end: kind });
    this.pump();
  }

  // ---- Control (called by the link) -------------------------------------------------

  /** New attributes/toxicity. Like Toxiproxy, toxicity is rolled again. */
  update(spec: StageSpec<A>): void {
    this.attrs = { ...spec.attributes };
    this.active = roll(spec.toxicity);
    if (!this.detaching) this.onUpdate();
  }

  /**
   * Remove the stage: interrupt the current wait, flush what is queued to `next`
   * untouched, then call `done` (synchronously, in the same tick as the flush) so
   * the link can point the previous stage at `next`.
   */
  detach(done: () => void): void {
    if (this.detaching) return;
    this.detaching = true;
    this.onDetached = done;
    if (this.active && !this.disposed) this.onRemove();
    this.wakeAll();
    this.pump();
  }

  /** The connection is gone: stop timers, drop everything, never emit again. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wakeAll();
    this.dropQueue();
  }

  // ---- Helpers for subclasses -------------------------------------------------------

  protected emit(chunk: Chunk): void {
    if (this.disposed || this.outputEnded) {
      this.ctx.release(chunk.data.length);
      return;
    }
    this.next.write(chunk);
  }

  protected emitEnd(kind: EndKind): void {
    if (this.disposed || this.outputEnded) return;
    this.outputEnded = true;
    this.next.end(kind);
  }

  /** Drop a chunk on purpose (timeout toxic, truncation). */
  protected drop(bytes: number): void {
    this.ctx.release(bytes);
  }

  /** End the link from inside the chain (Toxiproxy's `stub.Close()`); later input is dropped. */
  protected closeLink(kind: 'close' | 'reset' = 'close'): void {
    this.dropQueue();
    this.emitEnd(kind);
  }

  /** True while the stage may keep working (not removed, not disposed). */
  protected get running(): boolean {
    return !this.detaching && !this.disposed;
  }

  /**
   * Wait `ms` milliseconds. Resolves true when the time elapsed, false when the
   * stage was interrupted (removed or disposed) — then the caller should hand on
   * what it holds and return.
   */
  protected sleep(ms: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waker = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        this.wakers.delete(waker);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.wakers.delete(waker);
        resolve(this.running);
      }, Math.max(0, ms));
      this.timers.add(timer);
      this.wakers.add(waker);
    });
  }

  /** A timer owned by the stage (cleared on dispose). Returns a cancel function. */
  protected timer(ms: number, fn: () => void): () => void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.disposed) fn();
    }, Math.max(0, ms));
    this.timers.add(t);
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  // ---- Internals --------------------------------------------------------------------

  private wakeAll(): void {
    for (const w of [...this.wakers]) w();
  }

  private dropQueue(): void {
    for (const item of this.queue) if (!isEnd(item)) this.ctx.release(item.data.length);
    this.queue = [];
  }

  private pump(): void {
    while (!this.busy) {
      if (this.disposed) return this.dropQueue();
      if (this.detaching) return this.finishDetach();
      const item = this.queue.shift();
      if (item === undefined) return;
      let result: void | Promise<void>;
      if (!this.active) {
        if (isEnd(item)) this.emitEnd(item.end);
        else this.emit(item);
        continue;
      }
      try {
        result = isEnd(item) ? this.onEnd(item.end) : this.onChunk(item);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (result instanceof Promise) {
        this.busy = true;
        result.then(
          () => {
            this.busy = false;
            this.pump();
          },
          (err: unknown) => {
            this.busy = false;
            this.fail(err);
          },
        );
      }
    }
  }

  private fail(err: unknown): void {
    process.emitWarning(`toxiproxy: stage ${this.constructor.name} failed: ${String(err)}`);
    this.closeLink('close');
  }

  private finishDetach(): void {
    if (this.detached) return;
    this.detached = true;
    const queued = this.queue;
    this.queue = [];
    for (const item of queued) {
      if (isEnd(item)) {
        if (!this.outputEnded) {
          this.outputEnded = true;
          this.next.end(item.end);
        }
      } else if (this.outputEnded) this.ctx.release(item.data.length);
      else this.next.write(item);
    }
    const done = this.onDetached;
    this.onDetached = undefined;
    done?.();
  }
}

function roll(toxicity: number): boolean {
  return Math.random() < toxicity;
}
