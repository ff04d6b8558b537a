// Pure logic of the HAS balancer, shared by the deploy code (host) and the traffic manager daemon
// (bundled into the masters): the nftables direct-routing table, the bucket assignment from
// weights, and the load index. No I/O here, so it is unit-tested directly.
//
// The table (LVS-DR rebuilt with nftables, see ../../../../../shared/notes/nft-dr.md, variant C):
//   netdev ingress on the master's VIP-side NIC; for TCP to VIP:{80,443} addressed to this NIC
//   (`meta pkttype host`, so a flooded frame or the standby's copy is never forwarded twice):
//     a SYN (a new connection) first deletes conn[saddr . sport]: a client reuses its ports
//                            within the map's timeout, and a reused port must not inherit the old
//                            flow's node, which may since have been removed or died
//     mark := bucket[jhash(saddr . sport) mod N, fixed seed]  → traffic-node id
//     conn[saddr . sport] := mark, unless the flow is already there (sticky: weight changes and
//                            quiescence (weight 0) only steer NEW connections, old ones drain)
//     mark := conn[saddr . sport]
//     mark → chain rs<id>: ether saddr := own MAC, ether daddr := node MAC, fwd out the same NIC.
//   The traffic node holds the VIP on lo with ARP suppressed and answers the client directly.
// Both masters load the same table (same seed, same bucket map computed by the same pure
// function from the same reports), so after a VIP move a flow hashes to the same node.

export const DR_TABLE = 'halab_dr';

export interface DrNode {
  /** 1-based id, the packet mark of the node's chain. */
  id: number;
  name: string;
  /** MAC of the node's NIC on the VIP network. */
  mac: string;
  /** Every way to reach the node, the VIP network's first (see DrPath). */
  paths?: DrPath[];
}

/**
 * One way from a master to a traffic node: out of the master's NIC `device` on `network`, to the
 * node's NIC there (`mac`, `address`). The table forwards over the VIP network's path; when the
 * node reports its NIC on that network down, the traffic manager points the node's chain at the
 * next path whose network is up (the thesis's traffic node keeps serving over its other NIC).
 */
export interface DrPath {
  network: string;
  device: string;
  mac: string;
  address: string;
}

/** The path to use for a node: the first whose network it does not report down (else the first). */
export function pickPath(paths: DrPath[], down: readonly string[]): DrPath | undefined {
  return paths.find((p) => !down.includes(p.network)) ?? paths[0];
}

/** A node chain's one rule: rewrite the MACs (source `src`: a MAC or an expression) and send the frame out `device`. */
function forwardRule(src: string, mac: string, device: string): string {
  return `counter ether saddr set ${src} ether daddr set ${mac} fwd to "${device}"`;
}

/** Replace a node's chain so its flows leave out `path.device` to `path.mac` (source `srcMac`). */
export function nodeChainScript(id: number, srcMac: string, path: Pick<DrPath, 'device' | 'mac'>): string {
  return `flush chain netdev ${DR_TABLE} rs${id}\nadd rule netdev ${DR_TABLE} rs${id} ${forwardRule(srcMac, path.mac, path.device)}\n`;
}

export interface DrTableSpec {
  /** Master's NIC on the VIP network (ingress hook device). */
  device: string;
  vip: string;
  ports: number[];
  buckets: number;
  seed: number;
  connTimeoutSeconds: number;
  nodes: DrNode[];
  /** bucket index → node id (length = buckets). */
  assignment: number[];
}

const hex = (n: number) => '0x' + (n >>> 0).toString(16);

/** The whole table as one `nft -f` script (replaces any previous copy atomically). */
export function drTableScript(s: DrTableSpec): string {
  if (s.assignment.length !== s.buckets) throw new Error(`assignment has ${s.assignment.length} buckets, expected ${s.buckets}`);
  const chains = s.nodes
    // the frame came in to the master's own MAC on this device: that is the new source
    .map((n) => `  chain rs${n.id} {\n    ${forwardRule('ether daddr', n.mac, s.device)}\n  }`)
    .join('\n');
  const vmap = s.nodes.map((n) => `${n.id} : jump rs${n.id}`).join(', ');
  return [
    `table netdev ${DR_TABLE}`,
    `delete table netdev ${DR_TABLE}`,
    `table netdev ${DR_TABLE} {`,
    `  map bucket {`,
    `    typeof numgen inc mod ${s.buckets} : meta mark`,
    `    elements = { ${bucketElements(s.assignment)} }`,
    `  }`,
    `  map conn {`,
    `    typeof ip saddr . tcp sport : meta mark`,
    `    size 262144`,
    `    flags timeout`,
    `    timeout ${s.connTimeoutSeconds}s`,
    `  }`,
    `  chain ingress {`,
    `    type filter hook ingress device "${s.device}" priority -500; policy accept;`,
    `    meta pkttype host ip daddr ${s.vip} tcp dport { ${s.ports.join(', ')} } jump lb`,
    `  }`,
    `  chain lb {`,
    // A map's delete statement needs a value, which the kernel ignores: it deletes by key.
    `    tcp flags & (syn | ack) == syn delete @conn { ip saddr . tcp sport : meta mark }`,
    `    meta mark set jhash ip saddr . tcp sport mod ${s.buckets} seed ${hex(s.seed)} map @bucket`,
    `    update @conn { ip saddr . tcp sport : meta mark }`,
    `    meta mark set ip saddr . tcp sport map @conn`,
    `    counter meta mark vmap { ${vmap} }`,
    `  }`,
    chains,
    `}`,
    '',
  ].join('\n');
}

