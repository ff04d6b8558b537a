// bandwidth: pass data at `rate` KB/s (1 KB = 1000 bytes, i.e. `rate` bytes per ms).
// Like Toxiproxy's BandwidthToxic: a sleep debt accumulates len/rate ms per chunk and
// is corrected by the measured timer overshoot; chunks larger than 100 ms worth of
// data are cut and sent in 100 ms steps. rate <= 0 means unlimited.
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type BandwidthAttrs = { rate: number };

export class BandwidthStage extends Stage<BandwidthAttrs> {
  private debt = 0; // ms still owed

  protected async onChunk(chunk: Chunk): Promise<void> {
    const rate = this.attrs.rate;
    if (rate <= 0) {
      this.debt = 0;
      return this.emit(chunk);
    }
    this.debt += chunk.data.length / rate;
    const step = rate * 100; // bytes per 100 ms
    while (chunk.data.length > step) {
      if (!(await this.sleep(100))) return this.emit(chunk);
      this.emit({ data: chunk.data.subarray(0, step), ts: chunk.ts });
      chunk = { data: chunk.data.subarray(step), ts: chunk.ts };
      this.debt -= 100;
    }
    const start = performance.now();
    if (this.debt > 0) {
      if (!(await this.sleep(this.debt))) return this.emit(chunk);
    }
    this.debt -= performance.now() - start; // timers overshoot: carry the error to the next sleep
    this.emit(chunk);
  }
}

export const bandwidth = defineToxic({
  type: 'bandwidth',
  goStruct: 'BandwidthToxic',
  attributes: [{ name: 'rate', goType: 'int64' }],
  stage: BandwidthStage,
});
