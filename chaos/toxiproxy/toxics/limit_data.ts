// limit_data: let `bytes` bytes through, then close the connection. The count is
// per connection and direction and survives attribute updates (Toxiproxy's
// LimitDataToxicState).
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type LimitDataAttrs = { bytes: number };

export class LimitDataStage extends Stage<LimitDataAttrs> {
  private transmitted = 0;

  protected onChunk(chunk: Chunk): void {
    const remaining = Math.max(0, this.attrs.bytes - this.transmitted);
    let data = chunk.data;
    if (remaining < data.length) {
      this.drop(data.length - remaining);
      data = data.subarray(0, remaining);
    }
    if (data.length > 0) {
      this.emit({ data, ts: chunk.ts });
      this.transmitted += data.length;
    }
    if (this.attrs.bytes - this.transmitted <= 0) this.closeLink('close');
  }
}

export const limitData = defineToxic({
  type: 'limit_data',
  goStruct: 'LimitDataToxic',
  attributes: [{ name: 'bytes', goType: 'int64' }],
  stage: LimitDataStage,
});
