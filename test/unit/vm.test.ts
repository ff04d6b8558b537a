// Pure parts of the VM backend: the QEMU command line, the guest set-up script, disk cache names.
import { expect } from 'chai';
import { netdevId, qemuArgv, VM_PATHS } from '../../lab/backends/vm/qemu.ts';
import { guestSetupScript } from '../../lab/backends/vm/vm-backend.ts';
import { diskFileName } from '../../lab/backends/vm/disk.ts';

const after = (argv: string[], flag: string) => argv.filter((_, i) => argv[i - 1] === flag);

describe('VM backend: QEMU command line', () => {
  const argv = qemuArgv({ name: 'm1', id: 'has-vm-m1', memoryMiB: 256, nics: 2 });

  it('is TCG with one vCPU, the asked RAM, no display, no reboot', () => {
    expect(argv[0]).to.equal('qemu-system-x86_64');
    expect(after(argv, '-accel')).to.deep.equal(['tcg,tb-size=32']);
    expect(after(argv, '-smp')).to.deep.equal(['1']);
    expect(after(argv, '-m')).to.deep.equal(['256']);
    expect(argv).to.include('-no-reboot');
    expect(after(argv, '-display')).to.deep.equal(['none']);
    expect(after(argv, '-name')).to.deep.equal(['has-vm-m1']);
    expect(argv.join(' ')).to.not.match(/kvm/);
  });

  it('boots the Debian kernel + initramfs from the overlay disk, hostname on the command line', () => {
    expect(after(argv, '-kernel')).to.deep.equal([VM_PATHS.kernel]);
    expect(after(argv, '-initrd')).to.deep.equal([VM_PATHS.initrd]);
    expect(after(argv, '-append')[0]).to.include('halab.hostname=m1');
    expect(after(argv, '-drive')[0]).to.include(`file=${VM_PATHS.overlay}`);
  });

  it('gives one tap NIC per lab NIC, in order, with the container NIC\'s MAC and consecutive PCI slots', () => {
    const netdevs = after(argv, '-netdev');
    expect(netdevs).to.deep.equal([
      'tap,id=n0,ifname=tap0,script=no,downscript=no',
      'tap,id=n1,ifname=tap1,script=no,downscript=no',
    ]);
    const nics = after(argv, '-device').filter((d) => d.startsWith('virtio-net-pci'));
    expect(nics).to.deep.equal([
      'virtio-net-pci,netdev=n0,mac=@ETH0_MAC@,romfile=,addr=0x10',
      'virtio-net-pci,netdev=n1,mac=@ETH1_MAC@,romfile=,addr=0x11',
    ]);
    expect(netdevId(1)).to.equal('n1');
  });

  it('has the QMP socket and the agent port', () => {
    expect(after(argv, '-qmp')).to.deep.equal([`unix:${VM_PATHS.qmp},server=on,wait=off`]);
    expect(argv.join(' ')).to.include('virtserialport,bus=vser.0,chardev=agent,name=halab.agent');
  });

  it('refuses bad names, too little memory and too many NICs', () => {
    expect(() => qemuArgv({ name: 'a b', memoryMiB: 256, nics: 1 })).to.throw(/bad VM name/);
    expect(() => qemuArgv({ name: 'a', memoryMiB: 32, nics: 1 })).to.throw(/96 MiB/);
    expect(() => qemuArgv({ name: 'a', memoryMiB: 128, nics: 9 })).to.throw(/NICs/);
  });

  it('passes a per-VM wall clock (-rtc base=)', () => {
    expect(after(qemuArgv({ name: 'a', memoryMiB: 128, nics: 0, rtcBase: '2020-01-01T00:00:00' }), '-rtc')).to.deep.equal([
      'base=2020-01-01T00:00:00',
    ]);
  });
});

