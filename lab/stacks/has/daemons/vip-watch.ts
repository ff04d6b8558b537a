// vip-watch: who holds a floating address, as the kernel says it (netlink, `ip -o monitor
// address`), for the "at most one VIP owner at any instant" invariant. keepalived's notify scripts
// say when VRRP changed state, but each runs as its own process and stamps its own time: scripts
// of quick transitions run concurrently and can finish out of order, so a MASTER→BACKUP flap was
// once recorded as BACKUP→MASTER and read as a 40 s overlap. Here one process reads the kernel's
// address events in order and stamps each as it arrives.
//
// Usage: node vip-watch.mjs NODE INSTANCE=ADDRESS [INSTANCE=ADDRESS …]
// Events: {t, node, source:'vip', type:'state', data:{state:'MASTER'|'BACKUP', instance, address, ifnames}}
// — MASTER while the address is on any of the node's interfaces (erd may move it between NICs).
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { parseAddressLine } from './address-events.ts';

const EVENTS = '/var/log/halab/events.jsonl';
const READY = '/run/halab/vip-watch.ready';
const now = () => performance.timeOrigin + performance.now();

function main(): void {
  const [node, ...pairs] = process.argv.slice(2);
  if (!node || !pairs.length) throw new Error('usage: vip-watch NODE INSTANCE=ADDRESS …');
  const instanceOf = new Map(pairs.map((p) => [p.split('=')[1]!, p.split('=')[0]!]));
  /** address → the interfaces holding it now */
  const held = new Map<string, Set<string>>([...instanceOf.keys()].map((a) => [a, new Set<string>()]));
  mkdirSync('/var/log/halab', { recursive: true });
  const emit = (address: string, initial: boolean) => {
    const ifnames = [...held.get(address)!].sort();
    const data = { state: ifnames.length ? 'MASTER' : 'BACKUP', instance: instanceOf.get(address), address, ifnames, ...(initial ? { initial } : {}) };
    appendFileSync(EVENTS, JSON.stringify({ t: now(), node, source: 'vip', type: 'state', data }) + '\n');
  };
  const apply = (line: string): string | undefined => {
    const ev = parseAddressLine(line);
    const set = ev && held.get(ev.address);
    if (!ev || !set) return undefined;
    const before = set.size > 0;
    if (ev.deleted) set.delete(ev.ifname);
    else set.add(ev.ifname);
    return before !== set.size > 0 ? ev.address : undefined;
  };
  // Subscribe first, then read what is there, so nothing falls between the two.
  const child = spawn('ip', ['-o', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const changed = apply(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if (changed) emit(changed, false);
    }
  });
  child.on('exit', (code) => {
    process.stderr.write(`vip-watch: ip monitor exited (${code}); exiting so the deploy restarts it\n`);
    process.exit(1);
  });
  for (const line of execFileSync('ip', ['-o', 'address', 'show'], { encoding: 'utf8' }).split('\n')) apply(line);
  for (const address of held.keys()) emit(address, true);
  // Subscribed and read: from now on no change is missed. The deploy waits for this before it
  // starts keepalived (a node process takes a few hundred ms to get here on a capped master).
  writeFileSync(READY, `${process.pid}\n`);
  const stop = () => {
    child.removeAllListeners('exit');
    child.kill();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
