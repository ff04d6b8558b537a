// Topology files: parsing, expansion, address allocation, and every error class with its position.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { analyseTopology, parseMemory } from '../../lab/topology/index.ts';
import { TopologyError, type TopologyProblem } from '../../lab/topology/types.ts';
import { hostAt } from '../../lab/topology/addresses.ts';

const F = 'x.yaml';

function problems(text: string): TopologyProblem[] {
  try {
    analyseTopology(text, F);
  } catch (err) {
    if (err instanceof TopologyError) return err.problems;
    throw err;
  }
  expect.fail('expected problems, got none');
}

/** The one problem whose field is `field`, with its line and column. */
function at(text: string, field: string): { line: number; column: number; message: string } {
  const ps = problems(text);
  const p = ps.find((x) => x.field === field);
  expect(p, `no problem on ${field}; got ${JSON.stringify(ps)}`).to.not.equal(undefined);
  return { line: p!.line, column: p!.column, message: p!.message };
}

const NETS = `name: t
networks:
  lan1: { subnet: 198.18.1.0/24 }
  lan2: { subnet: 198.18.2.0/24 }
`;

describe('topology', () => {
  it('every topology under topologies/ parses and expands', () => {
    for (const f of readdirSync('topologies').filter((x) => x.endsWith('.yaml'))) {
      const { plan } = analyseTopology(readFileSync(`topologies/${f}`, 'utf8'), f);
      expect(plan.nodes.length, f).to.be.greaterThan(1);
    }
  });

  it('has-N topologies have 2 masters, N traffic nodes, 2 NFS servers, a client, all dual-NIC, and a VIP', () => {
    for (const n of [1, 2, 4, 8, 16]) {
      const { plan } = analyseTopology(readFileSync(`topologies/has-${n}.yaml`, 'utf8'), 'has');
      const roles = (r: string) => plan.nodes.filter((x) => x.role === r).length;
      expect([roles('master'), roles('traffic'), roles('nfs'), roles('client')]).to.deep.equal([2, n, 2, 1]);
      expect(plan.nodes.every((x) => x.nics.length === 2)).to.equal(true);
      expect(plan.vip).to.match(/^198\.18\./);
      expect(plan.stack).to.equal('has');
    }
  });

  it('expands counts and merges kind defaults with node overrides', () => {
    const { plan } = analyseTopology(
      NETS +
        `kinds:
  traffic: { image: halab/traffic, nics: [lan1, lan2], cpus: 0.1, memory: 256m, capabilities: [SYS_ADMIN] }
nodes:
  web: { kind: traffic, count: 3 }
  big: { kind: traffic, cpus: 1, role: special }
  plain: { nics: [lan2] }
`,
      F,
    );
    expect(plan.nodes.map((n) => n.name)).to.deep.equal(['web-1', 'web-2', 'web-3', 'big', 'plain']);
    const web2 = plan.nodes[1]!;
    expect([web2.image, web2.cpus, web2.memoryBytes, web2.role]).to.deep.equal(['halab/traffic', 0.1, 256 * 1024 ** 2, 'traffic']);
    expect(web2.capabilities).to.include.members(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN']);
    const big = plan.nodes[3]!;
    expect([big.cpus, big.role]).to.deep.equal([1, 'special']);
    const plain = plan.nodes[4]!;
    expect([plain.image, plain.role, plain.backend]).to.deep.equal(['halab/base', 'plain', 'container']);
    expect(plain.nics.map((n) => [n.ifname, n.network])).to.deep.equal([['eth0', 'lan2']]);
  });

  it('gives addresses from .10 in file order, skipping fixed ones, the gateway and the VIP', () => {
    const { plan } = analyseTopology(
      NETS +
        `nodes:
  a: { nics: [lan1, lan2] }
  b: { nics: [{ network: lan1, address: 198.18.1.11 }, lan2] }
  c: { nics: [lan1] }
vip: 198.18.1.12
`,
      F,
    );
    const addr = (n: string) => plan.nodes.find((x) => x.name === n)!.nics.map((x) => x.address);
    expect(addr('a')).to.deep.equal(['198.18.1.10', '198.18.2.10']);
    expect(addr('b')).to.deep.equal(['198.18.1.11', '198.18.2.11']);
    expect(addr('c')).to.deep.equal(['198.18.1.13']);
    expect(plan.networks.map((n) => n.gateway)).to.deep.equal(['198.18.1.1', '198.18.2.1']);
    // deterministic
    const again = analyseTopology(NETS + `nodes:\n  a: { nics: [lan1, lan2] }\n`, F).plan;
    expect(again.nodes[0]!.nics[0]!.address).to.equal('198.18.1.10');
  });

  it('reads memory sizes', () => {
    expect([parseMemory('256m'), parseMemory('1g'), parseMemory('512k'), parseMemory('100'), parseMemory('x')]).to.deep.equal([
      268435456, 1073741824, 524288, 100, undefined,
    ]);
  });

  describe('errors, each with file:line:col and field', () => {
    it('YAML syntax', () => {
      const [p] = problems('name: t\nnetworks: {\n');
      expect(p!.file).to.equal(F);
      expect(p!.message).to.match(/^YAML:/);
      expect(p!.line).to.be.greaterThan(1);
    });
    it('duplicate keys (duplicate node names)', () => {
      const [p] = problems(NETS + 'nodes:\n  a: { nics: [lan1] }\n  a: { nics: [lan2] }\n');
      expect([p!.line, p!.message]).to.deep.equal([7, p!.message]);
      expect(p!.message).to.match(/unique/i);
    });
    it('top level not a mapping', () => {
      expect(problems('- a\n- b\n')[0]!.message).to.match(/must be a mapping/);
    });
    it('missing required keys', () => {
      const ps = problems('name: t\n');
      expect(ps.map((p) => p.message)).to.include.members(["missing required key 'networks'", "missing required key 'nodes'"]);
    });
    it('unknown key, positioned at the key, with a suggestion', () => {
      const p = at(NETS + 'nodes:\n  a: { nics: [lan1], imgae: halab/base }\n', 'nodes.a.imgae');
      expect([p.line, p.column]).to.deep.equal([6, 22]);
      expect(p.message).to.match(/did you mean 'image'/);
    });
    it('wrong type, positioned at the value', () => {
      const p = at(NETS + 'nodes:\n  a: { nics: [lan1], cpus: lots }\n', 'nodes.a.cpus');
      expect([p.line, p.column]).to.deep.equal([6, 28]);
      expect(p.message).to.match(/number of cores/);
    });
    it('devices: host paths under /dev, merged from kind and node, container nodes only', () => {
      const { plan } = analyseTopology(NETS + 'kinds:\n  k: { nics: [lan1], devices: [/dev/fuse] }\nnodes:\n  a: { kind: k, devices: [/dev/net/tun] }\n  b: { nics: [lan1] }\n', F);
      expect(plan.nodes.map((n) => n.devices)).to.deep.equal([['/dev/fuse', '/dev/net/tun'], []]);
      const bad = at(NETS + 'nodes:\n  a: { nics: [lan1], devices: [fuse] }\n', 'nodes.a.devices');
      expect([bad.line, bad.column]).to.deep.equal([6, 31]);
      expect(bad.message).to.match(/under \/dev/);
      const vm = at(NETS + 'kinds:\n  k: { nics: [lan1], backend: vm, devices: [/dev/fuse] }\nnodes:\n  a: { kind: k }\n', 'kinds.k.devices');
      expect(vm.line).to.equal(6);
      expect(vm.message).to.match(/container nodes; node 'a' is a vm/);
    });
    it('bad count', () => {
      expect(at(NETS + 'nodes:\n  a: { nics: [lan1], count: 0 }\n', 'nodes.a.count').message).to.match(/whole number/);
    });
    it('invalid lab name', () => {
      expect(at('name: Has_4\nnetworks: {}\nnodes: {}\n', 'name').message).to.match(/\[a-z\]/);
    });
    it('unknown network', () => {
      const p = at(NETS + 'nodes:\n  a: { nics: [lan1, lan3] }\n', 'nodes.a.nics[1]');
      expect([p.line, p.column]).to.deep.equal([6, 21]);
      expect(p.message).to.match(/unknown network 'lan3'/);
    });
    it('unknown kind', () => {
      expect(at(NETS + 'nodes:\n  a: { kind: mastr, nics: [lan1] }\n', 'nodes.a.kind').message).to.match(/unknown kind 'mastr'/);
    });
    it('unknown stack', () => {
      expect(at(NETS + 'nodes:\n  a: { nics: [lan1] }\nstack: nope\n', 'stack').message).to.match(/unknown stack 'nope'/);
    });
    it('a node without NICs', () => {
      expect(at(NETS + 'nodes:\n  a: { image: halab/base }\n', 'nodes.a').message).to.match(/no NICs/);
    });
    it('the same network twice on a node', () => {
      expect(at(NETS + 'nodes:\n  a: { nics: [lan1, lan1] }\n', 'nodes.a.nics[1]').message).to.match(/twice/);
    });
    it('private ranges, the engine pool and the outside are refused', () => {
      const sub = (s: string) => at(`name: t\nnetworks:\n  lan1: { subnet: ${s} }\nnodes: {}\n`, 'networks.lan1.subnet');
      expect(sub('192.168.1.0/24').message).to.match(/private range/);
      expect(sub('172.20.0.0/24').message).to.match(/private range/);
      expect(sub('10.0.0.0/24').message).to.match(/private range/);
      expect(sub('198.19.3.0/24').message).to.match(/engine's own pool 198\.19\.0\.0\/16/);
      expect(sub('8.8.8.0/24').message).to.match(/outside 198\.18\.0\.0\/15/);
      expect(sub('198.18.1.0/30').message).to.match(/prefix/);
      expect(sub('198.18.1.5/24').message).to.match(/host bits/);
      const p = sub('198.19.3.0/24');
      expect([p.line, p.column]).to.deep.equal([3, 19]);
    });
    it('overlapping subnets', () => {
      const p = at('name: t\nnetworks:\n  a: { subnet: 198.18.0.0/16 }\n  b: { subnet: 198.18.5.0/24 }\nnodes: {}\n', 'networks.b.subnet');
      expect(p.message).to.match(/overlaps network 'a'/);
      expect(p.line).to.equal(4);
    });
    it('address clashes, outside addresses and the VIP outside every network', () => {
      const text =
        NETS +
        `nodes:
  a: { nics: [{ network: lan1, address: 198.18.1.20 }] }
  b: { nics: [{ network: lan1, address: 198.18.1.20 }] }
  c: { nics: [{ network: lan1, address: 198.18.2.5 }] }
  d: { nics: [{ network: lan1, address: 198.18.1.1 }] }
vip: 198.18.9.9
`;
      const ps = problems(text);
      const msg = (field: string) => ps.find((p) => p.field === field)?.message ?? '';
      expect(msg('nodes.b.nics[0].address')).to.match(/already given to node 'a'/);
      expect(msg('nodes.c.nics[0].address')).to.match(/outside network 'lan1'/);
      expect(msg('nodes.d.nics[0].address')).to.match(/gateway/);
      expect(msg('vip')).to.match(/none of the networks/);
      expect(ps.find((p) => p.field === 'nodes.b.nics[0].address')!.line).to.equal(7);
    });
    it('expanded names that clash with another node', () => {
      const p = at(NETS + 'nodes:\n  web-2: { nics: [lan1] }\n  web: { nics: [lan1], count: 2 }\n', 'nodes.web.count');
      expect(p.message).to.match(/'web-2' clashes/);
    });
    it('reports every problem at once, sorted by position', () => {
      const ps = problems('name: t\nnetworks:\n  lan1: { subnet: 10.1.0.0/24 }\nnodes:\n  a: { nics: [lan1, lan9], cpu: 1 }\n');
      expect(ps.length).to.equal(3);
      expect(ps.map((p) => p.line)).to.deep.equal([3, 5, 5]);
    });
  });

  it('hostAt: host N of a subnet, from any address inside it; refuses hosts outside', () => {
    expect(hostAt('198.18.20.0/24', 100)).to.equal('198.18.20.100');
    expect(hostAt('198.18.20.7/24', 99)).to.equal('198.18.20.99');
    expect(hostAt('198.18.20.0/23', 300)).to.equal('198.18.21.44');
    expect(() => hostAt('198.18.20.0/24', 255)).to.throw(/outside 198.18.20.0\/24/);
    expect(() => hostAt('nope', 1)).to.throw(/not an IPv4 subnet/);
  });
});
