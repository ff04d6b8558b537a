// erd, the Ethernet redundancy daemon (thesis 003 §3.16.2): watches the carrier of the node's
// NICs (on every kernel link event, and every pollMs as a safety net: link-watch.ts); when one
// loses its link, that network's route is moved onto a NIC that still has one (onlink: Linux
// answers ARP for any local address on any interface, so peers on the other LAN still reach this
// node), and moved back when the link returns. Addresses to carry
// (a master's VIP) move with it. Every switch is an event in /var/log/halab/events.jsonl.
import { appendFileSync, readFileSync } from 'node:fs';
import { IpBatch } from './ip-batch.ts';
import { watchLinks } from './link-watch.ts';

interface Nic {
  ifname: string;
  network: string;
  subnet: string;
  address: string;
  prefixLength: number;
}
interface Config {
  node: string;
  /** Safety poll period; link changes are acted on as the kernel announces them. */
  pollMs: number;
  nics: Nic[];
}

const EVENTS = '/var/log/halab/events.jsonl';
const now = () => performance.timeOrigin + performance.now();

function event(node: string, type: string, data: Record<string, unknown>): void {
  appendFileSync(EVENTS, JSON.stringify({ t: now(), node, source: 'erd', type, data }) + '\n');
}

function carrier(ifname: string): boolean {
  try {
    return readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim() === '1';
  } catch {
    return false; // reading carrier of a down interface fails with EINVAL
  }
}

function main(): void {
  const cfg = JSON.parse(readFileSync(process.argv[2] ?? '/etc/halab/erd.json', 'utf8')) as Config;
  // Every NIC counts as up until the first check: one already without a link when erd starts
  // (cable pulled during a deploy, or erd restarted mid-fault) then gets its route moved too.
  const up = new Map(cfg.nics.map((n) => [n.ifname, true]));
  /** network → the NIC currently carrying it, when not its own */
  const movedTo = new Map<string, string>();
  event(cfg.node, 'start', { nics: cfg.nics.map((n) => n.ifname), pollMs: cfg.pollMs });
  // ip: false when it failed (a 'del' of a route the kernel already dropped fails harmlessly, a
  // failed 'replace' means the failover did not happen and is reported in the event).
  const batch = new IpBatch();
  const ip = (args: string[]) => batch.run(args);
  const checkOnce = async () => {
    for (const nic of cfg.nics) {
      const isUp = carrier(nic.ifname);
      if (isUp === up.get(nic.ifname)) continue;
      const t0 = now();
      up.set(nic.ifname, isUp);
      event(cfg.node, 'link', { ifname: nic.ifname, network: nic.network, link: isUp ? 'up' : 'down' });
      if (!isUp) {
        const spare = cfg.nics.find((o) => o !== nic && up.get(o.ifname));
        if (!spare) continue;
        // One command, not a del then a replace: replace matches the subnet's route by prefix and
        // metric whatever its device. The del stays as the fallback. No 'onlink': for a device
        // route without a gateway the kernel refuses it ("PERVASIVE and ONLINK").
        const to = ['route', 'replace', nic.subnet, 'dev', spare.ifname, 'src', spare.address];
        const routed = (await ip(to)) || ((await ip(['route', 'del', nic.subnet, 'dev', nic.ifname])), await ip(to));
        movedTo.set(nic.network, spare.ifname);
        event(cfg.node, 'failover', { network: nic.network, from: nic.ifname, to: spare.ifname, ms: now() - t0, routed });
      } else if (movedTo.has(nic.network)) {
        const via = movedTo.get(nic.network)!;
        const back = ['route', 'replace', nic.subnet, 'dev', nic.ifname, 'proto', 'kernel', 'scope', 'link', 'src', nic.address];
        if (!(await ip(back))) (await ip(['route', 'del', nic.subnet, 'dev', via]), await ip(back));
        movedTo.delete(nic.network);
        event(cfg.node, 'failback', { network: nic.network, from: via, to: nic.ifname, ms: now() - t0 });
      }
    }
  };
  // One check at a time: a link event during a route move is looked at after it.
  let running: Promise<void> = Promise.resolve();
  const check = () => {
    running = running.then(checkOnce, checkOnce);
  };
  watchLinks(check, cfg.pollMs);
  check();
}

if (process.argv[1]?.endsWith('erd.mjs')) main();
