// Report generation from a stored (hand-made) run directory.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binLedger, renderRunReport, stateSpans } from '../../reports/report.ts';
import { analyseTopology } from '../../lab/topology/index.ts';
import { machineConditions, publishReport, recordSummaries } from '../../benchmarks/record.ts';

describe('reports', () => {
  it('bins the ledger into ok/failed per bin', () => {
    const t0 = 1000;
    const bins = binLedger(
      [
        { start: 1000, end: 1050, outcome: 'ok' },
        { start: 1100, end: 1150, outcome: 'ok' },
        { start: 1200, end: 1400, outcome: 'timeout' },
        { start: 2100, end: 2120, outcome: 'ok' },
      ],
      t0,
      1,
    );
    expect(bins.map((b) => [b.t, b.ok, b.failed])).to.deep.equal([
      [0, 2, 1],
      [1, 1, 0],
      [2, 0, 0],
    ]);
  });

  it('turns state events into per-node spans', () => {
    const spans = stateSpans(
      [
        { t: 0, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
        { t: 2000, node: 'm1', source: 'vrrp', type: 'state', data: { state: 'FAULT' } },
        { t: 2100, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER' } },
      ],
      0,
      5000,
    );
    expect(spans).to.deep.include({ node: 'm1 (vrrp)', state: 'MASTER', start: 0, end: 2 });
    expect(spans).to.deep.include({ node: 'm1 (vrrp)', state: 'FAULT', start: 2, end: 5 });
    expect(spans).to.deep.include({ node: 'm2 (vrrp)', state: 'MASTER', start: 2.1, end: 5 });
  });

  it('writes report.md and a self-contained report.html with SVG charts from a run directory', async function () {
    this.timeout(20000);
    const dir = mkdtempSync(join(tmpdir(), 'halab-report-'));
    try {
      const ledger = Array.from({ length: 300 }, (_, i) => {
        const start = 10_000 + i * 10;
        const failed = start >= 11_000 && start < 11_180;
        return JSON.stringify({ id: i, start, end: start + (failed ? 300 : 2), outcome: failed ? 'timeout' : 'ok', server: `web-${(i % 2) + 1}` });
      });
      writeFileSync(join(dir, 'ledger.jsonl'), ledger.join('\n') + '\n');
      writeFileSync(join(dir, 'faults.jsonl'), JSON.stringify({ id: 'f1', kind: 'node-kill', target: 'm1', start: 11_000, end: 11_500 }) + '\n');
      writeFileSync(join(dir, 'events.jsonl'), JSON.stringify({ t: 11_060, node: 'm2', source: 'vrrp', type: 'state', data: { state: 'MASTER' } }) + '\n');
      const { plan } = analyseTopology(readFileSync(new URL('../../topologies/smoke.yaml', import.meta.url), 'utf8'), 'smoke.yaml');
      writeFileSync(join(dir, 'lab-plan.json'), JSON.stringify(plan));
      const files = await renderRunReport(dir);
      const md = readFileSync(files.markdown, 'utf8');
      expect(md).to.contain('300 attempted, 282 ok, 18 failed');
      expect(md).to.contain('| node-kill | m1 | 1.000 | 1.500 |');
      const html = readFileSync(files.html, 'utf8');
      expect((html.match(/<svg/g) ?? []).length).to.equal(4);
      expect(html).to.contain(plan.nodes[0]!.name).and.to.contain(plan.networks[0]!.subnet);
      expect(html).to.not.match(/<script|https?:\/\/(?!www\.w3\.org)/);
      expect(existsSync(join(dir, 'throughput.svg'))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders a benchmark set: each scorecard, its curves as SVG, no machine paths', async function () {
    this.timeout(20000);
    const dir = mkdtempSync(join(tmpdir(), 'halab-report-'));
    try {
      const summary = {
        set: [
          {
            bench: 'has-scaling',
            conditions: { cap: '0.1 CPU' },
            rows: [{ figure: 'efficiency at 4 nodes', measured: 97.5, unit: '%', reference: 98.6, referenceSource: 'thesis Table 13', trials: 3, spread: { min: 96, p95: 98, max: 98 } }],
            curves: [{ title: 'efficiency', xLabel: 'nodes', yLabel: '%', series: [{ name: 'measured', points: [[1, 100], [4, 97.5]] }, { name: 'thesis', points: [[1, 100], [4, 98.6]] }] }],
          },
          { bench: 'other', conditions: {}, rows: [{ figure: 'x', measured: 1, unit: 's' }] },
        ],
      };
      writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
      const files = await renderRunReport(dir);
      const md = readFileSync(files.markdown, 'utf8');
      expect(md).to.contain('## has-scaling').and.to.contain('## other').and.to.contain('| efficiency at 4 nodes | 97.5 % | 98.6 % | thesis Table 13 |');
      expect(md).to.contain('![has-scaling efficiency](has-scaling-efficiency.svg)');
      const html = readFileSync(files.html, 'utf8');
      expect((html.match(/<svg/g) ?? []).length).to.equal(1);
      expect(html).to.not.contain('<img');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bench run is recorded with its conditions and published as markdown, HTML and charts', async function () {
    this.timeout(20000);
    const dir = mkdtempSync(join(tmpdir(), 'halab-bench-'));
    const pub = mkdtempSync(join(tmpdir(), 'halab-pub-'));
    try {
      const cond = machineConditions(new Date('2026-01-02T03:04:05.678Z'));
      expect(cond.date).to.equal('2026-01-02T03:04:05Z');
      expect(cond.machine).to.match(/^\d+ × .+, \d+ GiB, Node \d+/);
      await recordSummaries(dir, [
        { bench: 'b', conditions: cond, rows: [{ figure: 'gap', measured: 180, unit: 'ms', note: 'a | b' }], curves: [{ title: 'c', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[1, 2]] }] }] },
      ]);
      expect(JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')).bench).to.equal('b');
      const dest = publishReport(dir, 'b', pub);
      expect(readFileSync(join(dest, 'report.md'), 'utf8')).to.contain('| gap | 180 ms |').and.to.contain('a \\| b').and.to.contain('- date: 2026-01-02T03:04:05Z');
      expect(existsSync(join(dest, 'report.html'))).to.equal(true);
      expect(existsSync(join(dest, 'b-c.svg'))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(pub, { recursive: true, force: true });
    }
  });
});
