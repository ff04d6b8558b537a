// The HAS stack on VM masters (topologies/has-vm.yaml: m1, m2 are QEMU/TCG guests, the rest are
// containers): the client is served through the VIP, and killing the VM that holds the VIP moves
// it to the other VM while requests keep being answered. Kept short: TCG boots are slow.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { labDownByName, labUp, readSavedPlan } from '../../lab/lab.ts';
import { hasConfig, type HasConfig } from '../../lab/stacks/has/config.ts';
import { inspectMasters } from '../../lab/stacks/has/masters.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import { probeAroundFault, trialFailover } from '../../benchmarks/has-failover/probe.ts';
import { log, testBackend } from './helpers.ts';

const TOPOLOGY = fileURLToPath(new URL('../../topologies/has-vm.yaml', import.meta.url));
const LAB = 'has-vm';

describe('HAS stack on VM masters (has-vm, real lab)', function () {
  this.timeout(1_800_000);
  let b: DockerBackend;
  let cfg: HasConfig;
  const holder = async () =>
    (await inspectMasters({ plan: readSavedPlan(LAB)!, backend: b, log, stateDir: labStateDir(LAB) }, cfg)).filter((m) => m.holdsVip).map((m) => m.node);

  before(async () => {
    b = await testBackend();
    await labDownByName(LAB, log, b);
    await labUp(TOPOLOGY, log);
    cfg = hasConfig(readSavedPlan(LAB)!);
  });
  after(async () => {
    if (!process.env.HALAB_KEEP_LAB) await labDownByName(LAB, log, b);
  });

  it('serves the client through the VIP held by a VM master (direct routing from the guest)', async () => {
    for (const m of cfg.masters) expect((await b.inspect(LAB, m.name)).backend).to.equal('vm');
    expect(await holder()).to.deep.equal(['m1']);
    const r = await b.exec(LAB, 'client', ['curl', '-s', '-m', '5', '-D', '-', `http://${cfg.vip}${cfg.health.path}`]);
    expect(r.stdout).to.match(/^HTTP\/1\.1 200/);
    // Answered by a traffic node (direct routing: the master only forwarded the request).
    expect(r.stdout).to.match(/X-Served-By: web-\d/i);
    // The frames went through the guest's nft table: its counters moved.
    const nft = await b.exec(LAB, 'm1', ['nft', 'list', 'table', 'netdev', 'halab_dr']);
    expect([...nft.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1])).reduce((a, x) => a + x, 0)).to.be.greaterThan(0);
  });

  it('a kill of the VM holding the VIP moves it to the other VM; requests are served again', async () => {
    const t = await probeAroundFault(
      b,
      LAB,
      { client: 'client', origin: `http://${cfg.vip}:80`, paths: [cfg.health.path], intervalMs: 50, leadMs: 5000, seconds: 18, timeoutMs: 1000 },
      () => b.kill(LAB, 'm1'),
    );
    expect((await b.inspect(LAB, 'm1')).state).to.not.equal('running');
    expect(await holder()).to.deep.equal(['m2']);
    const faultAt = t.faults[0]!.start;
    const before = t.ledger.filter((x) => x.start < faultAt);
    const after = t.ledger.filter((x) => x.start > faultAt + 9000);
    expect(before.length).to.be.greaterThan(0);
    expect(before.every((x) => x.outcome === 'ok'), JSON.stringify(before.filter((x) => x.outcome !== 'ok').slice(0, 3))).to.equal(true);
    expect(after.length).to.be.greaterThan(0);
    expect(after.every((x) => x.outcome === 'ok'), JSON.stringify(after.filter((x) => x.outcome !== 'ok').slice(0, 3))).to.equal(true);
    expect(trialFailover(t).gapMs).to.be.lessThan(9000);
  });
});
