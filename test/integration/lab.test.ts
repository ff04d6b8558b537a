// The lab engine against the real Docker engine: bring-up, both NICs, link faults, idempotence,
// two labs at once, crash-safe teardown and refusal of bad topologies.
import { expect } from 'chai';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { labDownByName, labUp } from '../../lab/lab.ts';
import { LAB_LABEL } from '../../lab/backends/backend.ts';
import { readContainerCpuCap } from '../../lab/backends/docker/cgroup.ts';
import { HALAB, halab, log, pings, testBackend } from './helpers.ts';

const A = 'test/fixtures/labs/it-a.yaml';
const B = 'test/fixtures/labs/it-b.yaml';

async function resourcesOf(lab: string) {
  const b = await testBackend();
  return b.listResources(lab);
}

describe('lab engine (real Docker engine)', function () {
  this.timeout(900_000);

  before(async () => {
    const b = await testBackend();
    for (const lab of ['it-a', 'it-b', 'it-kill', 'it-bad']) await labDownByName(lab, log, b);
  });
  after(async () => {
    const b = await testBackend();
    for (const lab of ['it-a', 'it-b', 'it-kill']) await labDownByName(lab, log, b);
  });

  it('brings a dual-NIC lab up with planned addresses, caps and labels', async () => {
    const r = await labUp(A, log);
    expect(r.nodes.map((n) => n.name)).to.deep.equal(['a', 'b']);
    const b = r.nodes.find((n) => n.name === 'b')!;
    expect(b.state).to.equal('running');
    expect(b.nics.map((n) => [n.ifname, n.network])).to.deep.equal([
      ['eth0', 'lan1'],
      ['eth1', 'lan2'],
    ]);
    const backend = await testBackend();
    const stats = await backend.stats('it-a', 'b');
    expect(stats.cpuLimit).to.equal(0.5);
    expect(stats.memoryLimitBytes).to.equal(128 * 1024 * 1024);
    const res = await resourcesOf('it-a');
    expect(res.filter((x) => x.type === 'container')).to.have.length(2);
    expect(res.filter((x) => x.type === 'network')).to.have.length(2);
    expect(res.every((x) => x.name.startsWith('it-a-'))).to.equal(true);
  });

  it('changes a running node\'s CPU cap live: lifted (0), over a longer CFS period, and back', async () => {
    const backend = await testBackend();
    const id = (await backend.docker.getContainer('it-a-b').inspect()).Id;
    await backend.setCpuLimit('it-a', 'b', 0);
    // Docker's NanoCpus 0 means "unchanged": the kernel's quota must really be all cores or none
    expect(readContainerCpuCap(id)).to.be.at.least(cpus().length);
    expect((await backend.stats('it-a', 'b')).cpuLimit).to.equal(undefined);
    await backend.setCpuLimit('it-a', 'b', 0.04, { periodMs: 500 });
    expect(readContainerCpuCap(id)).to.be.closeTo(0.04, 1e-9);
    await backend.setCpuLimit('it-a', 'b', 0.5);
    expect(readContainerCpuCap(id)).to.be.closeTo(0.5, 1e-9);
    expect((await backend.stats('it-a', 'b')).cpuLimit).to.equal(0.5);
  });

  it('reaches the other node over lan1 and over lan2', async () => {
    const backend = await testBackend();
    const b = await backend.inspect('it-a', 'b');
    expect(await pings(backend, 'it-a', 'a', b.nics[0]!.address)).to.equal(true);
    expect(await pings(backend, 'it-a', 'a', b.nics[1]!.address)).to.equal(true);
  });

  it('with one NIC down, the other network still works and the first does not', async () => {
    const backend = await testBackend();
    const b = await backend.inspect('it-a', 'b');
    const down = await halab(['link', '--lab', 'it-a', 'a', 'eth0', 'down']);
    expect(down.exitCode, down.all).to.equal(0);
    try {
      expect(await pings(backend, 'it-a', 'a', b.nics[0]!.address)).to.equal(false);
      expect(await pings(backend, 'it-a', 'a', b.nics[1]!.address)).to.equal(true);
    } finally {
      const up = await halab(['link', '--lab', 'it-a', 'a', 'lan1', 'up']);
      expect(up.exitCode, up.all).to.equal(0);
    }
    expect(await pings(backend, 'it-a', 'a', b.nics[0]!.address)).to.equal(true);
  });

  it('up is idempotent: a second run creates nothing and keeps the same containers', async () => {
    const backend = await testBackend();
    const before = (await resourcesOf('it-a')).map((x) => x.id).sort();
    const r = await labUp(A, log);
    expect(r.created).to.deep.equal([]);
    expect((await resourcesOf('it-a')).map((x) => x.id).sort()).to.deep.equal(before);
    expect((await backend.inspect('it-a', 'a')).state).to.equal('running');
  });

  it('runs two labs at once, and down of one leaves the other', async () => {
    await labUp(B, log);
    const backend = await testBackend();
    expect(await backend.listLabs()).to.include.members(['it-a', 'it-b']);
    // the same node names in two labs are different containers on different networks
    const aInB = await backend.inspect('it-b', 'a');
    expect(aInB.nics[0]!.address.startsWith('198.18.202.')).to.equal(true);
    const down = await halab(['down', 'it-b']);
    expect(down.exitCode, down.all).to.equal(0);
    expect(await resourcesOf('it-b')).to.deep.equal([]);
    expect(await resourcesOf('it-a')).to.have.length(4);
  });

  it('halab exec runs a command in a node and returns its exit code', async () => {
    const ok = await halab(['exec', '--lab', 'it-a', 'b', '--', 'hostname']);
    expect(ok.exitCode).to.equal(0);
    expect(ok.stdout.trim()).to.equal('b');
    const bad = await halab(['exec', '--lab', 'it-a', 'b', '--', 'sh', '-c', 'exit 7']);
    expect(bad.exitCode).to.equal(7);
  });

  it('down (by topology file) leaves nothing with the lab label, asked of the Docker API', async () => {
    const rules = async () => (await execa('iptables', ['-S', 'DOCKER-USER'])).stdout.split('\n').filter((l) => l.includes('"halab:it-a"'));
    expect(await rules(), 'one same-bridge ACCEPT per lab network while up').to.have.length(2);
    const down = await halab(['down', A]);
    expect(down.exitCode, down.all).to.equal(0);
    const backend = await testBackend();
    const filters = { label: [`${LAB_LABEL}=it-a`] };
    expect(await backend.docker.listContainers({ all: true, filters })).to.deep.equal([]);
    expect(await backend.docker.listNetworks({ filters })).to.deep.equal([]);
    expect((await backend.docker.listVolumes({ filters })).Volumes ?? []).to.deep.equal([]);
    expect(await rules()).to.deep.equal([]);
  });

  it('after a SIGKILL of the harness during up, down removes everything', async () => {
    const backend = await testBackend();
    const child = spawn('node', [HALAB, 'up', 'test/fixtures/labs/it-kill.yaml'], { stdio: 'ignore' });
    // wait until up has created some (not necessarily all) containers, then kill it hard
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const n = (await resourcesOf('it-kill')).filter((x) => x.type === 'container').length;
      if (n >= 1) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect((await resourcesOf('it-kill')).length).to.be.greaterThan(0);
    const down = await halab(['down', 'it-kill']);
    expect(down.exitCode, down.all).to.equal(0);
    expect(await resourcesOf('it-kill')).to.deep.equal([]);
    expect(await backend.listLabs()).to.not.include('it-kill');
  });

  it('a malformed topology exits 2 with file:line:col messages and creates nothing', async () => {
    const v = await halab(['validate', 'test/fixtures/labs/it-bad.yaml']);
    expect(v.exitCode).to.equal(2);
    expect(v.stderr).to.match(/it-bad\.yaml:4:\d+: networks\.lan1\.subnet/);
    expect(v.stderr).to.match(/it-bad\.yaml:6:\d+: .*lan9/);
    expect(v.stderr).to.match(/it-bad\.yaml:6:\d+: .*cpu/);
    const up = await halab(['up', 'test/fixtures/labs/it-bad.yaml']);
    expect(up.exitCode).to.equal(2);
    expect(await resourcesOf('it-bad')).to.deep.equal([]);
  });
});
