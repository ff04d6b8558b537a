// timeout: drop all data; close the connection `timeout` ms later (0: never).
// As in Toxiproxy's TimeoutToxic the timer restarts whenever data arrives (its select
// creates a fresh time.After per loop), and removing the toxic closes the connections
// it was holding (TimeoutToxic.Cleanup closes the stub).
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type TimeoutAttrs = { timeout: number };

export class TimeoutStage extends Stage<TimeoutAttrs> {
  private cancel: (() => void) | undefined;

  override start(): void {
    this.arm();
  }

  protected override onUpdate(): void {
    this.arm();
  }

  private arm(): void {
    this.cancel?.();
    this.cancel = undefined;
    if (this.active && this.attrs.timeout > 0) {
      this.cancel = this.timer(this.attrs.timeout, () => this.closeLink('close'));
    }
  }

  protected onChunk(chunk: Chunk): void {
    this.drop(chunk.data.length);
    this.arm();
  }

  protected override onEnd(): void {
    this.cancel?.();
    this.closeLink('close');
  }

  protected override onRemove(): void {
    this.cancel?.();
    this.closeLink('close');
  }
}


export const timeout = defineToxic({
  type: 'timeout',
  goStruct: 'TimeoutToxic',
  attributes: [{ name: 'timeout', goType: 'int64' }],
  stage: TimeoutStage,
});
