// reset_peer: on the first data (or EOF) in this direction, drop it, wait `timeout`
// ms and reset the connection: both sockets are destroyed with TCP RST
// (socket.resetAndDestroy, Toxiproxy's SetLinger(0) + Close).
import { defineToxic } from './definition.ts';
import { Stage, type Chunk } from './stage.ts';

type ResetPeerAttrs = { timeout: number };

export class ResetPeerStage extends Stage<ResetPeerAttrs> {
  private async trigger(): Promise<void> {
    if (await this.sleep(this.attrs.timeout)) this.closeLink('reset');
  }

  protected onChunk(chunk: Chunk): Promise<void> {
    this.drop(chunk.data.length);
    return this.trigger();
  }

  protected override onEnd(): Promise<void> {
    return this.trigger();
  }
}

export const resetPeer = defineToxic({
  type: 'reset_peer',
  goStruct: 'ResetToxic',
  attributes: [{ name: 'timeout', goType: 'int64' }],
  stage: ResetPeerStage,
});
