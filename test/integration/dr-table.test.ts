// The HAS balancer's nft direct-routing table in the real kernel, without a lab: two network
// namespaces joined by a veth pair, the table on the balancer's end, SYNs sent from the client's
// end. Checks the connection map: a client port reused after its node left the bucket map goes to
// a node that is in it. (Before, every port the probe had used in the last 300 s stayed on its old
// node: after a traffic node died, a quarter of new connections still went to it.)
import { expect } from 'chai';
import { execa } from 'execa';
import { bucketMapScript, drTableScript, type DrTableSpec } from '../../lab/stacks/has/daemons/dr-table.ts';
import { testBackend } from './helpers.ts';

const tag = `halab-drt-${process.pid}`;
const CLIENT_NS = `${tag}-c`;
const BALANCER_NS = `${tag}-b`;
const CLIENT_IP = '198.18.254.2';
const BALANCER_IP = '198.18.254.1';
const VIP = '198.18.254.100';

const ip = (...args: string[]) => execa('ip', args);
const inNs = (ns: string, cmd: string, args: string[], input?: string) => execa('ip', ['netns', 'exec', ns, cmd, ...args], { input });

/** One SYN from the client's `port` to the VIP (nothing answers it: the frame is forwarded to a MAC no one has). */
async function synFrom(port: number): Promise<void> {
  const script = `const s = require('node:net').connect({ host: '${VIP}', port: 80, localPort: ${port} });
s.on('error', () => {}); setTimeout(() => { s.destroy(); process.exit(0); }, 300);`;
  await inNs(CLIENT_NS, process.execPath, ['-e', script]);
}

/** nft -j's element of a map with timeouts: [{elem: {val: {concat: [address, port]}, expires}}, value]. */
type ConnElement = [{ elem: { val: { concat: [string, number] } } }, number];

/** The connection map's node id (packet mark) for the client's port, if it has an entry. */
async function connMark(port: number): Promise<number | undefined> {
  const r = await inNs(BALANCER_NS, 'nft', ['-j', 'list', 'map', 'netdev', 'halab_dr', 'conn']);
  const map = (JSON.parse(r.stdout) as { nftables: { map?: { elem?: ConnElement[] } }[] }).nftables.find((x) => x.map)?.map;
  const hit = (map?.elem ?? []).find(([k]) => k.elem.val.concat[0] === CLIENT_IP && k.elem.val.concat[1] === port);
  return hit?.[1];
}

describe('HAS balancer DR table in the kernel (netns)', function () {
  this.timeout(60_000);
  let spec: DrTableSpec;

  before(async () => {
    await testBackend(); // installs nftables and iproute2 when missing, as `halab up` does
    await ip('netns', 'add', CLIENT_NS);
    await ip('netns', 'add', BALANCER_NS);
    await ip('link', 'add', `${tag.slice(-8)}c`, 'netns', CLIENT_NS, 'type', 'veth', 'peer', 'name', `${tag.slice(-8)}b`, 'netns', BALANCER_NS);
    await inNs(CLIENT_NS, 'ip', ['link', 'set', `${tag.slice(-8)}c`, 'name', 'eth0']);
    await inNs(BALANCER_NS, 'ip', ['link', 'set', `${tag.slice(-8)}b`, 'name', 'eth0']);
    await inNs(CLIENT_NS, 'sh', ['-c', `ip addr add ${CLIENT_IP}/24 dev eth0 && ip link set eth0 up && ip link set lo up`]);
    await inNs(BALANCER_NS, 'sh', ['-c', `ip addr add ${BALANCER_IP}/24 dev eth0 && ip link set eth0 up`]);
    // The balancer holds the VIP in a real lab; here the client is told its MAC directly.
    const mac = (await inNs(BALANCER_NS, 'cat', ['/sys/class/net/eth0/address'])).stdout.trim();
    await inNs(CLIENT_NS, 'ip', ['neigh', 'replace', VIP, 'lladdr', mac, 'dev', 'eth0']);
    spec = {
      device: 'eth0',
      vip: VIP,
      ports: [80, 443],
      buckets: 8,
      seed: 0x5eed,
      connTimeoutSeconds: 300,
      nodes: [
        { id: 1, name: 'web-1', mac: '02:00:c6:12:fe:0b' },
        { id: 2, name: 'web-2', mac: '02:00:c6:12:fe:0c' },
      ],
      assignment: new Array<number>(8).fill(1),
    };
    await inNs(BALANCER_NS, 'nft', ['-f', '-'], drTableScript(spec).replace(/^delete table.*\n/m, ''));
  });

  after(async () => {
    await ip('netns', 'del', CLIENT_NS).catch(() => undefined);
    await ip('netns', 'del', BALANCER_NS).catch(() => undefined);
  });

  it('sends a new connection from a reused client port to a node of the current bucket map', async () => {
    const port = 40001;
    await synFrom(port);
    expect(await connMark(port), 'first connection: every bucket is web-1').to.equal(1);
    // web-1 leaves the map (removed or dead): every bucket now goes to web-2
    await inNs(BALANCER_NS, 'nft', ['-f', '-'], bucketMapScript(new Array<number>(8).fill(2)));
    await synFrom(port);
    expect(await connMark(port), 'the same port, a new connection').to.equal(2);
  });
});
