// Config generation of the HAS masters: keepalived, the nft DR table, bucket assignment, load index.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assignBuckets,
  bucketCounts,
  bucketMapScript,
  drTableScript,
  loadIndex,
  type DrTableSpec,
} from '../../lab/stacks/has/daemons/dr-table.ts';
import { formatAdvert, keepalivedConf, masterDownSeconds, notifyScript } from '../../lab/stacks/has/vrrp.ts';
import { hasConfig } from '../../lab/stacks/has/config.ts';
import { drSettings, haproxyConf, initialAssignment } from '../../lab/stacks/has/balancer.ts';
import { trafficManagerConfig, vrrpInstances } from '../../lab/stacks/has/masters.ts';
import { nodeChainScript, pickPath, type DrPath } from '../../lab/stacks/has/daemons/dr-table.ts';
import { downNetworks } from '../../lab/stacks/has/daemons/traffic-client.ts';
import { parseAddressLine } from '../../lab/stacks/has/daemons/address-events.ts';
import { watchArgs } from '../../lab/stacks/has/vip-watch.ts';
import type { LabPlan, PlannedNode } from '../../lab/topology/types.ts';

function node(name: string, role: string, host: number, cpus?: number): PlannedNode {
  return {
    name,
    role,
    image: `halab/${role}`,
    backend: 'container',
    nics: [
      { ifname: 'eth0', network: 'lan1', address: `198.18.1.${host}`, prefixLength: 24 },
      { ifname: 'eth1', network: 'lan2', address: `198.18.2.${host}`, prefixLength: 24 },
    ],
    cpus,
    capabilities: [],
    env: {},
  };
}

const plan: LabPlan = {
  lab: 'has-2',
  networks: [
    { name: 'lan1', subnet: '198.18.1.0/24', gateway: '198.18.1.1' },
    { name: 'lan2', subnet: '198.18.2.0/24', gateway: '198.18.2.1' },
  ],
  nodes: [node('m1', 'master', 10), node('m2', 'master', 11), node('web-1', 'traffic', 12, 0.5), node('web-2', 'traffic', 13, 0.5), node('client', 'client', 50)],
  stack: 'has',
  vip: '198.18.1.100',
  params: { vrrp_advert_interval: 0.02 },
};

