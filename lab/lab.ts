// Lab lifecycle: up (plan → images → networks → nodes → verify → stack), down, inspect.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { parseDocument } from 'yaml';
import type { DockerBackend } from './backends/docker/docker-backend.ts';
import { MixedBackend } from './backends/vm/mixed-backend.ts';
import type { LabResource, NodeInfo } from './backends/backend.ts';
import { ensureEngine, ensureHostTools, restartOwnDockerd } from './engine/bootstrap.ts';
import { ensureImages, type ImageResult } from './engine/images.ts';
import { loadTopologyFile, validateLabName } from './topology/index.ts';
import type { LabPlan, PlannedNode } from './topology/types.ts';
import type { Logger } from './util/log.ts';
import { UserError } from './util/errors.ts';
import { labStateDir } from './util/paths.ts';
import { runTeardownHooks } from './teardown.ts';
import { loadStack } from './stacks/index.ts';
import type { StackInspection } from './stacks/stack.ts';
import './processes.ts';
import '../chaos/rollback.ts';

/** At most this many containers are created at once (the engine serialises much of it anyway). */
const CREATE_CONCURRENCY = 8;

export async function openBackend(log: Logger): Promise<DockerBackend> {
  const { docker } = await ensureEngine(log);
  await ensureHostTools(log);
  // Containers and VMs side by side: nodes with backend: vm go to the VM backend.
  return new MixedBackend(docker, log);
}

export function savePlan(plan: LabPlan): void {
  const dir = labStateDir(plan.lab);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan, null, 2) + '\n');
}

