// The QEMU command line of a VM node (pure: no I/O, unit-tested). It runs inside the node's
// container (image halab/vm), where launch.mjs has made tapN for every lab NIC ethN and replaces
// @ETHn_MAC@ with ethN's MAC, so the guest's NIC N answers with the container NIC's identity.

/** Paths inside the halab/vm container. */
export const VM_PATHS = {
  kernel: '/opt/halab-vm/vmlinuz',
  initrd: '/opt/halab-vm/initrd.gz',
  /** The shared read-only role disk (bind-mounted from the host's cache). */
  baseDisk: '/vm/disk.ext4',
  /** The node's own qcow2 overlay (created by launch.mjs in the container's writable layer). */
  overlay: '/var/lib/halab-vm/disk.qcow2',
  runDir: '/run/halab',
  qmp: '/run/halab/qmp.sock',
  /** What the host talks to (launch.mjs's relay); agent-qemu.sock is QEMU's own end. */
  agent: '/run/halab/agent.sock',
  agentQemu: '/run/halab/agent-qemu.sock',
  console: '/run/halab/console.log',
} as const;

export interface QemuSpec {
  /** Node name: the guest's hostname. */
  name: string;
  /** QEMU's -name (default: name); halab uses the container name <lab>-<node>, so a host process list tells labs apart. */
  id?: string;
  /** Guest RAM in MiB (TCG: keep it small; 256 is the default). */
  memoryMiB: number;
  /** Number of lab NICs (eth0 … ethN-1 in the container = in the guest, same order). */
  nics: number;
  /** Virtual CPUs (1 unless asked: MTTCG on 2 shared cores gains nothing). */
  vcpus?: number;
  /** TCG translation cache in MiB (32 saves ~20 MiB RSS against the default; measured in the env note). */
  tbSizeMiB?: number;
  /** Guest wall clock start (QEMU -rtc base=), for per-VM clock skew. */
  rtcBase?: string;
  /** Extra kernel command line. */
  append?: string;
}

/** Netdev id of lab NIC i (the name QMP set_link takes). */
export const netdevId = (i: number) => `n${i}`;

/** PCI slot of lab NIC i: NICs get consecutive slots after the disk so the guest names them eth0, eth1, … in order. */
const nicSlot = (i: number) => `0x${(0x10 + i).toString(16)}`;

export function qemuArgv(spec: QemuSpec): string[] {
  for (const n of [spec.name, spec.id ?? spec.name]) if (!/^[a-z0-9][a-z0-9.-]*$/i.test(n)) throw new Error(`bad VM name '${n}'`);
  if (!(spec.memoryMiB >= 96)) throw new Error(`VM ${spec.name}: at least 96 MiB of memory is needed (got ${spec.memoryMiB})`);
  if (spec.nics < 0 || spec.nics > 8) throw new Error(`VM ${spec.name}: 0–8 NICs, not ${spec.nics}`);
  const append = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    'net.ifnames=0',
    'biosdevname=0',
    'tsc=reliable',
    'no_timer_check',
    // No Spectre/retpoline mitigations: every guest syscall is emulated (TCG), and this guest runs only lab code.
    'mitigations=off',
    `halab.hostname=${spec.name}`,
    ...(spec.append ? [spec.append] : []),
  ].join(' ');
  const argv = [
    'qemu-system-x86_64',
    '-name', spec.id ?? spec.name,
    '-machine', 'pc',
    '-accel', `tcg,tb-size=${spec.tbSizeMiB ?? 32}`,
    '-smp', String(spec.vcpus ?? 1),
    '-m', String(spec.memoryMiB),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-vga', 'none',
    '-no-reboot',
    '-kernel', VM_PATHS.kernel,
    '-initrd', VM_PATHS.initrd,
    '-append', append,
    '-chardev', `file,id=con,path=${VM_PATHS.console}`,
    '-serial', 'chardev:con',
    '-drive', `file=${VM_PATHS.overlay},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=root,addr=0x4',
    '-device', 'virtio-rng-pci,addr=0x5',
    '-device', 'virtio-serial-pci,id=vser,addr=0x6',
    '-chardev', `socket,id=agent,path=${VM_PATHS.agentQemu},server=on,wait=off`,
    '-device', 'virtserialport,bus=vser.0,chardev=agent,name=halab.agent',
    '-qmp', `unix:${VM_PATHS.qmp},server=on,wait=off`,
  ];
  if (spec.rtcBase) argv.push('-rtc', `base=${spec.rtcBase}`);
  for (let i = 0; i < spec.nics; i++) {
    argv.push(
      '-netdev', `tap,id=${netdevId(i)},ifname=tap${i},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=${netdevId(i)},mac=@ETH${i}_MAC@,romfile=,addr=${nicSlot(i)}`,
    );
  }
  return argv;
}