describe('has masters: keepalived config', () => {
  const cfg = hasConfig(plan);
  const [m1, m2] = cfg.masters;

  it('makes one unicast instance per shared LAN, the VIP on the VIP network only', () => {
    const inst = vrrpInstances(cfg, m1!, [m2!]);
    expect(inst.map((i) => i.name)).to.deep.equal(['VI_lan1', 'VI_lan2']);
    expect(inst[0]).to.include({ ifname: 'eth0', selfAddress: '198.18.1.10' });
    expect(inst[0]!.peerAddresses).to.deep.equal(['198.18.1.11']);
    expect(inst[0]!.vips).to.deep.equal(['198.18.1.100/24']);
    expect(inst[1]!.vips).to.deep.equal(['198.18.2.99/24']);
    expect(inst[1]!.peerAddresses).to.deep.equal(['198.18.2.11']);
    expect(inst[0]!.routerId).to.not.equal(inst[1]!.routerId);
  });

  it('writes a sync group, advert, priorities, preempt delay and notify', () => {
    const conf = keepalivedConf({
      lab: 'has-2',
      node: 'm1',
      priority: 150,
      advertSeconds: 0.02,
      preemptDelaySeconds: 5,
      instances: vrrpInstances(cfg, m1!, [m2!]),
      notifyScript: '/opt/halab/vrrp-notify.sh',
    });
    expect(conf).to.match(/vrrp_sync_group HAS \{\n  group \{\n    VI_lan1\n    VI_lan2\n  \}/);
    expect(conf).to.include('advert_int 0.02');
    expect(conf).to.include('priority 150');
    expect(conf).to.include('preempt_delay 5');
    expect(conf).to.include('unicast_peer {\n    198.18.1.11\n  }');
    expect(conf).to.include('198.18.1.100/24 dev eth0');
    expect(conf).to.include('198.18.2.99/24 dev eth1');
    expect(conf).to.include('vrrp_version 3');
    expect(conf.match(/notify \/opt\/halab\/vrrp-notify.sh/g)).to.have.length(2);
    expect(conf).to.not.include('state MASTER');
    expect(conf, 'real-time only when asked (container nodes)').to.not.include('vrrp_rt_priority');
    const rt = keepalivedConf({ lab: 'has-2', node: 'm1', priority: 150, advertSeconds: 0.02, preemptDelaySeconds: 5, instances: [], notifyScript: '/x', realtime: true });
    expect(rt).to.match(/global_defs \{[^}]*vrrp_rt_priority 50\n  vrrp_rlimit_rttime 100000\n\}/);
  });

  it('advert formatting and the VRRPv3 master-down interval', () => {
    expect(formatAdvert(0.02)).to.equal('0.02');
    expect(formatAdvert(0.1 + 0.2)).to.equal('0.3');
    expect(() => formatAdvert(0.001)).to.throw(/minimum/);
    expect(masterDownSeconds(0.02, 100)).to.be.closeTo(0.0722, 1e-3);
  });

  it('the notify script writes a JSON event line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'halab-notify-'));
    try {
      const script = notifyScript('m1').replaceAll('/var/log/halab', dir).replaceAll('/run/halab', dir);
      writeFileSync(join(dir, 'n.sh'), script);
      execFileSync('sh', [join(dir, 'n.sh'), 'INSTANCE', 'VI_lan1', 'MASTER', '150']);
      const line = execFileSync('cat', [join(dir, 'events.jsonl')], { encoding: 'utf8' }).trim();
      const ev = JSON.parse(line);
      expect(ev).to.include({ node: 'm1', source: 'vrrp', type: 'state' });
      expect(ev.data).to.deep.equal({ state: 'MASTER', instance: 'VI_lan1', kind: 'INSTANCE', priority: 150 });
      expect(Math.abs(ev.t - Date.now())).to.be.below(5000);
      expect(execFileSync('cat', [join(dir, 'vrrp-VI_lan1.state')], { encoding: 'utf8' })).to.match(/^MASTER \d+\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the notify script keeps the latest transition in the state file when an older one finishes last', () => {
    const dir = mkdtempSync(join(tmpdir(), 'halab-notify-'));
    try {
      const script = notifyScript('m1').replaceAll('/var/log/halab', dir).replaceAll('/run/halab', dir);
      writeFileSync(join(dir, 'n.sh'), script);
      // A transition from the future is recorded; the one run now (older) must not overwrite it.
      writeFileSync(join(dir, 'vrrp-VI_lan1.state'), `MASTER ${Date.now() + 60_000}\n`);
      execFileSync('sh', [join(dir, 'n.sh'), 'INSTANCE', 'VI_lan1', 'BACKUP', '150']);
      expect(execFileSync('cat', [join(dir, 'vrrp-VI_lan1.state')], { encoding: 'utf8' })).to.match(/^MASTER /);
      writeFileSync(join(dir, 'vrrp-VI_lan1.state'), `MASTER ${Date.now() - 60_000}\n`);
      execFileSync('sh', [join(dir, 'n.sh'), 'INSTANCE', 'VI_lan1', 'BACKUP', '150']);
      expect(execFileSync('cat', [join(dir, 'vrrp-VI_lan1.state')], { encoding: 'utf8' })).to.match(/^BACKUP /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('has masters: balancer table', () => {
  const spec: DrTableSpec = {
    device: 'eth0',
    vip: '198.18.1.100',
    ports: [80, 443],
    buckets: 8,
    seed: 0x5eed,
    connTimeoutSeconds: 300,
    nodes: [
      { id: 1, name: 'web-1', mac: '02:42:c6:12:01:0c' },
      { id: 2, name: 'web-2', mac: '02:42:c6:12:01:0d' },
    ],
    assignment: [1, 2, 1, 2, 1, 2, 1, 2],
  };

  it('generates the sticky DR table with a fixed seed and pkttype host', () => {
    const t = drTableScript(spec);
    expect(t).to.include('type filter hook ingress device "eth0" priority -500;');
    expect(t).to.include('meta pkttype host ip daddr 198.18.1.100 tcp dport { 80, 443 } jump lb');
    expect(t).to.include('jhash ip saddr . tcp sport mod 8 seed 0x5eed map @bucket');
    expect(t).to.include('tcp flags & (syn | ack) == syn delete @conn { ip saddr . tcp sport : meta mark }');
    expect(t).to.include('update @conn { ip saddr . tcp sport : meta mark }');
    expect(t).to.include('elements = { 0 : 1, 1 : 2, 2 : 1, 3 : 2, 4 : 1, 5 : 2, 6 : 1, 7 : 2 }');
    expect(t).to.include('ether saddr set ether daddr ether daddr set 02:42:c6:12:01:0d fwd to "eth0"');
    expect(t).to.include('meta mark vmap { 1 : jump rs1, 2 : jump rs2 }');
    expect(bucketMapScript([2, 2])).to.equal('flush map netdev halab_dr bucket\nadd element netdev halab_dr bucket { 0 : 2, 1 : 2 }\n');
  });

  it('is accepted by nft (when nft can check it here)', function () {
    let ok = true;
    try {
      execFileSync('nft', ['--version'], { stdio: 'ignore' });
    } catch {
      ok = false;
    }
    if (!ok || process.getuid?.() !== 0) this.skip();
    const dir = mkdtempSync(join(tmpdir(), 'halab-nft-'));
    try {
      // --check validates against the kernel without committing; a netdev hook needs a real device (lo).
      writeFileSync(join(dir, 't.nft'), drTableScript({ ...spec, device: 'lo' }).replace(/^delete table.*\n/m, ''));
      execFileSync('nft', ['--check', '-f', join(dir, 't.nft')], { stdio: 'pipe' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bucket counts follow weights (largest remainder) and sum to N', () => {
    const c = bucketCounts(
      [
        { id: 1, weight: 1000 },
        { id: 2, weight: 500 },
        { id: 3, weight: 0 },
      ],
      256,
    );
    expect(c.get(1)).to.equal(171);
    expect(c.get(2)).to.equal(85);
    expect(c.get(3)).to.equal(0);
    const eq = bucketCounts([1, 2, 3].map((id) => ({ id, weight: 1 })), 256);
    expect([...eq.values()].reduce((a, b) => a + b)).to.equal(256);
    expect(Math.max(...eq.values()) - Math.min(...eq.values())).to.be.at.most(1);
    expect([...bucketCounts([{ id: 1, weight: 0 }], 16).values()]).to.deep.equal([0]);
  });

  it('assignment is a pure function of the counts, and a small change moves few buckets', () => {
    const a = assignBuckets(new Map([[1, 128], [2, 128]]), 256);
    const b = assignBuckets(new Map([[1, 128], [2, 128]]), 256);
    expect(a).to.deep.equal(b);
    expect(a.filter((x) => x === 1)).to.have.length(128);
    const c = assignBuckets(new Map([[1, 120], [2, 136]]), 256);
    const moved = a.filter((x, i) => x !== c[i]).length;
    expect(moved).to.be.at.most(40);
    const d = assignBuckets(new Map([[1, 0], [2, 256]]), 256);
    expect(d.every((x) => x === 2)).to.equal(true);
  });

  it('load index: spare CPU of the cap × spare memory, floored', () => {
    expect(loadIndex({ cpus: 0.5, cpuUse: 0, memUse: 0 })).to.equal(500);
    expect(loadIndex({ cpus: 0.5, cpuUse: 0.5, memUse: 0.2 })).to.equal(200);
    expect(loadIndex({ cpus: 1, cpuUse: 1.3, memUse: 0 })).to.equal(50);
    expect(loadIndex({ cpus: 1, cpuUse: NaN, memUse: 0 })).to.equal(1000);
  });
});

describe('has masters: settings', () => {
  const cfg = hasConfig(plan);
  it('defaults and the traffic manager config', () => {
    const s = drSettings(cfg, plan.params);
    expect(s).to.include({ buckets: 256, seed: 0x5eed, preemptDelaySeconds: 5 });
    const a = initialAssignment(cfg, s);
    expect(a).to.have.length(256);
    const tm = trafficManagerConfig(cfg, s, cfg.masters[0]!, a);
    expect(tm.nodes.map((n) => [n.name, n.address, n.cpus])).to.deep.equal([
      ['web-1', '198.18.1.12', 0.5],
      ['web-2', '198.18.1.13', 0.5],
    ]);
    expect(tm.health).to.include({ intervalSeconds: 2, timeoutSeconds: 10, path: '/health' });
    expect(() => drSettings(cfg, { balancer_buckets: 0 })).to.throw(/balancer_buckets/);
  });
  it('haproxy fallback config binds the VIP in TCP mode', () => {
    const h = haproxyConf(cfg, drSettings(cfg, {}));
    expect(h).to.include('bind 198.18.1.100:80');
    expect(h).to.include('mode tcp');
    expect(h).to.include('server web-2 198.18.1.13:443 weight 1');
    expect(h).to.include('maxconn 8000');
  });
});

describe('has masters: forwarding to a traffic node over its other network', () => {
  const paths: DrPath[] = [
    { network: 'lan1', device: 'eth0', mac: '02:00:00:00:01:0c', address: '198.18.1.12' },
    { network: 'lan2', device: 'eth1', mac: '02:00:00:00:02:0c', address: '198.18.2.12' },
  ];

  it('picks the VIP network while its NIC is up, the next network when it is down, and the first when all are', () => {
    expect(pickPath(paths, [])!.network).to.equal('lan1');
    expect(pickPath(paths, ['lan1'])!.network).to.equal('lan2');
    expect(pickPath(paths, ['lan2'])!.network).to.equal('lan1');
    expect(pickPath(paths, ['lan1', 'lan2'])!.network).to.equal('lan1');
  });

  it("rewrites only the node's chain: source the master's NIC on that network, destination the node's MAC there", () => {
    expect(nodeChainScript(3, '02:00:00:00:02:0a', paths[1]!)).to.equal(
      'flush chain netdev halab_dr rs3\n' +
        'add rule netdev halab_dr rs3 counter ether saddr set 02:00:00:00:02:0a ether daddr set 02:00:00:00:02:0c fwd to "eth1"\n',
    );
  });

  it('the traffic client reports the networks whose NIC is not up', () => {
    const state: Record<string, string> = { '/sys/class/net/eth0/operstate': 'down\n', '/sys/class/net/eth1/operstate': 'up\n' };
    const read = (f: string) => {
      if (!(f in state)) throw new Error('ENOENT');
      return state[f]!;
    };
    const nics = [
      { ifname: 'eth0', network: 'lan1' },
      { ifname: 'eth1', network: 'lan2' },
      { ifname: 'eth2', network: 'lan3' },
    ];
    expect(downNetworks(nics, read)).to.deep.equal(['lan1', 'lan3']);
  });
});

describe('has masters: vip-watch', () => {
  it('reads an address appearing and leaving from ip -o monitor/show lines', () => {
    const add = '3273: eth0    inet 198.18.28.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever';
    expect(parseAddressLine(add)).to.deep.equal({ deleted: false, ifname: 'eth0', address: '198.18.28.100' });
    expect(parseAddressLine(`Deleted ${add}`)).to.deep.equal({ deleted: true, ifname: 'eth0', address: '198.18.28.100' });
    expect(parseAddressLine(`[ADDR]Deleted ${add}`)).to.deep.include({ deleted: true, ifname: 'eth0' });
    expect(parseAddressLine('5: eth1@if6    inet 198.18.29.10/24 brd 198.18.29.255 scope global eth1')).to.deep.include({ ifname: 'eth1', address: '198.18.29.10' });
    // IPv6 and link lines are not address events of a VIP
    expect(parseAddressLine('3273: eth0    inet6 fe80::1/64 scope link')).to.equal(undefined);
    expect(parseAddressLine('3273: eth0: <BROADCAST,MULTICAST,UP> mtu 1500')).to.equal(undefined);
  });

  it('watches every floating address of the instances, without prefix', () => {
    expect(watchArgs([{ name: 'VI_lan1', vips: ['198.18.20.100/24'] }, { name: 'VI_lan2', vips: ['198.18.21.99/24'] }])).to.deep.equal([
      'VI_lan1=198.18.20.100',
      'VI_lan2=198.18.21.99',
    ]);
  });
});
