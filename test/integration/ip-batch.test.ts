// erd's long-lived `ip -batch` against the real `ip`: each command's outcome, in order, and the
// fallback to a process of its own when the batch child does not answer. Read-only commands only.
import { expect } from 'chai';
import { IpBatch } from '../../lab/stacks/has/daemons/ip-batch.ts';
import { testBackend } from './helpers.ts';

describe('IpBatch (erd\'s route commands through one `ip -batch`)', function () {
  this.timeout(30_000);
  before(async () => {
    await testBackend(); // installs iproute2 when missing, as `halab up` does
  });

  it('tells a command that succeeded from one that failed, in order', async () => {
    const ip = new IpBatch();
    try {
      const results = await Promise.all([
        ip.run(['route', 'get', '127.0.0.1']),
        ip.run(['link', 'show', 'dev', 'halab-none0']),
        ip.run(['route', 'get', '127.0.0.1']),
        ip.run(['address', 'show', 'dev', 'halab-none1']),
      ]);
      expect(results).to.deep.equal([true, false, true, false]);
    } finally {
      ip.close();
    }
  });

  it('starts a new batch child when the old one is gone', async () => {
    const ip = new IpBatch();
    ip.close();
    expect(await ip.run(['route', 'get', '127.0.0.1'])).to.equal(true);
    expect(await ip.run(['link', 'show', 'dev', 'halab-none0'])).to.equal(false);
    ip.close();
  });

  it('runs the command in an `ip` of its own when the batch child does not answer in time', async () => {
    const ip = new IpBatch(0); // no time at all: every command falls back
    expect(await ip.run(['route', 'get', '127.0.0.1'])).to.equal(true);
    expect(await ip.run(['link', 'show', 'dev', 'halab-none0'])).to.equal(false);
    ip.close();
  });
});
