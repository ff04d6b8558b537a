// noop: passes everything through (Toxiproxy's hidden first toxic; also a valid type).
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

export class NoopStage extends Stage {
  protected onChunk(chunk: Chunk): void {
    this.emit(chunk);
  }
}

export const noop = defineToxic({ type: 'noop', goStruct: 'NoopToxic', attributes: [], stage: NoopStage });