export function readSavedPlan(lab: string): LabPlan | undefined {
  const file = join(labStateDir(lab), 'plan.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as LabPlan) : undefined;
}

export interface UpResult {
  lab: string;
  plan: LabPlan;
  images: ImageResult[];
  /** Nodes created by this call (empty when the lab was already up: `up` is idempotent). */
  created: string[];
  nodes: NodeInfo[];
  seconds: { images: number; networks: number; nodes: number; verify: number; stack: number; total: number };
}

/** Raised (and handled) when the user interrupts `up`: what was built is removed. */
class Interrupted extends Error {}

export async function labUp(file: string, log: Logger, opts: { skipStack?: boolean } = {}): Promise<UpResult> {
  const t0 = performance.now();
  const { plan } = await loadTopologyFile(file);
  const backend = await openBackend(log);
  const existedBefore = (await backend.listResources(plan.lab)).length > 0;

  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: leave now, `halab down` cleans up
    interrupted = true;
    log.warn('interrupted: finishing the current step, then removing what this run built (Ctrl-C again to leave at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const checkpoint = () => {
    if (interrupted) throw new Interrupted('interrupted');
  };
  const seconds = { images: 0, networks: 0, nodes: 0, verify: 0, stack: 0, total: 0 };
  const timed = async <T>(key: keyof typeof seconds, work: () => Promise<T>): Promise<T> => {
    const s = performance.now();
    try {
      return await work();
    } finally {
      seconds[key] = (performance.now() - s) / 1000;
    }
  };
  try {
    const images = await timed('images', () =>
      log.step('Images', () => ensureImages(backend.docker, [...new Set(plan.nodes.map((n) => n.image))], log)),
    );
    checkpoint();
    savePlan(plan);
    await timed('networks', () => log.step(`Networks (${plan.networks.length})`, () => backend.createNetworks(plan)));
    checkpoint();
    const before = new Set((await backend.listNodes(plan.lab)).map((n) => n.name));
    const created = plan.nodes.filter((n) => !before.has(n.name)).map((n) => n.name);
    const limit = pLimit(CREATE_CONCURRENCY);
    await timed('nodes', () =>
      log.step(`Nodes (${plan.nodes.length}, ${created.length} new)`, () =>
        Promise.all(
          plan.nodes.map((node) =>
            limit(async () => {
              checkpoint();
              await backend.createNode(plan, node);
            }),
          ),
        ),
      ),
    );
    checkpoint();
    const nodes = await timed('verify', () => log.step('Checking NICs', () => verifyNodes(backend, plan)));
    checkpoint();
    if (plan.stack && !opts.skipStack) {
      const stack = await loadStack(plan.stack);
      await timed('stack', () =>
        log.step(`Deploying stack '${plan.stack}'`, () =>
          stack.deploy({ plan, backend, log, stateDir: labStateDir(plan.lab) }),
        ),
      );
    }
    seconds.total = (performance.now() - t0) / 1000;
    return { lab: plan.lab, plan, images, created, nodes, seconds };
  } catch (err) {
    // Nothing half-built is left: a lab this run started from nothing is removed again.
    if (!existedBefore) {
      log.warn(`bring-up of ${plan.lab} failed; removing what was built`);
      await labDownByName(plan.lab, log, backend).catch((e) => log.warn(`cleanup failed: ${(e as Error).message}`));
    }
    if (err instanceof Interrupted) throw new UserError(`Interrupted; lab ${plan.lab} was removed`, 130);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Every node runs, and each planned NIC carries its planned address under its planned name. */
async function verifyNodes(backend: DockerBackend, plan: LabPlan): Promise<NodeInfo[]> {
  const problems: string[] = [];
  await Promise.all(
    plan.nodes.map(async (node: PlannedNode) => {
      const r = await backend.exec(plan.lab, node.name, ['ip', '-o', '-4', 'addr', 'show'], { check: false });
      for (const nic of node.nics) {
        const line = r.stdout.split('\n').find((l) => l.includes(` ${nic.address}/`));
        const ifname = line?.split(/\s+/)[1];
        if (ifname !== nic.ifname) {
          problems.push(`${node.name}: expected ${nic.address} on ${nic.ifname}, found it on ${ifname ?? 'no interface'}`);
        }
      }
    }),
  );
  if (problems.length) throw new UserError(`NIC check failed:\n  ${problems.join('\n  ')}`);
  return backend.listNodes(plan.lab);
}

/** The lab name in a topology file, read leniently (the file may no longer be valid). */
export function labNameFromArg(arg: string): string {
  if (existsSync(arg) && /\.ya?ml$/.test(arg)) {
    const doc = parseDocument(readFileSync(arg, 'utf8'));
    const name = doc.get('name');
    if (typeof name !== 'string') throw new UserError(`${arg}: no lab 'name:' found`);
    return name;
  }
  const problem = validateLabName(arg);
  if (problem) throw new UserError(`'${arg}' is neither a topology file nor a lab name: ${problem}`);
  return arg;
}

export interface DownResult {
  lab: string;
  removed: { type: string; name: string }[];
  healed: string[];
  left: { type: string; name: string }[];
}

export async function labDownByName(lab: string, log: Logger, backend?: DockerBackend): Promise<DownResult> {
  backend ??= await openBackend(log);
  const healed = await runTeardownHooks(lab, log);
  const removed = await backend.destroyLab(lab);
  rmSync(labStateDir(lab), { recursive: true, force: true });
  let left = await backend.listResources(lab);
  if (left.length && left.every((r) => r.type === 'network')) left = await recoverStaleNetworks(backend, lab, left, log);
  return { lab, healed, removed: removed.map((r) => ({ type: r.type, name: r.name })), left };
}

/**
 * Networks dockerd would not remove although the lab has no container left ("has active
 * endpoints": its endpoint count drifted). When nothing runs in the engine and halab started it,
 * a dockerd restart clears the count and the networks go; otherwise they stay, with the reason.
 */
async function recoverStaleNetworks(backend: DockerBackend, lab: string, left: LabResource[], log: Logger): Promise<LabResource[]> {
  const names = left.map((r) => r.name).join(', ');
  const running = await backend.runningContainers();
  if (running > 0) {
    log.warn(`dockerd still counts endpoints on ${names} (no container of this lab is on them); not restarting the engine while ${running} container(s) run. A later 'up' of this lab reuses them.`);
    return left;
  }
  if (!(await restartOwnDockerd(log))) {
    log.warn(`dockerd still counts endpoints on ${names}; halab did not start this engine, so it does not restart it. Restarting dockerd clears it.`);
    return left;
  }
  await backend.destroyLab(lab); // the same removal again, now that the count is right
  return backend.listResources(lab);
}

export interface Inspection {
  lab: string;
  stack?: string;
  vip?: string;
  nodes: (NodeInfo & { extra: Record<string, string> })[];
  sections: StackInspection['sections'];
}

export async function labInspect(lab: string, log: Logger): Promise<Inspection> {
  const backend = await openBackend(log);
  const nodes = await backend.listNodes(lab);
  if (nodes.length === 0) {
    const labs = await backend.listLabs();
    throw new UserError(`No lab named '${lab}' is up.${labs.length ? ` Labs up: ${labs.join(', ')}` : ' No lab is up.'}`);
  }
  const plan = readSavedPlan(lab);
  let extra: StackInspection = { nodes: {}, sections: [] };
  if (plan?.stack) {
    const stack = await loadStack(plan.stack);
    if (stack.inspect) {
      extra = await stack.inspect({ plan, backend, log, stateDir: labStateDir(lab) }).catch((e: Error) => ({
        nodes: {},
        sections: [{ title: 'stack', lines: [`could not inspect the stack: ${e.message}`] }],
      }));
    }
  }
  return {
    lab,
    stack: plan?.stack,
    vip: plan?.vip,
    nodes: nodes.map((n) => ({ ...n, extra: extra.nodes[n.name] ?? {} })),
    sections: extra.sections,
  };
}

/** Which lab a node command means: --lab, else the only lab up. */
export async function resolveLab(backend: DockerBackend, lab?: string): Promise<string> {
  if (lab) return lab;
  const labs = await backend.listLabs();
  if (labs.length === 1) return labs[0]!;
  if (labs.length === 0) throw new UserError('No lab is up. Bring one up with: halab up topologies/smoke.yaml');
  throw new UserError(`Several labs are up (${labs.join(', ')}): say which with --lab NAME`);
}
