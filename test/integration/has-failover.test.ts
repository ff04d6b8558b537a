// The failover probe (open-loop load generator + failover checker) on a real lab, has-1: the same
// check as has-masters.test.ts's "the backup master takes the VIP when the active one is stopped"
// (which runs on has-2), so the replacement of the old http-probe is verified on a lab of its own.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { labDownByName, labUp } from '../../lab/lab.ts';
import type { HasConfig } from '../../lab/stacks/has/config.ts';
import { hasStack } from '../../lab/stacks/has/index.ts';
import { inspectMasters } from '../../lab/stacks/has/masters.ts';
import type { StackContext } from '../../lab/stacks/stack.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import { probeAroundFault, trialFailover } from '../../benchmarks/has-failover/probe.ts';
import { hasLab, log, testBackend } from './helpers.ts';

const TOPOLOGY = fileURLToPath(new URL('../../topologies/has-1.yaml', import.meta.url));
const LAB = 'has-1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('failover probe on has-1 (real lab)', function () {
  this.timeout(900_000);
  let b: DockerBackend;
  let cfg: HasConfig;
  let ctx: StackContext;
  const holder = async () => (await inspectMasters(ctx, cfg)).find((m) => m.holdsVip)?.node;

  before(async () => {
    b = await testBackend();
    await labUp(TOPOLOGY, log);
    ({ cfg, ctx } = hasLab(LAB, b));
  });

  after(async () => {
    if (!process.env.HALAB_KEEP_LAB) await labDownByName(LAB, log, b);
  });

  it('the backup master takes the VIP when the active one is stopped; the ledger shows the gap', async () => {
    expect(await holder()).to.equal('m1');
    const t = await probeAroundFault(
      b,
      LAB,
      { client: 'client', origin: `http://${cfg.vip}:80`, paths: [cfg.health.path], leadMs: 1500, seconds: 4, timeoutMs: 1000 },
      () => b.stop(LAB, 'm1', 1),
    );
    expect(await holder()).to.equal('m2');
    const fault = t.faults[0]!;
    const before = t.ledger.filter((x) => x.start < fault.start);
    expect(before.length).to.be.above(100); // the lead counts from the probe's first request
    expect(before.every((x) => x.outcome === 'ok')).to.equal(true);
    const after = t.ledger.filter((x) => x.start > fault.start + 1500);
    expect(after.length).to.be.above(50);
    expect(after.every((x) => x.outcome === 'ok')).to.equal(true);
    const fo = trialFailover(t);
    expect(fo.recovered).to.equal(true);
    expect(fo.gapMs).to.be.a('number').below(2000);
    expect(fo.gapMs).to.equal(fo.firstOkAfter! - fo.lastOkBefore);
    log.info(`stop of m1: gap ${fo.gapMs} ms, ${fo.failed} failed (${fo.timeouts} timeouts), ${t.ledger.length} requests`);
    await b.start(LAB, 'm1');
    await hasStack.deploy(ctx);
    for (let i = 0; i < 120 && (await holder()) !== 'm1'; i++) await sleep(250);
    expect(await holder()).to.equal('m1');
  });
});
