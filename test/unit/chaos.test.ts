// Pure parts of the chaos engine: scenario files, schedule expansion, seeded targets, thresholds.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { expandTimeline, loadScenario } from '../../chaos/scenario.ts';
import { resolveStatic, globToRegExp, pickCount } from '../../chaos/targets.ts';
import { seededRandom as seeded } from '../../lab/util/prng.ts';
import { evaluateThresholds, parseThreshold } from '../../chaos/thresholds.ts';
import { analyseTopology } from '../../lab/topology/index.ts';
import { dryRun } from '../../chaos/runner.ts';
import { ifbName, tbfArgs } from '../../chaos/faults/bandwidth.ts';
import { silentLogger } from '../../lab/util/log.ts';

describe('chaos (pure parts)', () => {
  it('every shipped scenario parses', () => {
    for (const f of readdirSync('chaos/scenarios').filter((x) => x.endsWith('.yaml'))) {
      const s = loadScenario(`chaos/scenarios/${f}`);
      expect(s.timeline.length, f).to.be.greaterThan(0);
    }
  });

  it('expands repeats into concrete faults with their windows', () => {
    const s = loadScenario('chaos/scenarios/has-master-kill.yaml');
    expect(expandTimeline(s).map((f) => [f.at, f.until])).to.deep.equal([
      [4, 12],
      [34, 42],
      [64, 72],
    ]);
  });

  it('resolves globs and seeded random picks repeatably', () => {
    const { plan } = analyseTopology(readFileSync('topologies/has-8.yaml', 'utf8'), 'has-8');
    expect(resolveStatic(plan, 'web-*', seeded(1))).to.have.length(8);
    expect(resolveStatic(plan, 'web-3:eth1', seeded(1))).to.deep.equal(['web-3:eth1']);
    expect(resolveStatic(plan, 'master:active', seeded(1))).to.equal('runtime');
    const pick = (seed: number) => resolveStatic(plan, 'random:web-*', seeded(seed));
    expect(pick(42)).to.deep.equal(pick(42));
    const picks = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s) => (pick(s) as string[])[0]));
    expect(picks.size).to.be.greaterThan(2);
    expect(() => resolveStatic(plan, 'db-*', seeded(1))).to.throw(/matches no node/);
    expect(globToRegExp('web-?').test('web-1')).to.equal(true);
  });

  it('seeded picks: one / minority / majority / all / N% of a glob, repeatable, with a NIC suffix', () => {
    const { plan } = analyseTopology(readFileSync('topologies/has-8.yaml', 'utf8'), 'has-8');
    const r = (t: string, seed = 7) => resolveStatic(plan, t, seeded(seed)) as string[];
    expect(r('one:web-*')).to.have.length(1);
    expect(r('minority:web-*')).to.have.length(3); // 8 nodes: ceil(8/2) - 1
    expect(r('majority:web-*')).to.have.length(5); // floor(8/2) + 1
    expect(r('all:web-*')).to.have.length(8);
    expect(r('25%:web-*')).to.have.length(2);
    expect(r('1%:web-*')).to.have.length(1); // never empty
    expect(r('majority:web-*:eth1').every((t) => /^web-\d+:eth1$/.test(t))).to.equal(true);
    expect(new Set(r('majority:web-*')).size).to.equal(5); // no node twice
    expect(r('majority:web-*', 3)).to.deep.equal(r('majority:web-*', 3));
    const sets = new Set([1, 2, 3, 4, 5, 6].map((s) => r('minority:web-*', s).join(',')));
    expect(sets.size).to.be.greaterThan(1); // the seed matters
    expect([3, 4, 5].map((n) => [pickCount('minority', n), pickCount('majority', n)])).to.deep.equal([
      [1, 2],
      [1, 3],
      [2, 3],
    ]);
    expect(() => pickCount('minority', 1)).to.throw(/empty/);
    expect(() => pickCount('150%', 4)).to.throw(/100 %/);
  });

  it('the latency + loss scenario plans a proxy, a redirect and a journalled inverse for each part', async () => {
    const out = await dryRun(loadScenario('chaos/scenarios/has-latency-loss.yaml'), silentLogger);
    expect(out).to.match(/t=4s latency → client until t=19s/);
    expect(out).to.match(/proxy halab_198_18_20_100_80 127\.0\.0\.1:<port> → 198\.18\.20\.100:80; add toxic halab_f0r0 .*"latency":100/);
    expect(out).to.match(/undo: \{"type":"steps","steps":\[\{"type":"nft-delete-table".*\{"type":"toxic-remove"/);
    expect(out).to.match(/iifname != "lo" numgen random mod 1000 < 50/);
  });

  it('bandwidth: ifb names fit the kernel limit of 15 characters; tbf burst is ~20 ms of traffic, never below two frames', () => {
    expect(ifbName('f12r3n10', 'eth1').length).to.be.at.most(15);
    expect(ifbName('f0r0', 'eth0')).to.not.equal(ifbName('f0r0', 'eth1'));
    expect(tbfArgs(8000)).to.deep.equal(['tbf', 'rate', '8000kbit', 'burst', '20000', 'latency', '100ms']);
    expect(tbfArgs(100)[4]).to.equal('3028');
  });

  it('parses and evaluates k6-style thresholds', () => {
    const ts = ['failover_ms.p95 < 200', 'failed_requests == 0', 'ok_rate >= 0.99'].map(parseThreshold);
    const r = evaluateThresholds(ts, { 'failover_ms.p95': 180, failed_requests: 3, ok_rate: 0.995 });
    expect(r.map((x) => x.pass)).to.deep.equal([true, false, true]);
    expect(evaluateThresholds([parseThreshold('x < 1')], {})[0]!.pass).to.equal(false); // unknown metric fails
    expect(() => parseThreshold('p95 <<< 3')).to.throw(/metric op number/);
  });
});
