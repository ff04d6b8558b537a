// Topology → LabPlan: kinds merged into nodes, counts expanded, subnets and addresses checked and
// given out deterministically. Problems go to `report` with the field's path.
import { AddressAllocator, contains, formatSubnet, fromInt, overlaps, parseIPv4, parseSubnet, placementProblem, toInt, type Subnet } from './addresses.ts';
import { parseMemory } from './schema.ts';
import type { FieldPath, Report } from './yaml-positions.ts';
import { BASE_IMAGE, type LabPlan, type NicSpec, type PlannedNetwork, type PlannedNode, type Topology } from './types.ts';

/** Capabilities every node gets: the stacks configure addresses, routes and nftables in nodes. */
const BASE_CAPABILITIES = ['NET_ADMIN', 'NET_RAW'];

interface NetInfo {
  name: string;
  subnet: Subnet;
  gateway: number;
  taken: Set<number>;
}

export function planTopology(topo: Topology, file: string | undefined, report: Report): LabPlan {
  // Networks: placement, prefix, gateway, overlaps.
  const nets = new Map<string, NetInfo>();
  for (const [name, spec] of Object.entries(topo.networks)) {
    const path: FieldPath = ['networks', name, 'subnet'];
    const subnet = parseSubnet(spec.subnet);
    if (!subnet) {
      report(path, `'${spec.subnet}' is not an IPv4 subnet like 198.18.1.0/24`);
      continue;
    }
    if (formatSubnet(subnet) !== spec.subnet) {
      report(path, `'${spec.subnet}' has host bits set; the network is ${formatSubnet(subnet)}`);
      continue;
    }
    const placement = placementProblem(spec.subnet, subnet);
    if (placement) {
      report(path, placement);
      continue;
    }
    if (subnet.prefix < 16 || subnet.prefix > 29) {
      report(path, `prefix /${subnet.prefix} is out of range: use /16 … /29`);
      continue;
    }
    const clash = [...nets.values()].find((n) => overlaps(n.subnet, subnet));
    if (clash) {
      report(path, `${spec.subnet} overlaps network '${clash.name}' (${formatSubnet(clash.subnet)})`);
      continue;
    }
    let gateway = subnet.base + 1;
    if (spec.gateway) {
      const gw = parseIPv4(spec.gateway);
      if (!gw || !contains(subnet, toInt(gw)) || toInt(gw) === subnet.base || toInt(gw) === subnet.base + subnet.size - 1) {
        report(['networks', name, 'gateway'], `gateway '${spec.gateway}' must be a host address of ${spec.subnet}`);
        continue;
      }
      gateway = toInt(gw);
    }
    nets.set(name, { name, subnet, gateway, taken: new Set([subnet.base, subnet.base + subnet.size - 1, gateway]) });
  }

  // The VIP: inside one network, never given to a node.
  let vip: string | undefined;
  if (topo.vip) {
    const ip = parseIPv4(topo.vip);
    const net = ip && [...nets.values()].find((n) => contains(n.subnet, toInt(ip)));
    if (!ip) report(['vip'], `'${topo.vip}' is not an IPv4 address`);
    else if (!net) report(['vip'], `${topo.vip} lies in none of the networks (${[...nets.values()].map((n) => formatSubnet(n.subnet)).join(', ')})`);
    else if (net.taken.has(toInt(ip))) report(['vip'], `${topo.vip} is the network, broadcast or gateway address of '${net.name}'`);
    else {
      net.taken.add(toInt(ip));
      vip = topo.vip;
    }
  }

  // Nodes: kinds merged, counts expanded, names unique.
  interface Pending {
    node: PlannedNode;
    nics: { spec: NicSpec; path: FieldPath }[];
    base: string;
  }
  const pending: Pending[] = [];
  const names = new Map<string, string>();
  for (const [base, spec] of Object.entries(topo.nodes)) {
    const kind = spec.kind ? topo.kinds[spec.kind] : undefined;
    if (spec.kind && !kind) {
      const known = Object.keys(topo.kinds);
      report(['nodes', base, 'kind'], `unknown kind '${spec.kind}'; ${known.length ? `kinds: ${known.join(', ')}` : 'no kinds are declared'}`);
      continue;
    }
    const nicsFrom: FieldPath = spec.nics ? ['nodes', base, 'nics'] : ['kinds', spec.kind ?? '', 'nics'];
    const nicSpecs = spec.nics ?? kind?.nics ?? [];
    if (nicSpecs.length === 0) {
      report(['nodes', base], `node '${base}' has no NICs: give it (or its kind) nics: [<network>, …]`);
      continue;
    }
    const seen = new Set<string>();
    let bad = false;
    nicSpecs.forEach((nic, i) => {
      const network = typeof nic === 'string' ? nic : nic.network;
      const path = [...nicsFrom, i];
      if (!topo.networks[network]) {
        report(path, `unknown network '${network}'; networks: ${Object.keys(topo.networks).join(', ') || '(none)'}`);
        bad = true;
      } else if (seen.has(network)) {
        report(path, `network '${network}' appears twice on node '${base}': one NIC per network`);
        bad = true;
      }
      seen.add(network);
    });
    const fixed = nicSpecs.findIndex((n) => typeof n !== 'string' && n.address);
    if (spec.count !== undefined && fixed >= 0) {
      report([...nicsFrom, fixed, 'address'], `node '${base}' has a count: a fixed address would be given to every copy`);
      bad = true;
    }
    if (bad) continue;
    const count = spec.count;
    const instances = count === undefined ? [base] : Array.from({ length: count }, (_, i) => `${base}-${i + 1}`);
    const memory = spec.memory ?? kind?.memory;
    const backend = spec.backend ?? kind?.backend ?? 'container';
    const devices = [...new Set([...(kind?.devices ?? []), ...(spec.devices ?? [])])];
    if (backend === 'vm' && devices.length) {
      // A VM's guest has its own kernel and devices; the host's are not passed into it.
      report(spec.devices ? ['nodes', base, 'devices'] : ['kinds', spec.kind ?? '', 'devices'], `devices are for container nodes; node '${base}' is a vm`);
      continue;
    }
    for (const name of instances) {
      const other = names.get(name);
      if (other !== undefined) {
        report(count ? ['nodes', base, 'count'] : ['nodes', base], `node name '${name}' clashes with node '${other}'`, !count);
        continue;
      }
      names.set(name, base);
      pending.push({
        base,
        nics: nicSpecs.map((s, i) => ({ spec: s, path: [...nicsFrom, i] })),
        node: {
          name,
          kind: spec.kind,
          role: spec.role ?? kind?.role ?? spec.kind ?? base,
          image: spec.image ?? kind?.image ?? BASE_IMAGE,
          backend,
          nics: [],
          cpus: spec.cpus ?? kind?.cpus,
          memoryBytes: memory === undefined ? undefined : parseMemory(memory),
          capabilities: [...new Set([...BASE_CAPABILITIES, ...(kind?.capabilities ?? []), ...(spec.capabilities ?? [])])],
          env: { ...(kind?.env ?? {}), ...(spec.env ?? {}) },
          volumes: [...new Set([...(kind?.volumes ?? []), ...(spec.volumes ?? [])])],
          devices,
        },
      });
    }
  }

  // Fixed addresses first (reserved), then everyone else in file order from host .10.
  const fixedOwner = new Map<number, string>();
  for (const p of pending) {
    for (const { spec, path } of p.nics) {
      if (typeof spec === 'string' || !spec.address) continue;
      const net = nets.get(spec.network);
      if (!net) continue;
      const addrPath = [...path, 'address'];
      const ip = parseIPv4(spec.address);
      if (!ip) report(addrPath, `'${spec.address}' is not an IPv4 address`);
      else if (!contains(net.subnet, toInt(ip))) report(addrPath, `${spec.address} is outside network '${net.name}' (${formatSubnet(net.subnet)})`);
      else if (fixedOwner.has(toInt(ip))) report(addrPath, `${spec.address} is already given to node '${fixedOwner.get(toInt(ip))}'`);
      else if (net.taken.has(toInt(ip))) {
        report(addrPath, `${spec.address} is the network, broadcast or gateway address of '${net.name}'${toInt(ip) === (vip ? toInt(parseIPv4(vip)!) : -1) ? ', or the VIP' : ''}`);
      } else {
        net.taken.add(toInt(ip));
        fixedOwner.set(toInt(ip), p.node.name);
      }
    }
  }
  const allocators = new Map([...nets.values()].map((n) => [n.name, new AddressAllocator(n.subnet, n.taken)]));
  for (const p of pending) {
    p.node.nics = p.nics.flatMap(({ spec, path }, i) => {
      const network = typeof spec === 'string' ? spec : spec.network;
      const net = nets.get(network);
      if (!net) return [];
      let address = typeof spec === 'string' ? undefined : spec.address;
      if (!address || !parseIPv4(address) || !contains(net.subnet, toInt(parseIPv4(address)!))) {
        address = allocators.get(network)!.allocate();
        if (!address) {
          report(path, `network '${network}' (${formatSubnet(net.subnet)}) has no free address left for node '${p.node.name}'`);
          return [];
        }
      }
      return [{ ifname: `eth${i}`, network, address, prefixLength: net.subnet.prefix }];
    });
  }

  const networks: PlannedNetwork[] = [...nets.values()].map((n) => ({
    name: n.name,
    subnet: formatSubnet(n.subnet),
    gateway: fromInt(n.gateway).toString(),
  }));
  return {
    lab: topo.name,
    sourceFile: file,
    networks,
    nodes: pending.map((p) => p.node),
    stack: topo.stack,
    vip,
    params: topo.params ?? {},
  };
}
