// VM nodes (backend: vm) against the real engine: a QEMU/TCG guest made from the same role image as
// its container twin boots, sits on both lab networks with its planned addresses, loses one NIC by
// `halab link`, is paused and resumed through QMP, and `down` leaves no QEMU, tap, container or file.
import { expect } from 'chai';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDownByName, labUp } from '../../lab/lab.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import { halab, log, pings, testBackend } from './helpers.ts';

const FILE = 'test/fixtures/labs/dev-vm.yaml';
const LAB = 'dev-vm';

/** Host processes of this lab's QEMUs (QEMU's -name is the node's container name). */
async function qemuProcesses(): Promise<string[]> {
  const r = await execa('pgrep', ['-af', `^qemu-system-x86_64 -name ${LAB}-`], { reject: false });
  return r.stdout.split('\n').filter(Boolean);
}

describe('VM nodes (QEMU under TCG, real engine)', function () {
  this.timeout(900_000);

  before(async () => {
    await labDownByName(LAB, log, await testBackend());
  });
  after(async () => {
    await labDownByName(LAB, log, await testBackend());
  });

  it('boots a VM node beside a container node, with planned NICs, labels and a boot report', async () => {
    const r = await labUp(FILE, log);
    const vm = r.nodes.find((n) => n.name === 'vm')!;
    const ct = r.nodes.find((n) => n.name === 'ct')!;
    expect(vm.backend).to.equal('vm');
    expect(ct.backend).to.equal('container');
    expect(vm.state).to.equal('running');
    expect(vm.nics.map((n) => [n.ifname, n.network, n.address])).to.deep.equal([
      ['eth0', 'lan1', '198.18.216.10'],
      ['eth1', 'lan2', '198.18.217.10'],
    ]);
    const b = await testBackend();
    // The guest itself carries the addresses (the container side only forwards frames).
    const addr = await b.exec(LAB, 'vm', ['ip', '-o', '-4', 'addr', 'show']);
    expect(addr.stdout).to.match(/eth0\s+inet 198\.18\.216\.10\/24/);
    expect(addr.stdout).to.match(/eth1\s+inet 198\.18\.217\.10\/24/);
    // It is a VM: its own kernel, not the host's.
    const kernel = await b.exec(LAB, 'vm', ['uname', '-r']);
    expect(kernel.stdout.trim()).to.match(/-amd64$/);
    const boot = JSON.parse(readFileSync(join(labStateDir(LAB), 'vm', 'vm.boot.json'), 'utf8'));
    expect(boot.bootSeconds).to.be.greaterThan(0);
    expect(boot.qemuRssBytes).to.be.greaterThan(50 * 2 ** 20);
    const stats = await b.stats(LAB, 'vm');
    expect(stats.cpuSeconds).to.be.greaterThan(0);
    expect(stats.memoryBytes).to.be.greaterThan(50 * 2 ** 20);
    expect(await qemuProcesses()).to.have.length(1);
  });

  it('reaches the container over lan1 and over lan2, both ways', async () => {
    const b = await testBackend();
    expect(await pings(b, LAB, 'vm', '198.18.216.11')).to.equal(true);
    expect(await pings(b, LAB, 'vm', '198.18.217.11')).to.equal(true);
    expect(await pings(b, LAB, 'ct', '198.18.216.10')).to.equal(true);
    expect(await pings(b, LAB, 'ct', '198.18.217.10')).to.equal(true);
    // Names resolve as on a container node.
    expect(await pings(b, LAB, 'vm', 'ct')).to.equal(true);
  });

  it('exec: exit codes, stdin, env; archives; network sysctls in the guest', async () => {
    const b = await testBackend();
    const r = await b.exec(LAB, 'vm', ['sh', '-c', 'cat; echo "$X" >&2; exit 3'], { check: false, stdin: 'hello', env: { X: 'ex' } });
    expect(r).to.deep.equal({ exitCode: 3, stdout: 'hello', stderr: 'ex\n' });
    const { pack } = await import('tar-stream');
    const p = pack();
    p.entry({ name: 'a/b.txt' }, 'archived\n');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    await b.putArchive(LAB, 'vm', '/srv/t', Buffer.concat(chunks));
    expect((await b.exec(LAB, 'vm', ['cat', '/srv/t/a/b.txt'])).stdout).to.equal('archived\n');
    await b.setSysctl(LAB, 'vm', 'net.ipv4.conf.all.arp_ignore', '1');
    expect((await b.exec(LAB, 'vm', ['cat', '/proc/sys/net/ipv4/conf/all/arp_ignore'])).stdout.trim()).to.equal('1');
  });

  it('loses one NIC by `halab link` (the guest sees no carrier), keeps the other, and gets it back', async () => {
    const b = await testBackend();
    const down = await halab(['link', '--lab', LAB, 'vm', 'lan1', 'down']);
    expect(down.exitCode, down.all).to.equal(0);
    try {
      const link = await b.exec(LAB, 'vm', ['cat', '/sys/class/net/eth0/carrier'], { check: false });
      expect(link.stdout.trim()).to.equal('0');
      expect(await pings(b, LAB, 'ct', '198.18.216.10')).to.equal(false);
      expect(await pings(b, LAB, 'ct', '198.18.217.10')).to.equal(true);
    } finally {
      const up = await halab(['link', '--lab', LAB, 'vm', 'eth0', 'up']);
      expect(up.exitCode, up.all).to.equal(0);
    }
    expect((await b.exec(LAB, 'vm', ['cat', '/sys/class/net/eth0/carrier'])).stdout.trim()).to.equal('1');
    expect(await pings(b, LAB, 'ct', '198.18.216.10')).to.equal(true);
  });

  it('is paused (QMP stop: unreachable) and resumed (QMP cont: reachable again)', async () => {
    const b = await testBackend();
    await b.pause(LAB, 'vm');
    try {
      expect((await b.inspect(LAB, 'vm')).state).to.equal('paused');
      expect(await pings(b, LAB, 'ct', '198.18.216.10')).to.equal(false);
    } finally {
      await b.resume(LAB, 'vm');
    }
    expect((await b.inspect(LAB, 'vm')).state).to.equal('running');
    expect(await pings(b, LAB, 'ct', '198.18.216.10')).to.equal(true);
    expect(await pings(b, LAB, 'ct', '198.18.217.10')).to.equal(true);
  });

  it('`up` again is idempotent and leaves the running VM alone', async () => {
    const b = await testBackend();
    const before = (await b.exec(LAB, 'vm', ['cut', '-d.', '-f1', '/proc/uptime'])).stdout.trim();
    const r = await labUp(FILE, log);
    expect(r.created).to.deep.equal([]);
    const after = Number((await b.exec(LAB, 'vm', ['cut', '-d.', '-f1', '/proc/uptime'])).stdout.trim());
    expect(after).to.be.at.least(Number(before));
  });

  it('`down` leaves no QEMU process, tap, container, network or lab file', async () => {
    const pid = (await (await testBackend()).inspect(LAB, 'vm')).pid!;
    const r = await halab(['down', LAB]);
    expect(r.exitCode, r.all).to.equal(0);
    expect(await qemuProcesses()).to.deep.equal([]);
    expect(existsSync(`/proc/${pid}`)).to.equal(false);
    expect((await (await testBackend()).listResources(LAB)).length).to.equal(0);
    expect(existsSync(labStateDir(LAB))).to.equal(false);
    // Taps live only in the node container's network namespace; none may show up on the host.
    const links = await execa('ip', ['-o', 'link', 'show', 'type', 'tun'], { reject: false });
    expect(links.stdout).to.not.match(/\btap[0-9]+\b.*dev-vm/);
  });
});
