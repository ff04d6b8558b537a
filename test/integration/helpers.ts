// Shared helpers for integration tests against the real engine.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { silentLogger, consoleLogger } from '../../lab/util/log.ts';
import { labDownByName, labUp, openBackend, readSavedPlan } from '../../lab/lab.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import { hasConfig, type HasConfig } from '../../lab/stacks/has/config.ts';
import type { StackContext } from '../../lab/stacks/stack.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';

export const log = process.env.HALAB_TEST_VERBOSE ? consoleLogger() : silentLogger;

let backend: Promise<DockerBackend> | undefined;
/** The engine (installed and started if missing, as `halab up` does). */
export function testBackend(): Promise<DockerBackend> {
  backend ??= openBackend(consoleLogger());
  return backend;
}

export const HALAB = new URL('../../bin/halab.mjs', import.meta.url).pathname;

export function halab(args: string[], opts: { reject?: boolean } = {}) {
  return execa('node', [HALAB, ...args], { reject: opts.reject ?? false, all: true });
}

/** ping from a node; true when at least one reply came back. */
export async function pings(b: DockerBackend, lab: string, node: string, address: string): Promise<boolean> {
  const r = await b.exec(lab, node, ['ping', '-c', '2', '-i', '0.2', '-W', '1', address], { check: false });
  return r.exitCode === 0;
}

/** A HAS lab that is up: its stack settings and the stack context the stack's functions take. */
export function hasLab(lab: string, b: DockerBackend): { cfg: HasConfig; ctx: StackContext } {
  const plan = readSavedPlan(lab);
  if (!plan) throw new Error(`lab ${lab} has no saved plan: is it up?`);
  return { cfg: hasConfig(plan), ctx: { plan, backend: b, log, stateDir: labStateDir(lab) } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `probe` every 250 ms until it returns something truthy; fail after timeoutMs naming `what`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(250);
  }
}

/**
 * The topology a test file brings up: topologies/<name>.yaml, or the file the environment variable
 * `envVar` names (a copy with its own name and subnets), so a run on a shared engine does not take
 * over someone else's lab. The lab is the file's `name:`.
 */
export function testTopology(name: string, envVar: string): { file: string; lab: string } {
  const file = process.env[envVar] ?? fileURLToPath(new URL(`../../topologies/${name}.yaml`, import.meta.url));
  const lab = /^name:\s*(\S+)/m.exec(readFileSync(file, 'utf8'))?.[1];
  if (!lab) throw new Error(`${file}: no top-level name:`);
  return { file, lab };
}

/** The has-2 tests' topology (HALAB_HAS2_TOPOLOGY overrides it). */
export const has2Topology = () => testTopology('has-2', 'HALAB_HAS2_TOPOLOGY');

/**
 * A HAS lab brought up fresh for a test file (down first, unless HALAB_REUSE_LAB keeps one that is
 * up), and the matching clean-up (skipped with HALAB_KEEP_LAB, to look at the lab after a run).
 */
export async function freshHasLab(topology: string, lab: string, b: DockerBackend): Promise<{ cfg: HasConfig; ctx: StackContext }> {
  if (!process.env.HALAB_REUSE_LAB) await labDownByName(lab, log, b);
  await labUp(topology, log);
  return hasLab(lab, b);
}

export async function downUnlessKept(lab: string, b: DockerBackend | undefined): Promise<void> {
  if (b && !process.env.HALAB_KEEP_LAB) await labDownByName(lab, log, b);
}
