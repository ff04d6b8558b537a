// Pure parts of the engine: apt mirror discovery, daemon.json merge, image recipes, graph, wrk parsing.
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAptMirror } from '../../lab/engine/apt-mirror.ts';
import { ENGINE_DAEMON_CONFIG, mergeDaemonConfig } from '../../lab/engine/bootstrap.ts';
import { buildOrder, loadRecipes, recipeHash } from '../../lab/engine/images.ts';
import { planToDot } from '../../lab/graph.ts';
import { bridgeName } from '../../lab/backends/docker/names.ts';
import { parseWrk } from '../../benchmarks/load/run.ts';
import type { LabPlan } from '../../lab/topology/types.ts';

describe('engine (pure parts)', () => {
  describe('apt mirror', () => {
    it('reads the main archive from deb822 sources, skipping security', () => {
      const text = [
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main',
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main',
      ].join('\n\n');
      expect(parseAptMirror([{ name: 'debian.sources', text }])).to.equal('http://mirror.example/debian');
    });
    it('reads one-line sources.list entries', () => {
      const text = '# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n';
      expect(parseAptMirror([{ name: 'sources.list', text }])).to.equal('http://m.example/debian');
    });
    it('finds nothing in an empty config', () => {
      expect(parseAptMirror([])).to.equal(undefined);
    });
  });

  it('merges halab address pools into an existing daemon.json, keeping other keys', () => {
    const merged = mergeDaemonConfig({ 'log-level': 'warn', bip: '10.0.0.1/24' });
    expect(merged['log-level']).to.equal('warn');
    expect(merged.bip).to.equal(ENGINE_DAEMON_CONFIG.bip);
    expect(JSON.stringify(merged)).to.not.match(/"10\.|172\.(1[6-9]|2\d|3[01])\.|192\.168\./);
  });

  describe('image recipes', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'halab-recipes-'));
      mkdirSync(join(dir, 'base'));
      writeFileSync(join(dir, 'base', 'rootfs.json'), '{"suite":"bookworm","variant":"minbase","include":[]}');
      mkdirSync(join(dir, 'web'));
      writeFileSync(join(dir, 'web', 'Dockerfile'), 'FROM halab/base\nRUN true\n');
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('orders parents first and knows each recipe kind', () => {
      const recipes = loadRecipes(dir);
      expect(buildOrder(recipes, ['halab/web']).map((r) => r.name)).to.deep.equal(['base', 'web']);
      expect(recipes.get('base')!.kind).to.equal('rootfs');
      expect(recipes.get('web')!.parent).to.equal('base');
    });
    it("changes a child's hash when its parent's recipe changes", () => {
      const before = recipeHash(loadRecipes(dir), 'web');
      expect(recipeHash(loadRecipes(dir), 'web')).to.equal(before);
      writeFileSync(join(dir, 'base', 'rootfs.json'), '{"suite":"bookworm","variant":"minbase","include":["curl"]}');
      expect(recipeHash(loadRecipes(dir), 'web')).to.not.equal(before);
    });
    it('refuses an image without a recipe, naming the known ones', () => {
      expect(() => buildOrder(loadRecipes(dir), ['halab/nope'])).to.throw(/images\/nope.*halab\/base, halab\/web/);
    });
    it('leaves non-halab images alone', () => {
      expect(buildOrder(loadRecipes(dir), ['debian:bookworm'])).to.deep.equal([]);
    });
  });

  it('keeps bridge names within the 15-character limit and distinct per lab', () => {
    expect(bridgeName('has-16', 'lan1')).to.have.length.at.most(15);
    expect(bridgeName('has-16', 'lan1')).to.not.equal(bridgeName('has-8', 'lan1'));
  });

  it('draws every NIC of every node as an edge to its network', () => {
    const plan: LabPlan = {
      lab: 'g',
      params: {},
      networks: [
        { name: 'lan1', subnet: '198.18.1.0/24', gateway: '198.18.1.1' },
        { name: 'lan2', subnet: '198.18.2.0/24', gateway: '198.18.2.1' },
      ],
      nodes: [
        {
          name: 'm1',
          role: 'master',
          image: 'halab/master',
          backend: 'container',
          capabilities: [],
          env: {},
          nics: [
            { ifname: 'eth0', network: 'lan1', address: '198.18.1.10', prefixLength: 24 },
            { ifname: 'eth1', network: 'lan2', address: '198.18.2.10', prefixLength: 24 },
          ],
        },
      ],
    };
    const dot = planToDot(plan);
    expect(dot).to.contain('"node:m1" -- "net:lan1" [label="eth0 198.18.1.10"]');
    expect(dot).to.contain('"node:m1" -- "net:lan2" [label="eth1 198.18.2.10"]');
  });

  it("reads wrk's output", () => {
    const out = `Running 4s test @ http://198.18.230.10/f.bin
  2 threads and 16 connections
  Latency Distribution
     50%  612.00us
     99%    3.21ms
  41234 requests in 4.00s, 240.12MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  10306.52
`;
    const r = parseWrk(out);
    expect(r.requestsPerSecond).to.equal(10306.52);
    expect(r.requests).to.equal(41234);
    expect(r.errors).to.equal(3);
    expect(r.latencyP50Ms).to.be.closeTo(0.612, 1e-9);
    expect(r.latencyP99Ms).to.be.closeTo(3.21, 1e-9);
  });
});
