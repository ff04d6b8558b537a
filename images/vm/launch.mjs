// Entry of a VM node's container (runs under docker-init). It
//  1. wires each lab NIC ethN of the container to a tap tapN with tc mirred in both directions
//     (as vrnetlab does), after removing ethN's addresses: the guest's NIC N, with ethN's MAC,
//     answers for the planned address on the same Docker lab network;
//  2. relays the guest agent's virtio-serial port (one QEMU chardev connection held for the
//     VM's life) to a unix socket that any number of host clients may use at once;
//  3. runs QEMU (argv from halab's qemu.ts; @ETHn_MAC@ replaced by ethN's MAC) and exits with it.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';

const RUN = '/run/halab';
const argv = process.argv.slice(2);
const nics = Number(process.env.HALAB_VM_NICS ?? '0');
mkdirSync(RUN, { recursive: true });

const sh = (cmd, args, ok = false) => {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    if (!ok) throw new Error(`${cmd} ${args.join(' ')}: ${e.stderr}`);
  }
};
const macs = [];
for (let i = 0; i < nics; i++) {
  const eth = `eth${i}`;
  const tap = `tap${i}`;
  macs.push(readFileSync(`/sys/class/net/${eth}/address`, 'utf8').trim());
  const mtu = readFileSync(`/sys/class/net/${eth}/mtu`, 'utf8').trim();
  sh('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap'], true);
  sh('ip', ['link', 'set', 'dev', tap, 'mtu', mtu, 'up']);
  sh('ip', ['addr', 'flush', 'dev', eth]);
  for (const [from, to] of [[eth, tap], [tap, eth]]) {
    sh('tc', ['qdisc', 'del', 'dev', from, 'ingress'], true);
    sh('tc', ['qdisc', 'add', 'dev', from, 'ingress']);
    sh('tc', ['filter', 'add', 'dev', from, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0',
      'action', 'mirred', 'egress', 'redirect', 'dev', to]);
  }
}

// Agent relay: guest answers carry the request id; each goes back to the client that asked.
const owners = new Map();
let upstream;
let queue = [];
function connectUp() {
  const s = net.connect(`${RUN}/agent-qemu.sock`);
  s.on('connect', () => {
    upstream = s;
    for (const l of queue) s.write(l);
    queue = [];
  });
  // readline re-emits its input's errors (Node ≥ 16): a connect that races QEMU creating the
  // socket must not crash the launcher, only retry.
  createInterface({ input: s }).on('error', () => {}).on('line', (line) => {
    const id = /"id":"([^"]+)"/.exec(line)?.[1];
    const c = id && owners.get(id);
    if (c) {
      owners.delete(id);
      c.write(line + '\n');
    }
  });
  s.on('error', () => {});
  s.on('close', () => {
    if (upstream === s) upstream = undefined;
    if (!stopping) setTimeout(connectUp, 100);
  });
}
rmSync(`${RUN}/agent.sock`, { force: true });
net
  .createServer((c) => {
    c.on('error', () => {});
    createInterface({ input: c }).on('error', () => {}).on('line', (line) => {
      const id = /"id":"([^"]+)"/.exec(line)?.[1];
      if (!id) return;
      owners.set(id, c);
      if (upstream) upstream.write(line + '\n');
      else queue.push(line + '\n');
    });
    c.on('close', () => {
      for (const [id, o] of owners) if (o === c) owners.delete(id);
    });
  })
  .listen(`${RUN}/agent.sock`);

// The node's own writable disk: a qcow2 overlay on the shared, read-only role disk, kept in the
// container's writable layer (survives stop/start like a container's filesystem; gone with it).
const overlay = '/var/lib/halab-vm/disk.qcow2';
if (process.env.HALAB_VM_DISK) {
  mkdirSync('/var/lib/halab-vm', { recursive: true });
  if (!existsSync(overlay)) sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', process.env.HALAB_VM_DISK, overlay]);
}

let stopping = false;
const args = argv.map((a) => a.replace(/@ETH(\d+)_MAC@/g, (_, n) => macs[Number(n)] ?? ''));
const qemu = spawn(args[0], args.slice(1), { stdio: 'inherit' });
setTimeout(connectUp, 50);
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => ((stopping = true), qemu.kill(sig)));
qemu.on('exit', (code, signal) => {
  stopping = true;
  console.error(`halab-vm: qemu exited (${signal ?? code})`);
  process.exit(code ?? 1);
});
