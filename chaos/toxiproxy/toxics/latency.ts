// latency: delay every chunk by `latency` ± `jitter` ms, measured from the moment the
// chunk was read from the source (so chunks in flight are pipelined, not serialised,
// and stacked latency toxics add up), as Toxiproxy's LatencyToxic does.
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type LatencyAttrs = { latency: number; jitter: number };

export class LatencyStage extends Stage<LatencyAttrs> {
  private delay(): number {
    const { latency, jitter } = this.attrs;
    // Toxiproxy: delay += rand.Int63n(jitter*2) - jitter, i.e. uniform in [-jitter, jitter).
    return jitter > 0 ? latency + Math.floor(Math.random() * jitter * 2) - jitter : latency;
  }

  protected onChunk(chunk: Chunk): void | Promise<void> {
    const wait = this.delay() - (performance.now() - chunk.ts);
    if (wait <= 0) return this.emit(chunk);
    return this.sleep(wait).then((elapsed) => {
      if (elapsed) chunk.ts += wait;
      this.emit(chunk); // interrupted: hand on without the delay, never drop data
    });
  }
}

export const latency = defineToxic({
  type: 'latency',
  goStruct: 'LatencyToxic',
  attributes: [
    { name: 'latency', goType: 'int64' },
    { name: 'jitter', goType: 'int64' },
  ],
  stage: LatencyStage,
});