describe('VM backend: guest set-up and disk cache', () => {
  it('sets hosts, hostname and every NIC address', () => {
    const s = guestSetupScript({
      name: 'm1',
      nics: [
        { ifname: 'eth0', address: '198.18.216.10', prefixLength: 24 },
        { ifname: 'eth1', address: '198.18.217.10', prefixLength: 24 },
      ],
      hosts: [['m1', '198.18.216.10'], ['web-1', '198.18.216.11']],
      env: {},
      memoryMiB: 256,
    });
    expect(s).to.include('198.18.216.11\tweb-1');
    expect(s).to.include('hostname m1');
    expect(s).to.include('ip addr replace 198.18.216.10/24 dev eth0');
    expect(s).to.include('ip addr replace 198.18.217.10/24 dev eth1');
    expect(s.indexOf('ip link set dev eth0 up')).to.be.lessThan(s.indexOf('ip addr replace 198.18.216.10'));
  });

  it('names disks after the image and both image ids', () => {
    const a = diskFileName('halab/master', 'sha256:aa', 'sha256:vm1');
    expect(a).to.match(/^master-[0-9a-f]{16}\.ext4$/);
    expect(diskFileName('halab/master', 'sha256:aa', 'sha256:vm1')).to.equal(a);
    expect(diskFileName('halab/master', 'sha256:ab', 'sha256:vm1')).to.not.equal(a);
    expect(diskFileName('halab/master', 'sha256:aa', 'sha256:vm2')).to.not.equal(a);
  });
});

describe('VM backend: guest clock shift', () => {
  it('moves the clock relative to the guest\'s own reading, in nanoseconds, either way', async () => {
    const { shiftClockScript } = await import('../../lab/backends/vm/guest-exec.ts');
    expect(shiftClockScript(1500.25)).to.include('+ (1500250000)');
    expect(shiftClockScript(-2)).to.include('+ (-2000000)');
    // Run the real script with `date` stubbed: it reads the clock once and sets SEC.NSEC (nine digits).
    const { execa } = await import('execa');
    const stub = 'date() { case "$1" in +%s%N) echo 1700000000100000000 ;; -s) echo "$2" >&2 ;; esac; }; ';
    const r = await execa('sh', ['-c', stub + shiftClockScript(-250)]);
    expect(r.stderr).to.equal('@1699999999.850000000');
  });
});

describe('vm-failover bench: container twin and trials', () => {
  const text = `name: x
networks: { lan1: { subnet: 198.18.150.0/24 } }
kinds:
  master: { image: halab/master, backend: vm, nics: [lan1] }   # the VM masters
  web: { image: halab/traffic, nics: [lan1] }
nodes:
  m1: { kind: master }
  m2: { kind: master, backend: vm }
  w: { kind: web, backend: container }
`;
  it('turns every backend: vm into container and keeps the rest (comments included)', async () => {
    const { containerTwin } = await import('../../benchmarks/vm-failover/twin.ts');
    const { analyseTopology } = await import('../../lab/topology/index.ts');
    const t = containerTwin(text);
    expect(t.replaced).to.equal(2);
    expect(t.text).to.include('# the VM masters');
    const vm = analyseTopology(text, 'x.yaml').plan;
    const ct = analyseTopology(t.text, 'twin.yaml').plan;
    expect(vm.nodes.filter((n) => n.backend === 'vm').map((n) => n.name)).to.deep.equal(['m1', 'm2']);
    expect(ct.nodes.every((n) => n.backend === 'container')).to.equal(true);
    const strip = (p: typeof vm) => p.nodes.map(({ backend: _b, ...n }) => n);
    expect(strip(ct)).to.deep.equal(strip(vm));
    expect(ct.lab).to.equal(vm.lab);
  });

  it('repeats the scenario\'s fault N times, stretching the workload to keep its tail', async () => {
    const { withTrials } = await import('../../benchmarks/vm-failover/bench.ts');
    const s = {
      name: 's', file: 's.yaml', topology: 't.yaml', seed: 1, thresholds: [],
      workload: { url: 'http://{vip}/', intervalMs: 10, timeoutMs: 300 },
      duration: 200,
      timeline: [{ at: 4, fault: 'node-kill', target: 'master:active', duration: 8, repeat: 3, every: 90, params: {} }],
    };
    const five = withTrials(s, 5);
    expect(five.timeline[0]!.repeat).to.equal(5);
    // last window ended at 4 + 2·90 + 8 = 192 (tail 8 s); now 4 + 4·90 + 8 = 372, + 8.
    expect(five.duration).to.equal(380);
    expect(withTrials(s, 1).duration).to.equal(20);
    expect(() => withTrials({ ...s, timeline: [...s.timeline, s.timeline[0]!] }, 2)).to.throw(/one fault/);
  });
});
