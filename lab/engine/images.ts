// halab's images: recipes under images/<name>/ (base: debootstrap rootfs; others: a Dockerfile
// FROM halab/base), built on demand and cached by a hash of the recipe (and its parent's hash).
import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import type { Logger } from '../util/log.ts';
import { UserError } from '../util/errors.ts';
import { projectRoot, stateRoot } from '../util/paths.ts';
import { aptInstall } from './bootstrap.ts';
import { hostAptMirror } from './apt-mirror.ts';

export const IMAGE_PREFIX = 'halab/';
export const RECIPE_LABEL = 'halab.recipe';
export const MANAGED_LABEL = 'halab.managed';

export interface ImageRecipe {
  /** Recipe name = folder under images/ (base, master, …). */
  name: string;
  /** Image reference it builds: halab/<name>. */
  tag: string;
  dir: string;
  /** Parent recipe name (from the Dockerfile's FROM halab/<parent>), none for base. */
  parent?: string;
  kind: 'rootfs' | 'dockerfile';
}

export function imagesDir(): string {
  return join(projectRoot, 'images');
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

export function loadRecipes(root = imagesDir()): Map<string, ImageRecipe> {
  const recipes = new Map<string, ImageRecipe>();
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    if (existsSync(join(dir, 'rootfs.json'))) {
      recipes.set(name, { name, tag: IMAGE_PREFIX + name, dir, kind: 'rootfs' });
    } else if (existsSync(join(dir, 'Dockerfile'))) {
      const from = /^FROM\s+(\S+)/m.exec(readFileSync(join(dir, 'Dockerfile'), 'utf8'))?.[1];
      const parent = from?.startsWith(IMAGE_PREFIX) ? from.slice(IMAGE_PREFIX.length).split(':')[0] : undefined;
      recipes.set(name, { name, tag: IMAGE_PREFIX + name, dir, parent, kind: 'dockerfile' });
    }
  }
  return recipes;
}

/** Content hash of a recipe folder plus its parent's hash: an unchanged recipe is never rebuilt. */
export function recipeHash(recipes: Map<string, ImageRecipe>, name: string): string {
  const recipe = recipes.get(name);
  if (!recipe) throw new UserError(`No image recipe images/${name}/`);
  const h = createHash('sha256');
  if (recipe.parent) h.update(`parent:${recipeHash(recipes, recipe.parent)}\n`);
  for (const file of listFiles(recipe.dir)) {
    h.update(`${relative(recipe.dir, file)}\n`);
    h.update(readFileSync(file));
  }
  return h.digest('hex').slice(0, 16);
}

/** Recipes needed for the given image references, parents first. Non-halab images are not ours to build. */
export function buildOrder(recipes: Map<string, ImageRecipe>, images: string[]): ImageRecipe[] {
  const order: ImageRecipe[] = [];
  const visit = (name: string, from: string) => {
    const r = recipes.get(name);
    if (!r) {
      throw new UserError(
        `Image ${from} has no recipe: there is no images/${name}/. Known halab images: ${[...recipes.values()].map((x) => x.tag).join(', ')}`,
      );
    }
    if (order.includes(r)) return;
    if (r.parent) visit(r.parent, IMAGE_PREFIX + r.parent);
    order.push(r);
  };
  for (const image of images) {
    const ref = image.split(':')[0]!;
    if (ref.startsWith(IMAGE_PREFIX)) visit(ref.slice(IMAGE_PREFIX.length), image);
  }
  return order;
}

async function currentHash(docker: Docker, tag: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return info.Config?.Labels?.[RECIPE_LABEL];
  } catch {
    return undefined;
  }
}

function followBuild(docker: Docker, stream: NodeJS.ReadableStream, log: Logger, tag: string): Promise<void> {
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, output: { error?: string }[]) => {
        const failed = err?.message ?? output?.find((o) => o.error)?.error;
        if (failed) reject(new UserError(`Building ${tag} failed: ${failed}\n${tail.join('')}`));
        else resolve();
      },
      (event: { stream?: string; error?: string }) => {
        if (event.stream) {
          tail.push(event.stream);
          if (tail.length > 30) tail.shift();
          if (/^Step \d+\/\d+/.test(event.stream)) log.info(`  ${tag}: ${event.stream.trim()}`);
        }
      },
    );
  });
}

