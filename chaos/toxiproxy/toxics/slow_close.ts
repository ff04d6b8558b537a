// slow_close: data passes untouched; the end of the stream (and so the close of the
// destination socket) is held back for `delay` ms.
import { defineToxic } from './definition.ts';
import { Stage, type Chunk, type EndKind } from './stage.ts';

type SlowCloseAttrs = { delay: number };

export class SlowCloseStage extends Stage<SlowCloseAttrs> {
  protected onChunk(chunk: Chunk): void {
    this.emit(chunk);
  }

  protected override async onEnd(kind: EndKind): Promise<void> {
    await this.sleep(this.attrs.delay); // interrupted: close now
    this.emitEnd(kind);
  }
}

export const slowClose = defineToxic({
  type: 'slow_close',
  goStruct: 'SlowCloseToxic',
  attributes: [{ name: 'delay', goType: 'int64' }],
  stage: SlowCloseStage,
});
