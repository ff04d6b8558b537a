// The NMT stack on one shared lab (test/fixtures/labs/nmt-it.yaml, short M): recovery of every
// service checked by a real client of its protocol, the scheduling table's new secondary, and a
// failed primary that comes back not taking the IP back (at most one owner per service IP).
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { labDownByName, labUp } from '../../lab/lab.ts';
import type { ServiceName } from '../../lab/stacks/nmt/config.ts';
import { NmtLab } from '../../benchmarks/nmt-recovery/driver.ts';
import { killedOwnership, ownerOverlaps } from '../../benchmarks/nmt-recovery/figures.ts';
import type { RunEvent } from '../../benchmarks/ledger.ts';
import { log, testBackend } from './helpers.ts';

const TOPOLOGY = fileURLToPath(new URL('../fixtures/labs/nmt-it.yaml', import.meta.url));
const LAB = 'nmt-it';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NMT stack on nmt-it (real lab)', function () {
  this.timeout(900_000);
  let lab: NmtLab;
  const t0 = Date.now();
  const killed: { node: string; at: number }[] = [];

  before(async () => {
    const up = await labUp(TOPOLOGY, log);
    lab = new NmtLab(await testBackend(), up.plan, log);
    await lab.startProbe(50, 1000);
  });
  after(async () => {
    await lab?.stopProbe().catch(() => undefined);
    await labDownByName(LAB, log, await testBackend());
  });

  it('web, mail and name: the primaries killed at once, each service answers a real client from its secondary; new secondaries from the table', async () => {
    const st = await lab.waitSteady(120_000);
    const services: ServiceName[] = ['web', 'mail', 'name'];
    const faults = await Promise.all(services.map((s) => lab.applyFault('node-kill', st.placement[s]!.primary)));
    faults.forEach((f) => killed.push({ node: f.target, at: f.at }));
    try {
      for (const [i, s] of services.entries()) {
        const from = st.placement[s]!.primary;
        const answer = await lab.waitAnswer(s, from, faults[i]!.at, 90_000);
        expect(answer, `${s} answered by a host other than ${from}`).to.not.equal(undefined);
        expect(answer!.server).to.equal(st.placement[s]!.secondary);
      }
      const after = await lab.waitSteady(120_000);
      for (const s of services) {
        const a = after.placement[s]!;
        expect(a.primary).to.equal(st.placement[s]!.secondary);
        expect(a.secondary).to.not.equal(null);
        expect(faults.map((f) => f.target)).to.not.include(a.secondary); // a dead host is never chosen
        expect(lab.cfg.scheduling).to.include(a.secondary);
      }
    } finally {
      await lab.undoFaults(faults);
    }
  });

  it('the monitor itself: its primary killed, its secondary takes over and answers', async () => {
    const st = await lab.waitSteady(120_000);
    const from = st.node;
    const f = await lab.applyFault('node-kill', from);
    killed.push({ node: f.target, at: f.at });
    try {
      const answer = await lab.waitAnswer('monitor', from, f.at, 90_000);
      expect(answer?.server).to.equal(st.placement.monitor!.secondary);
    } finally {
      await lab.undoFault(f);
    }
  });

  it('failed primaries that came back do not take their IPs back: at most one owner of each service IP', async () => {
    const m = lab.cfg.monitorIntervalS;
    await sleep(4 * m * 1000 + 2000); // several ticks with the old primaries alive again
    await lab.waitSteady(120_000);
    const events: RunEvent[] = await lab.events(t0);
    // Non-preemptive: a host that came back runs a service actively again only when the monitor
    // moved that service to it (a later migration may pick it: it rejoined the pool).
    for (const k of killed) {
      for (const a of events.filter((e) => e.type === 'active' && e.node === k.node && e.t > k.at)) {
        const ordered = events.some((d) => d.type === 'decision' && d.data?.to === k.node && d.data?.service === a.data?.service && d.t > k.at && d.t <= a.t);
        expect(ordered, `${k.node} ran ${String(a.data?.service)} again at +${a.t - k.at} ms after its kill without a decision`).to.equal(true);
      }
    }
    for (const k of killed) events.push(...killedOwnership(k.node, k.at, lab.cfg.services.map((s) => s.ip)));
    for (const s of lab.cfg.services) {
      const owners = events.filter((e) => e.type === 'state' && e.data?.instance === s.ip && e.data?.state === 'MASTER');
      expect(owners.length, `${s.name}: ownership was sampled`).to.be.greaterThan(0);
      expect(ownerOverlaps(events, s.ip, Date.now()), `${s.name} (${s.ip})`).to.deep.equal([]);
    }
  });
});