async function buildRootfs(docker: Docker, recipe: ImageRecipe, hash: string, log: Logger): Promise<void> {
  const spec = JSON.parse(readFileSync(join(recipe.dir, 'rootfs.json'), 'utf8')) as {
    suite: string;
    variant: string;
    include: string[];
  };
  if ((await execa('sh', ['-c', 'command -v debootstrap'], { reject: false })).exitCode !== 0) {
    if (process.getuid?.() !== 0) throw new UserError('debootstrap is needed to build halab/base: apt-get install debootstrap (as root)');
    await log.step('Installing debootstrap', () => aptInstall(['debootstrap']));
  }
  const mirror = hostAptMirror();
  if (!mirror) {
    throw new UserError('No Debian mirror found in /etc/apt/sources.list(.d); set HALAB_DEBIAN_MIRROR to one.');
  }
  const buildRoot = join(stateRoot(), 'build');
  mkdirSync(buildRoot, { recursive: true });
  const dir = mkdtempSync(join(buildRoot, 'rootfs-'));
  try {
    await log.step(`debootstrap ${spec.suite} (${spec.variant}, ${spec.include.length} extra packages)`, async () => {
      const r = await execa(
        'debootstrap',
        [`--variant=${spec.variant}`, `--include=${spec.include.join(',')}`, spec.suite, dir, mirror],
        { reject: false, all: true },
      );
      if (r.exitCode !== 0) throw new UserError(`debootstrap failed (exit ${r.exitCode}):\n${r.all?.split('\n').slice(-20).join('\n')}`);
    });
    // Smaller image: no package caches or lists (apt-get update inside derived builds refills them).
    rmSync(join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    rmSync(join(dir, 'var/lib/apt/lists'), { recursive: true, force: true });
    mkdirSync(join(dir, 'var/lib/apt/lists/partial'), { recursive: true });
    mkdirSync(join(dir, 'var/cache/apt/archives/partial'), { recursive: true });
    const rootfsTag = `halab/rootfs:${hash}`;
    await log.step(`docker import → ${rootfsTag}`, async () => {
      const tar = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const stream = await docker.importImage(tar.stdout as unknown as string, { repo: 'halab/rootfs', tag: hash });
      await followBuild(docker, stream, log, rootfsTag);
    });
    // A one-line layer adds the labels and default command (import alone cannot label reliably).
    const dockerfile = `FROM ${rootfsTag}\nLABEL ${RECIPE_LABEL}=${hash} ${MANAGED_LABEL}=true\nCMD ["/bin/bash"]\n`;
    await buildFromDockerfileText(docker, dockerfile, recipe.tag, log);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function buildFromDockerfileText(docker: Docker, dockerfile: string, tag: string, log: Logger): Promise<void> {
  const dir = mkdtempSync(join(stateRoot(), 'build', 'ctx-'));
  try {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    const stream = await docker.buildImage({ context: dir, src: ['Dockerfile'] }, { t: tag, rm: true, forcerm: true });
    await followBuild(docker, stream, log, tag);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function buildDockerfile(docker: Docker, recipe: ImageRecipe, hash: string, log: Logger): Promise<void> {
  const src = listFiles(recipe.dir).map((f) => relative(recipe.dir, f));
  const stream = await docker.buildImage(
    { context: recipe.dir, src },
    { t: recipe.tag, rm: true, forcerm: true, labels: { [RECIPE_LABEL]: hash, [MANAGED_LABEL]: 'true' } },
  );
  await followBuild(docker, stream, log, recipe.tag);
}

export interface ImageResult {
  tag: string;
  hash: string;
  action: 'cached' | 'built';
  seconds: number;
}

/** Build whatever of `images` (and their parents) is missing or outdated. */
export async function ensureImages(
  docker: Docker,
  images: string[],
  log: Logger,
  opts: { force?: boolean } = {},
): Promise<ImageResult[]> {
  const recipes = loadRecipes();
  const results: ImageResult[] = [];
  for (const recipe of buildOrder(recipes, images)) {
    const hash = recipeHash(recipes, recipe.name);
    const t0 = performance.now();
    if (!opts.force && (await currentHash(docker, recipe.tag)) === hash) {
      results.push({ tag: recipe.tag, hash, action: 'cached', seconds: 0 });
      continue;
    }
    await log.step(`Building image ${recipe.tag} (recipe ${hash})`, () =>
      recipe.kind === 'rootfs' ? buildRootfs(docker, recipe, hash, log) : buildDockerfile(docker, recipe, hash, log),
    );
    results.push({ tag: recipe.tag, hash, action: 'built', seconds: (performance.now() - t0) / 1000 });
  }
  // Images that are not halab's must already be in the engine: there is no registry to pull from.
  for (const image of images) {
    if (image.startsWith(IMAGE_PREFIX)) continue;
    try {
      await docker.getImage(image).inspect();
    } catch {
      throw new UserError(
        `Image ${image} is not in the engine, and no container registry is reachable here. ` +
          `Use a halab image (${[...recipes.values()].map((r) => r.tag).join(', ')}) or load it with 'docker load'.`,
      );
    }
  }
  return results;
}
