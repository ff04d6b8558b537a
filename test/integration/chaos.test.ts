// The chaos engine on real labs: each fault kind applied, verified and rolled back; the journal
// rolls back after the harness is SIGKILLed mid-fault; --dry-run touches nothing; a bad scenario
// gets file:line errors; a CI-sized scenario runs end to end on the HAS stack.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { labDownByName, labUp, readSavedPlan } from '../../lab/lab.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import { FAULT_KINDS } from '../../chaos/faults/index.ts';
import { openFaults, recordPending, recordUndone } from '../../chaos/journal.ts';
import { healLab, undo } from '../../chaos/rollback.ts';
import { timeRequests } from '../../chaos/faults/toxic.ts';
import { measureTransfer } from '../../chaos/faults/measure.ts';
import { daemonRunning } from '../../lab/stacks/node-files.ts';
import { HALAB, halab, log, pings, testBackend } from './helpers.ts';

const LAB = 'it-chaos';

async function nftTables(node: string): Promise<string> {
  const b = await testBackend();
  const r = await execa('nsenter', ['-t', String(await b.pid(LAB, node)), '-n', 'nft', 'list', 'tables'], { reject: false });
  return r.stdout;
}

describe('chaos engine (real labs)', function () {
  this.timeout(900_000);
  let plan: LabPlan;
  const addr = (node: string, i = 0) => plan.nodes.find((n) => n.name === node)!.nics[i]!.address;

  before(async () => {
    const b = await testBackend();
    await labDownByName(LAB, log, b);
    await labUp('test/fixtures/labs/it-chaos.yaml', log);
    plan = readSavedPlan(LAB)!;
  });
  after(async () => {
    await labDownByName(LAB, log, await testBackend());
  });

  /** Apply a fault the way the runner does (journal first), verify, roll back. */
  async function roundTrip(kind: string, target: string, params: Record<string, unknown> = {}) {
    const backend = await testBackend();
    const id = `t${Date.now() % 100000}`;
    const p = FAULT_KINDS[kind]!.prepare({ backend, lab: LAB, plan, id }, target, params);
    recordPending(LAB, { id, kind, target, inverse: p.inverse });
    await p.act();
    const evidence = await p.verify();
    return {
      evidence,
      rollback: async () => {
        await undo(backend, LAB, p.inverse);
        recordUndone(LAB, id);
      },
    };
  }

  it('partition: b cannot reach a (evidence: ping fails), c still can; rollback restores it and leaves no nft table', async () => {
    const b = await testBackend();
    const f = await roundTrip('partition', 'a', { from: ['b'] });
    expect(f.evidence.pingFails).to.equal(true);
    expect(await pings(b, LAB, 'b', addr('a'))).to.equal(false);
    expect(await pings(b, LAB, 'c', addr('a'))).to.equal(true);
    await f.rollback();
    expect(await pings(b, LAB, 'b', addr('a'))).to.equal(true);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
  });

  it('nic-down: the link is down (evidence), the other network works; rollback brings it up', async () => {
    const b = await testBackend();
    const f = await roundTrip('nic-down', 'a:eth0');
    try {
      expect(f.evidence.link).to.equal('down');
      expect(await pings(b, LAB, 'b', addr('a', 0))).to.equal(false);
      expect(await pings(b, LAB, 'b', addr('a', 1))).to.equal(true);
    } finally {
      await f.rollback();
    }
    expect(await pings(b, LAB, 'b', addr('a', 0))).to.equal(true);
  });

  it('loss: about the asked share of packets is dropped; rollback removes the rule', async () => {
    const b = await testBackend();
    const f = await roundTrip('loss', 'a', { percent: 50 });
    let received: number;
    try {
      expect(f.evidence.rules).to.equal(true);
      const r = await b.exec(LAB, 'b', ['sh', '-c', `ping -q -c 100 -i 0.01 -W 1 ${addr('a')} | sed -n 's/.* \\([0-9]*\\) received.*/\\1/p'`], { check: false });
      received = Number(r.stdout.trim());
    } finally {
      await f.rollback();
    }
    // 50 % loss of incoming echo requests: 100 pings, 50 expected through (binomial: 30..70 is > 99.99 %)
    expect(received).to.be.within(30, 70);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
  });

  it('cpu-load: the node uses about its cap (evidence); rollback stops stress-ng', async () => {
    const b = await testBackend();
    const f = await roundTrip('cpu-load', 'b', { workers: 1 });
    await f.rollback(); // first: a failed expectation must not leave stress-ng behind for the next tests
    expect(f.evidence.cpuCoresUsed as number).to.be.greaterThan(0.3); // cap 0.5 (needs a machine that is not overloaded)
    const r = await b.exec(LAB, 'b', ['sh', '-c', 'pgrep stress-ng | wc -l']);
    expect(r.stdout.trim()).to.equal('0');
  });

  it('node-pause: the node is paused (evidence) and resumed by rollback', async () => {
    const f = await roundTrip('node-pause', 'c');
    expect(f.evidence.state).to.equal('paused');
    await f.rollback();
    expect((await (await testBackend()).inspect(LAB, 'c')).state).to.equal('running');
  });

  for (const [kind, params] of [
    ['process-kill', { process: 'napper', signal: 'STOP' }],
    ['process-stop', { process: 'napper' }],
  ] as const) {
    it(`${kind} ${JSON.stringify(params)} freezes the process (state T) and is undone with CONT`, async () => {
      const b = await testBackend();
      // a copy of sleep under its own name: the node's own init child is a `sleep infinity`
      await b.exec(LAB, 'a', ['sh', '-c', 'pkill -x napper; cp /bin/sleep /tmp/napper && setsid /tmp/napper 1000 >/dev/null 2>&1 < /dev/null &']);
      const f = await roundTrip(kind, 'a', params);
      expect(String(f.evidence.state)).to.match(/^T/);
      await f.rollback();
      const r = await b.exec(LAB, 'a', ['sh', '-c', 'ps -o stat= -C napper']);
      expect(r.stdout).to.match(/^[SR]/m);
    });
  }

  describe('faults through the in-node Toxiproxy-compatible proxy', () => {
    const url = () => `http://${addr('a')}:8080/`;
    const okMs = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
    before(async () => {
      const b = await testBackend();
      const server = `setsid node -e "require('http').createServer((q, s) => s.end('ok')).listen(8080)" >/dev/null 2>&1 </dev/null &`;
      await b.exec(LAB, 'a', ['sh', '-c', `curl -s -o /dev/null http://127.0.0.1:8080/ || ${server}`]);
      await b.exec(LAB, 'client', ['sh', '-c', `for i in $(seq 100); do curl -s -o /dev/null ${url()} && exit 0; sleep 0.1; done; exit 1`]);
    });

    it('latency: the HTTP time from client to a rose by about the asked 100 ms (evidence); rollback removes toxic, redirect and proxy', async () => {
      const b = await testBackend();
      const f = await roundTrip('latency', 'client', { to: 'a', port: 8080, latency_ms: 100 });
      let during: number[];
      try {
        expect(f.evidence.toxicListed).to.equal(true);
        expect(f.evidence.redirected as number).to.be.greaterThan(0);
        expect(f.evidence.addedMs as number).to.be.within(80, 250);
        during = okMs(await timeRequests(b, LAB, 'client', url(), 5)); // measured apart from the fault's own evidence
      } finally {
        await f.rollback();
      }
      expect(Math.min(...during)).to.be.at.least(95);
      expect(await nftTables('client')).to.not.match(/halab_it_chaos/);
      const proxy = `halab_${addr('a').replace(/\./g, '_')}_8080`;
      const toxics = (await (await fetch(`http://${addr('client')}:8474/proxies/${proxy}/toxics`)).json()) as unknown[];
      expect(toxics).to.deep.equal([]);
      expect(Math.min(...okMs(await timeRequests(b, LAB, 'client', url(), 5)))).to.be.below(95);
      await healLab(b, LAB, log); // scenario end: the idle proxy goes too
      expect(await daemonRunning(b, LAB, 'client', 'toxiproxy')).to.equal(false);
    });

    it('toxic reset_peer: every request through it fails; rollback restores them', async () => {
      const b = await testBackend();
      const f = await roundTrip('toxic', 'client', { to: 'a', port: 8080, type: 'reset_peer', attributes: { timeout: 0 }, stream: 'upstream', samples: 3 });
      try {
        expect(f.evidence.failedDuring).to.equal(3);
      } finally {
        await f.rollback();
      }
      expect(okMs(await timeRequests(b, LAB, 'client', url(), 3))).to.have.length(3);
      await healLab(b, LAB, log);
    });
  });

  it('bandwidth: tbf egress and ifb ingress hold a:eth0 near 8 Mbit/s both ways (evidence); rollback leaves no qdisc or ifb', async () => {
    const b = await testBackend();
    const f = await roundTrip('bandwidth', 'a:eth0', { rate_kbit: 8000, peer: 'b' });
    try {
      // the upper bound proves the shaping; the lower one allows a CPU-starved sender (busy CI machine)
      expect(f.evidence.egressKbit as number).to.be.within(8000 * 0.5, 8000 * 1.1);
      expect(f.evidence.ingressKbit as number).to.be.within(8000 * 0.5, 8000 * 1.1);
    } finally {
      await f.rollback();
    }
    const pid = String(await b.pid(LAB, 'a'));
    const qd = await execa('nsenter', ['-t', pid, '-n', 'tc', 'qdisc', 'show', 'dev', 'eth0']);
    expect(qd.stdout).to.not.match(/tbf|ingress/);
    expect((await execa('nsenter', ['-t', pid, '-n', 'ip', '-o', 'link', 'show', 'type', 'ifb'])).stdout.trim()).to.equal('');
    const free = await measureTransfer(b, LAB, 'a', 'b', addr('b'), 3_000_000);
    expect(free.kbitPerSecond).to.be.greaterThan(8000 * 2); // the limit is gone
  });

  it('nic-flap: the link went down and up count times (evidence) and is up after rollback', async () => {
    const f = await roundTrip('nic-flap', 'c:eth1', { period_s: 1, count: 2 });
    expect(f.evidence.observed).to.equal('down,up,down,up');
    await f.rollback();
    await f.rollback(); // twice is harmless
    expect(await pings(await testBackend(), LAB, 'b', addr('c', 1))).to.equal(true);
  });

  it('link-cut: b loses a on lan1 only; rollback restores it', async () => {
    const b = await testBackend();
    const f = await roundTrip('link-cut', 'a', { peer: 'b', network: 'lan1' });
    try {
      expect(f.evidence.pingFails).to.equal(true);
      expect(await pings(b, LAB, 'b', addr('a', 1))).to.equal(true);
    } finally {
      await f.rollback();
    }
    expect(await pings(b, LAB, 'b', addr('a', 0))).to.equal(true);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
  });

  it('duplicate: about the asked share of a:eth0 packets leaves twice (ping counts DUP! replies); rollback removes the netdev table', async () => {
    const b = await testBackend();
    const f = await roundTrip('duplicate', 'a:eth0', { percent: 30, peer: 'b' });
    await f.rollback();
    expect(f.evidence.pingSent).to.equal(100);
    expect(f.evidence.pingDuplicates as number).to.be.within(12, 50); // binomial(100, 0.3): far outside 4 sd
    expect(f.evidence.packetsHit as number).to.be.greaterThan(0);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
    const r = await b.exec(LAB, 'a', ['ping', '-q', '-c', '50', '-i', '0.01', addr('b')]);
    expect(r.stdout).to.not.match(/duplicates/);
  });

  it('corrupt: the receiver drops the corrupted share (bad checksums) — about 30 % of pings lost; rollback removes it', async () => {
    const b = await testBackend();
    const f = await roundTrip('corrupt', 'a:eth0', { percent: 30, peer: 'b' });
    await f.rollback();
    expect(f.evidence.packetsHit as number).to.be.within(12, 50);
    expect(f.evidence.pingReceived as number).to.be.within(50, 88);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
    expect(await pings(b, LAB, 'a', addr('b'))).to.equal(true);
  });

  it('memory-pressure: the node holds about the asked memory more (evidence); rollback frees it', async () => {
    const b = await testBackend();
    const f = await roundTrip('memory-pressure', 'b', { mb: 64 });
    await f.rollback();
    expect(f.evidence.roseMiB as number).to.be.within(64 * 0.8, 64 * 1.5);
    const r = await b.exec(LAB, 'b', ['sh', '-c', 'pgrep stress-ng | wc -l']);
    expect(r.stdout.trim()).to.equal('0');
  });

  it('node-restart: the node runs again with a fresh init (evidence); rollback is harmless', async () => {
    const f = await roundTrip('node-restart', 'c');
    expect(f.evidence.state).to.equal('running');
    expect(f.evidence.initAgeSeconds as number).to.be.below(30);
    await f.rollback();
    expect((await (await testBackend()).inspect(LAB, 'c')).state).to.equal('running');
  });

  it('after the harness is SIGKILLed mid-fault, heal rolls everything back', async () => {
    const b = await testBackend();
    const child = spawn('node', [HALAB, 'chaos', 'run', 'test/fixtures/scenarios/hang.yaml'], { stdio: 'ignore' });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && openFaults(LAB).length < 2) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 500));
    expect(openFaults(LAB).length).to.equal(2);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await pings(b, LAB, 'b', addr('a'))).to.equal(false); // the fault outlived the harness
    const heal = await halab(['heal', LAB]);
    expect(heal.exitCode, heal.all).to.equal(0);
    expect(openFaults(LAB)).to.deep.equal([]);
    expect(await pings(b, LAB, 'b', addr('a'))).to.equal(true);
    expect(await nftTables('a')).to.not.match(/halab_it_chaos/);
    const link = await b.exec(LAB, 'c', ['cat', '/sys/class/net/eth1/operstate']);
    expect(link.stdout.trim()).to.equal('up');
    expect((await healLab(b, LAB, log)).length).to.equal(0); // rolling back twice is harmless
  });

  it('--dry-run prints the plan and touches nothing', async () => {
    const before = (await (await testBackend()).listResources('has-1')).length;
    const r = await halab(['chaos', 'run', '--dry-run', 'chaos/scenarios/has-master-kill.yaml']);
    expect(r.exitCode, r.all).to.equal(0);
    expect(r.stdout).to.match(/t=4s node-kill/);
    expect(r.stdout).to.match(/thresholds: failover_ms\.median < 200/);
    expect((await (await testBackend()).listResources('has-1')).length).to.equal(before);
  });

  it('a malformed scenario gets file:line:col errors', async () => {
    const r = await halab(['chaos', 'run', 'test/fixtures/scenarios/bad.yaml']);
    expect(r.exitCode).to.equal(2);
    expect(r.stderr).to.match(/bad\.yaml:6:\d+: timeline\[0\]\.fault: unknown fault 'node-kil' \(did you mean 'node-kill'\?\)/);
    expect(r.stderr).to.match(/bad\.yaml:7:\d+: timeline\[1\]\.at: .*after the workload's end/);
    expect(r.stderr).to.match(/bad\.yaml:8:\d+: thresholds\[0\]/);
  });

  it('a CI-sized scenario runs end to end on the HAS stack: ledger, verified fault, rollback, checks, report', async () => {
    const r = await halab(['chaos', 'run', '--json', 'chaos/scenarios/ci-master-kill.yaml']);
    const out = JSON.parse(r.stdout) as { runDir: string; metrics: Record<string, number | null>; thresholds: { text: string; pass: boolean }[] };
    // the verdict itself is a measurement (it may fail on a finding); the engine's duties may not
    expect(r.exitCode).to.equal(out.thresholds.every((t) => t.pass) ? 0 : 1);
    for (const f of ['plan.json', 'ledger.jsonl', 'faults.jsonl', 'events.jsonl', 'summary.json', 'report.html', 'failovers.json']) {
      expect(existsSync(join(out.runDir, f)), f).to.equal(true);
    }
    const fault = JSON.parse(readFileSync(join(out.runDir, 'faults.jsonl'), 'utf8').split('\n')[0]!);
    expect(fault.kind).to.equal('node-kill');
    expect(fault.evidence.state).to.equal('stopped');
    expect(out.metrics.requests).to.be.greaterThan(1000);
    expect(out.metrics.unrecovered_faults).to.equal(0);
    expect(openFaults('has-1')).to.deep.equal([]);
    const b = await testBackend();
    expect((await b.inspect('has-1', fault.target)).state).to.equal('running');
    const down = await halab(['down', 'has-1']);
    expect(down.exitCode).to.equal(0);
  });
});
