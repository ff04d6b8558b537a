// Pure parts of the chaos engine: scenario files, schedule expansion, seeded targets, thresholds.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { expandTimeline, loadScenario } from '../../chaos/scenario.ts';
import { resolveStatic, globToRegExp } from '../../chaos/targets.ts';
import { seededRandom as seeded } from '../../lab/util/prng.ts';
import { evaluateThresholds, parseThreshold } from '../../chaos/thresholds.ts';
import { analyseTopology } from '../../lab/topology/index.ts';

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

  it('parses and evaluates k6-style thresholds', () => {
    const ts = ['failover_ms.p95 < 200', 'failed_requests == 0', 'ok_rate >= 0.99'].map(parseThreshold);
    const r = evaluateThresholds(ts, { 'failover_ms.p95': 180, failed_requests: 3, ok_rate: 0.995 });
    expect(r.map((x) => x.pass)).to.deep.equal([true, false, true]);
    expect(evaluateThresholds([parseThreshold('x < 1')], {})[0]!.pass).to.equal(false); // unknown metric fails
    expect(() => parseThreshold('p95 <<< 3')).to.throw(/metric op number/);
  });
});
