// slicer: cut every chunk into pieces of about `average_size` ± `size_variation` bytes
// (Toxiproxy's recursive halving, so there is no bias towards a small first or last
// piece) and wait `delay` microseconds after each piece.
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type SlicerAttrs = { average_size: number; size_variation: number; delay: number };

export class SlicerStage extends Stage<SlicerAttrs> {
  /** Offsets [s0, e0, s1, e1, ...] of the pieces of [start, end). */
  chunk(start: number, end: number): number[] {
    const { average_size: avg, size_variation: variation } = this.attrs;
    if (end - start - avg <= variation) return [start, end];
    let mid = start + Math.floor((end - start) / 2);
    if (variation > 0) mid += Math.floor(Math.random() * variation * 2) - variation;
    return [...this.chunk(start, mid), ...this.chunk(mid, end)];
  }

  protected onChunk(chunk: Chunk): void | Promise<void> {
    const cuts = this.chunk(0, chunk.data.length);
    const delayMs = this.attrs.delay / 1000;
    if (delayMs <= 0) {
      for (let i = 1; i < cuts.length; i += 2) this.emit({ data: chunk.data.subarray(cuts[i - 1], cuts[i]), ts: chunk.ts });
      return;
    }
    return (async () => {
      for (let i = 1; i < cuts.length; i += 2) {
        this.emit({ data: chunk.data.subarray(cuts[i - 1], cuts[i]), ts: chunk.ts });
        if (!(await this.sleep(delayMs))) {
          if (cuts[i] < chunk.data.length) this.emit({ data: chunk.data.subarray(cuts[i]), ts: chunk.ts });
          return;
        }
      }
    })();
  }
}

export const slicer = defineToxic({
  type: 'slicer',
  goStruct: 'SlicerToxic',
  attributes: [
    { name: 'average_size', goType: 'int' },
    { name: 'size_variation', goType: 'int' },
    { name: 'delay', goType: 'int' },
  ],
  stage: SlicerStage,
});