function bucketElements(assignment: number[]): string {
  return assignment.map((id, b) => `${b} : ${id}`).join(', ');
}

/** Atomic replacement of the bucket map (one transaction: flush + add). */
export function bucketMapScript(assignment: number[]): string {
  return `flush map netdev ${DR_TABLE} bucket\nadd element netdev ${DR_TABLE} bucket { ${bucketElements(assignment)} }\n`;
}

/** Bucket counts per node from weights: largest remainder, deterministic ties (by id). */
export function bucketCounts(weights: { id: number; weight: number }[], buckets: number): Map<number, number> {
  const live = weights.filter((w) => w.weight > 0 && Number.isFinite(w.weight));
  const out = new Map<number, number>(weights.map((w) => [w.id, 0]));
  const total = live.reduce((a, w) => a + w.weight, 0);
  if (total <= 0) return out;
  const shares = live.map((w) => ({ id: w.id, exact: (buckets * w.weight) / total }));
  let given = 0;
  for (const s of shares) {
    const c = Math.floor(s.exact);
    out.set(s.id, c);
    given += c;
  }
  const order = [...shares].sort((a, b) => b.exact - Math.floor(b.exact) - (a.exact - Math.floor(a.exact)) || a.id - b.id);
  for (let i = 0; given < buckets; i = (i + 1) % order.length, given++) {
    out.set(order[i]!.id, out.get(order[i]!.id)! + 1);
  }
  return out;
}

/** 32-bit FNV-1a of a few integers: a stable per (bucket, node) score. */
function score(seed: number, bucket: number, id: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (const v of [bucket, id, bucket * 31 + id]) {
    for (let k = 0; k < 4; k++) {
      h ^= (v >>> (8 * k)) & 255;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h >>> 0;
}

/**
 * bucket → node id, a pure function of the counts (so both masters compute the same map).
 * Rendezvous-style: each bucket prefers nodes in its own score order and takes the first one with
 * quota left, so a small change of counts moves few buckets.
 */
export function assignBuckets(counts: Map<number, number>, buckets: number, seed = 0x5eed): number[] {
  const left = new Map(counts);
  const ids = [...counts.keys()].sort((a, b) => a - b);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (total !== buckets) throw new Error(`counts sum to ${total}, expected ${buckets}`);
  const out = new Array<number>(buckets);
  for (let b = 0; b < buckets; b++) {
    const ranked = ids.filter((id) => left.get(id)! > 0).sort((x, y) => score(seed, b, y) - score(seed, b, x) || x - y);
    const pick = ranked[0]!;
    out[b] = pick;
    left.set(pick, left.get(pick)! - 1);
  }
  return out;
}

export interface NodeLoad {
  /** CPU cap of the node in cores (1 when uncapped). */
  cpus: number;
  /** CPU used over the last period as a fraction of the cap. */
  cpuUse: number;
  /** Memory used as a fraction of the limit. */
  memUse: number;
}

/**
 * The load index (higher = more spare capacity), our version of the thesis's
 * Load_a = BogoMIPS_a × MemFree_a / RAM_min (003 §3.22.6): BogoMIPS (the node's speed) becomes
 * the node's CPU cap in cores, and since a capped container's speed is only worth what is left
 * of it, it is scaled by the spare share of that cap; MemFree / RAM_min becomes the spare share
 * of the node's memory limit. Each spare share is floored at 5 % so a saturated node keeps a
 * trickle of new connections (and a fresh measurement) rather than dropping out.
 *   index = 1000 × cpus × max(0.05, 1 − cpuUse) × max(0.05, 1 − memUse)
 */
export function loadIndex(l: NodeLoad): number {
  const spare = (x: number) => Math.max(0.05, Math.min(1, 1 - (Number.isFinite(x) ? x : 0)));
  return Math.round(1000 * l.cpus * spare(l.cpuUse) * spare(l.memUse));
}
