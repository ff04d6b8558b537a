// CLI commands that manage labs: validate, up, down, ls, inspect, graph, exec, link, images.
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseTopology, expandTopology } from '../topology/index.ts';
import { TopologyError, formatProblem, type TopologyProblem } from '../topology/types.ts';
import { consoleLogger } from '../util/log.ts';
import { UserError } from '../util/errors.ts';
import { labDownByName, labInspect, labNameFromArg, labUp, openBackend, resolveLab } from '../lab.ts';
import { planToDot, renderSvg } from '../graph.ts';
import { ensureImages, loadRecipes } from '../engine/images.ts';
import { ensureEngine } from '../engine/bootstrap.ts';
import { table } from './format.ts';

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text());
}

export function registerLabCommands(program: Command): void {
  program
    .command('validate')
    .description('check topology files; prints FILE:LINE:COL: field: message for every problem (exit 2)')
    .argument('<files...>')
    .action((files: string[]) => {
      const problems: TopologyProblem[] = [];
      for (const file of files) {
        try {
          expandTopology(parseTopology(readFileSync(file, 'utf8'), file), file);
          process.stdout.write(`${file}: ok\n`);
        } catch (err) {
          if (err instanceof TopologyError) problems.push(...err.problems);
          else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            problems.push({ file, line: 0, column: 0, field: '', message: 'no such file' });
          } else throw err;
        }
      }
      for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
      if (problems.length) process.exitCode = 2;
    });

  program
    .command('up')
    .description('bring a lab up (installs the engine and builds images when missing); idempotent')
    .argument('<topology>', 'topology file')
    .option('--json', 'machine-readable result on stdout')
    .option('--no-stack', 'bring the nodes up without deploying the stack')
    .action(async (file: string, opts: { json?: boolean; stack: boolean }) => {
      const log = consoleLogger();
      const r = await labUp(file, log, { skipStack: !opts.stack });
      print(!!opts.json, r, () =>
        `Lab ${r.lab} is up in ${r.seconds.total.toFixed(1)} s (${r.created.length} nodes created, ` +
        `${r.nodes.length - r.created.length} already there).\n` +
        nodeTable(r.nodes) +
        `\nNext: halab inspect ${r.lab} · halab exec --lab ${r.lab} ${r.nodes[0]?.name ?? 'NODE'} -- ip addr · halab down ${r.lab}\n`,
      );
    });

  program
    .command('down')
    .description('remove everything of a lab, found by its label (works after a crash or an edited file)')
    .argument('<lab>', 'lab name or topology file')
    .option('--json')
    .action(async (arg: string, opts: { json?: boolean }) => {
      const lab = labNameFromArg(arg);
      const log = consoleLogger();
      const r = await labDownByName(lab, log);
      print(!!opts.json, r, () => {
        const counts = ['container', 'network', 'volume'].map((t) => `${r.removed.filter((x) => x.type === t).length} ${t}s`);
        const lines = [`Lab ${lab}: removed ${counts.join(', ')}${r.healed.length ? `; undid ${r.healed.length} fault(s)/process(es)` : ''}.`];
        for (const h of r.healed) lines.push(`  undid: ${h}`);
        if (r.left.length) lines.push(`LEFT BEHIND: ${r.left.map((x) => `${x.type} ${x.name}`).join(', ')}`);
        return lines.join('\n') + '\n';
      });
      if (r.left.length) process.exitCode = 1;
    });

  program
    .command('ls')
    .description('list the labs that are up')
    .option('--json')
    .action(async (opts: { json?: boolean }) => {
      const backend = await openBackend(consoleLogger());
      const labs = await backend.listLabs();
      const rows = await Promise.all(labs.map(async (l) => ({ lab: l, nodes: (await backend.listNodes(l)).length })));
      print(!!opts.json, rows, () => (rows.length ? table(['lab', 'nodes'], rows.map((r) => [r.lab, String(r.nodes)])) + '\n' : 'No lab is up.\n'));
    });

  program
    .command('inspect')
    .description('nodes, roles, NICs, addresses and state of a lab (and the stack: VRRP, balancer, NFS)')
    .argument('<lab>', 'lab name or topology file')
    .option('--json')
    .action(async (arg: string, opts: { json?: boolean }) => {
      const r = await labInspect(labNameFromArg(arg), consoleLogger({ quiet: !!opts.json }));
      print(!!opts.json, r, () => {
        const extraCols = [...new Set(r.nodes.flatMap((n) => Object.keys(n.extra)))];
        const rows = r.nodes.map((n) => [
          n.name,
          n.role,
          n.state,
          n.nics.map((x) => `${x.ifname} ${x.network} ${x.address}`).join('\n'),
          ...extraCols.map((c) => n.extra[c] ?? ''),
        ]);
        let out = `Lab ${r.lab}${r.stack ? ` · stack ${r.stack}` : ''}${r.vip ? ` · VIP ${r.vip}` : ''}\n`;
        out += table(['node', 'role', 'state', 'NICs', ...extraCols], rows) + '\n';
        for (const s of r.sections) out += `\n${s.title}\n${s.lines.map((l) => '  ' + l).join('\n')}\n`;
        return out;
      });
    });

  program
    .command('graph')
    .description('draw the topology (nodes, networks, every NIC) as SVG, or DOT with --dot')
    .argument('<topology>')
    .option('-o, --output <file>', 'where to write the SVG (default: <lab>.svg)')
    .option('--dot', 'print the Graphviz DOT source instead')
    .action(async (file: string, opts: { output?: string; dot?: boolean }) => {
      const plan = expandTopology(parseTopology(readFileSync(file, 'utf8'), file), file);
      const dot = planToDot(plan);
      if (opts.dot) return void process.stdout.write(dot);
      const out = opts.output ?? `${plan.lab}.svg`;
      writeFileSync(out, await renderSvg(dot));
      process.stdout.write(`wrote ${out}\n`);
    });

  program
    .command('exec')
    .description('run a command in a node: halab exec [--lab NAME] NODE -- CMD…')
    .option('--lab <name>')
    .argument('<node>')
    .argument('<cmd...>')
    .action(async (node: string, cmd: string[], opts: { lab?: string }) => {
      const backend = await openBackend(consoleLogger());
      const lab = await resolveLab(backend, opts.lab);
      const r = await backend.exec(lab, node, cmd, { check: false, tee: true } as never).catch((e: Error) => {
        if (/no such container/i.test(e.message)) throw new UserError(`Lab ${lab} has no node ${node}`);
        throw e;
      });
      process.exitCode = r.exitCode;
    });

  program
    .command('link')
    .description("take one NIC's link down or up: halab link [--lab NAME] NODE NIC down|up")
    .option('--lab <name>')
    .argument('<node>')
    .argument('<nic>', 'interface (eth0) or network name (lan1)')
    .argument('<state>', 'down | up')
    .action(async (node: string, nic: string, state: string, opts: { lab?: string }) => {
      if (state !== 'down' && state !== 'up') throw new UserError(`state must be 'down' or 'up', not '${state}'`);
      const backend = await openBackend(consoleLogger());
      const lab = await resolveLab(backend, opts.lab);
      const info = await backend.inspect(lab, node);
      const found = info.nics.find((n) => n.ifname === nic || n.network === nic);
      if (!found) throw new UserError(`${node} has no NIC '${nic}' (it has ${info.nics.map((n) => `${n.ifname}/${n.network}`).join(', ')})`);
      await backend.setLink(lab, node, found.ifname, state === 'up');
      process.stdout.write(`${lab}/${node} ${found.ifname} (${found.network}) ${state}\n`);
    });

  const images = program.command('images').description('the images halab builds (no registry needed)');
  images
    .command('build')
    .description('build images (all when none named); unchanged recipes are cached')
    .argument('[names...]', 'recipe names (base, master, traffic, nfs, client) or halab/<name>')
    .option('--force', 'rebuild even when cached')
    .action(async (names: string[], opts: { force?: boolean }) => {
      const log = consoleLogger();
      const { docker } = await ensureEngine(log);
      const all = [...loadRecipes().keys()];
      const wanted = (names.length ? names : all).map((n) => (n.startsWith('halab/') ? n : `halab/${n}`));
      const results = await ensureImages(docker, wanted, log, { force: opts.force });
      process.stdout.write(table(['image', 'recipe', 'action', 'seconds'], results.map((r) => [r.tag, r.hash, r.action, r.seconds.toFixed(1)])) + '\n');
    });
  images
    .command('ls')
    .description('list image recipes and whether each is built and current')
    .action(async () => {
      const { docker } = await ensureEngine(consoleLogger());
      const { recipeHash } = await import('../engine/images.ts');
      const recipes = loadRecipes();
      const rows = await Promise.all(
        [...recipes.values()].map(async (r) => {
          const want = recipeHash(recipes, r.name);
          const have = await docker.getImage(r.tag).inspect().then((i) => i.Config?.Labels?.['halab.recipe'], () => undefined);
          return [r.tag, want, have === want ? 'current' : have ? 'outdated' : 'not built'];
        }),
      );
      process.stdout.write(table(['image', 'recipe', 'status'], rows) + '\n');
    });
  void basename;
}

function nodeTable(nodes: { name: string; role: string; state: string; nics: { ifname: string; network: string; address: string }[] }[]): string {
  return table(
    ['node', 'role', 'state', 'NICs'],
    nodes.map((n) => [n.name, n.role, n.state, n.nics.map((x) => `${x.ifname} ${x.network} ${x.address}`).join('\n')]),
  ) + '\n';
}
