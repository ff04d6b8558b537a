// NMT stack: the params check (positions), the monitor's decisions and the scheduling table, and
// the per-trial figures of the recovery benchmark — all pure.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { analyseTopology } from '../../lab/topology/index.ts';
import { TopologyError } from '../../lab/topology/types.ts';
import { nmtConfig } from '../../lab/stacks/nmt/config.ts';
import { assess, chooseSecondary, plan, probeSummary, type Health, type Placement } from '../../lab/stacks/nmt/schedule.ts';
import { trialFigures, ownerOverlaps } from '../../benchmarks/nmt-recovery/figures.ts';

const TEXT = readFileSync('topologies/nmt.yaml', 'utf8');

function problems(text: string): string[] {
  try {
    analyseTopology(text, 'nmt.yaml');
    return [];
  } catch (e) {
    if (e instanceof TopologyError) return e.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
    throw e;
  }
}

describe('nmt params', () => {
  it('reads topologies/nmt.yaml: M, services, placement, scheduling table', () => {
    const cfg = nmtConfig(analyseTopology(TEXT, 'nmt.yaml').plan);
    expect(cfg.monitorIntervalS).to.equal(4);
    expect(cfg.services.map((s) => `${s.name} ${s.ip} ${s.primary}/${s.secondary}`)).to.deep.equal([
      'web 198.18.160.100 h-1/h-2',
      'mail 198.18.160.101 h-3/h-4',
      'name 198.18.160.102 h-5/h-6',
      'monitor 198.18.160.103 h-7/h-8',
    ]);
    expect(cfg.scheduling[0]).to.equal('h-9');
    expect(cfg.services[0]!.ifname).to.equal('eth0');
    expect(cfg.services[0]!.prefixLength).to.equal(24);
  });

  it('reports bad params at their line and column', () => {
    const bad = TEXT.replace('monitor_interval: 4 ', 'monitor_interval: 0 ')
      .replace('secondary: h-4 }', 'secondary: h-3 }')
      .replace('ip: 198.18.160.102', 'ip: 198.18.99.2')
      .replace('scheduling: [h-9,', 'scheduling: [h-99,');
    const ps = problems(bad);
    const line = (s: string) => TEXT.split('\n').findIndex((l) => l.includes(s)) + 1;
    expect(ps).to.have.length(4);
    expect(ps[0]).to.match(new RegExp(`^${line('monitor_interval:')}:\\d+ params.monitor_interval: must be a number`));
    expect(ps[1]).to.match(new RegExp(`^${line('mail:')}:\\d+ params.services.mail.secondary: must differ`));
    expect(ps[2]).to.match(new RegExp(`^${line('name:    {')}:\\d+ params.services.name.ip: 198.18.99.2 is in none`));
    expect(ps[3]).to.match(new RegExp(`^${line('scheduling:')}:\\d+ params.scheduling\\[0\\]: 'h-99' is not a node`));
  });

  it('reports a missing service, an unknown key and a service IP that is a node address', () => {
    const bad = TEXT.replace(/ {4}monitor: \{[^\n]*\n/, '').replace('ip: 198.18.160.100', 'ip: 198.18.160.10').replace('overload_cpu:', 'overload_cpus:');
    const ps = problems(bad).join('\n');
    expect(ps).to.include("missing service 'monitor'");
    expect(ps).to.include("unknown key 'overload_cpus' (did you mean 'overload_cpu'?)");
    expect(ps).to.include('198.18.160.10 is already the address of node h-1');
  });
});

describe('nmt monitor decisions', () => {
  const table = ['h-9', 'h-1', 'h-2', 'h-3', 'h-4', 'h-5', 'h-6', 'h-7', 'h-8'];
  const placement: Placement = {
    web: { primary: 'h-1', secondary: 'h-2' },
    mail: { primary: 'h-3', secondary: 'h-4' },
    monitor: { primary: 'h-7', secondary: 'h-8' },
  };
  const allOk = (): Record<string, Health> => Object.fromEntries(table.map((h) => [h, 'ok' as Health]));

  it('assess: no ping = down; two status timeouts in a row or CPU at the threshold = overload', () => {
    expect(assess({ node: 'a', ping: false, status: 'timeout' }, 0.9)).to.equal('down');
    expect(assess({ node: 'a', ping: true, status: 'timeout' }, 0.9, 2)).to.equal('overload');
    expect(assess({ node: 'a', ping: true, status: 'timeout' }, 0.9, 1)).to.equal('ok'); // one late reply is not an overload
    expect(assess({ node: 'a', ping: true, status: { node: 'a', cpu: 0.9, services: {} } }, 0.9)).to.equal('overload');
    expect(assess({ node: 'a', ping: true, status: { node: 'a', cpu: 0.89, services: {} } }, 0.9)).to.equal('ok');
  });

  it('probeSummary says which of the heuristic\'s inputs judged the host', () => {
    expect(probeSummary({ node: 'a', ping: false, status: 'timeout' }, 0)).to.equal('no ping');
    expect(probeSummary({ node: 'a', ping: true, status: 'timeout' }, 2)).to.equal('no status (2 in a row)');
    expect(probeSummary({ node: 'a', ping: true, status: { node: 'a', cpu: 0.95, services: {} } }, 0)).to.equal('cpu 0.95');
  });

  it('nothing to do when every host answers', () => {
    expect(plan(table, placement, allOk(), {}, 'h-7').actions).to.deep.equal([]);
  });

  it('a primary that misses its ping moves to the secondary; the table picks an undesignated host as new secondary', () => {
    const health = { ...allOk(), 'h-1': 'down' as Health };
    const r = plan(table, placement, health, {}, 'h-7');
    expect(r.actions).to.deep.equal([
      { type: 'migrate', service: 'web', from: 'h-1', to: 'h-2', cause: 'down', release: false, coldStart: false },
      { type: 'standby', service: 'web', host: 'h-9', primary: 'h-2' },
    ]);
    expect(r.placement.web).to.deep.equal({ primary: 'h-2', secondary: 'h-9' });
  });

  it('an overloaded primary is told to release first', () => {
    const r = plan(table, placement, { ...allOk(), 'h-3': 'overload' }, {}, 'h-7');
    expect(r.actions[0]).to.include({ type: 'migrate', service: 'mail', to: 'h-4', release: true });
    // h-9 is undesignated; h-3 is overloaded, so it is not a candidate
    expect(r.actions[1]).to.deep.equal({ type: 'standby', service: 'mail', host: 'h-9', primary: 'h-4' });
  });

  it('two failures in one tick get different new secondaries (fewest designations first)', () => {
    const r = plan(table, placement, { ...allOk(), 'h-1': 'down', 'h-3': 'down' }, {}, 'h-7');
    const standbys = r.actions.filter((a) => a.type === 'standby').map((a) => (a.type === 'standby' ? a.host : ''));
    expect(standbys[0]).to.equal('h-9');
    expect(standbys[1]).to.not.equal('h-9');
    expect(standbys[1]).to.not.be.oneOf(['h-1', 'h-3', 'h-2', 'h-4']); // h-2 and h-4 are primaries now
  });

  it('primary and secondary both gone: cold start on a chosen host', () => {
    const r = plan(table, placement, { ...allOk(), 'h-1': 'down', 'h-2': 'down' }, {}, 'h-7');
    expect(r.actions[0]).to.deep.equal({ type: 'migrate', service: 'web', from: 'h-1', to: 'h-9', cause: 'down', release: false, coldStart: true });
  });

  it('a failed secondary is replaced; the monitor does not judge itself', () => {
    const r = plan(table, placement, { ...allOk(), 'h-8': 'down', 'h-7': 'down' }, {}, 'h-7');
    expect(r.actions).to.deep.equal([{ type: 'standby', service: 'monitor', host: 'h-9', primary: 'h-7' }]);
  });

  it('a host that runs a service it no longer owns is fenced (non-preemptive: the IP is not taken back)', () => {
    const moved: Placement = { ...placement, web: { primary: 'h-2', secondary: 'h-9' } };
    const r = plan(table, moved, allOk(), { 'h-1': { web: 'active' }, 'h-2': { web: 'active' } }, 'h-7');
    expect(r.actions).to.deep.equal([{ type: 'fence', service: 'web', host: 'h-1' }]);
  });

  it('repair: a primary that answers without running its service is woken again; a lost standby is recreated', () => {
    const running = { 'h-1': {}, 'h-2': {}, 'h-3': { mail: 'active' as const }, 'h-4': { mail: 'standby' as const }, 'h-8': { monitor: 'standby' as const } };
    const r = plan(table, placement, allOk(), running, 'h-7');
    expect(r.actions).to.deep.equal([
      { type: 'wake', service: 'web', host: 'h-1' },
      { type: 'standby', service: 'web', host: 'h-2', primary: 'h-1' },
    ]);
    expect(r.placement).to.deep.equal(placement); // the placement stays: only the hosts catch up
  });

  it('a standby the placement no longer names is fenced (it could wake as a second owner)', () => {
    const moved: Placement = { ...placement, monitor: { primary: 'h-7', secondary: 'h-9' } };
    const r = plan(table, moved, allOk(), { 'h-8': { monitor: 'standby' }, 'h-9': { monitor: 'standby' } }, 'h-7');
    expect(r.actions).to.deep.equal([{ type: 'fence', service: 'monitor', host: 'h-8' }]);
  });

  it('repair waits for a status report: a host that did not answer its status is not repaired', () => {
    expect(plan(table, placement, allOk(), { 'h-3': { mail: 'active' } }, 'h-7').actions).to.deep.equal([]);
  });

  it('no action when most hosts look failed at once (the monitor is the likelier problem)', () => {
    const health = Object.fromEntries(table.map((h, i) => [h, (i < 5 ? 'overload' : 'ok') as Health]));
    expect(plan(table, placement, health, {}, 'h-7').actions).to.deep.equal([]);
  });

  it('chooseSecondary returns null when no host is healthy', () => {
    const none = Object.fromEntries(table.map((h) => [h, 'down' as Health]));
    expect(chooseSecondary(table, placement, 'web', none)).to.equal(null);
  });
});

describe('nmt recovery figures', () => {
  const events = [
    { t: 1000, node: 'h-7', source: 'nmt', type: 'decision', data: { service: 'web', from: 'h-1', to: 'h-2', cause: 'down' } },
    { t: 1900, node: 'h-2', source: 'nmt', type: 'active', data: { service: 'web' } },
  ];
  const probes = [
    { t: 400, service: 'web', ok: false },
    { t: 1200, service: 'web', ok: true, server: 'h-1' }, // a late answer from the old primary does not count
    { t: 2100, service: 'web', ok: true, server: 'h-2' },
  ];

  it('detection, migration and response; R = D + migration exactly', () => {
    const f = trialFigures({ service: 'web', faultAt: 300, from: 'h-1' }, events, probes);
    expect(f).to.deep.equal({ service: 'web', detectionMs: 700, migrationMs: 1100, responseMs: 1800, to: 'h-2' });
  });

  it('no decision or no answer from the new server: null figures', () => {
    expect(trialFigures({ service: 'web', faultAt: 300, from: 'h-1' }, [], probes).detectionMs).to.equal(null);
    expect(trialFigures({ service: 'web', faultAt: 3000, from: 'h-1' }, events, probes).responseMs).to.equal(null);
  });

  it('owner overlaps from the agents\' IP samples', () => {
    const ev = [
      { t: 0, node: 'h-1', source: 'nmt', type: 'state', data: { instance: '1.1.1.1', state: 'MASTER' } },
      { t: 100, node: 'h-2', source: 'nmt', type: 'state', data: { instance: '1.1.1.1', state: 'MASTER' } },
      { t: 350, node: 'h-1', source: 'nmt', type: 'state', data: { instance: '1.1.1.1', state: 'BACKUP' } },
    ];
    expect(ownerOverlaps(ev, '1.1.1.1', 1000)).to.deep.equal([{ start: 100, end: 350, durationMs: 250, nodes: ['h-1', 'h-2'] }]);
  });
});
