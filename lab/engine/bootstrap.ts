// Find a Docker engine, or (root on Debian) install and start one with lab-safe address pools.
import Docker from 'dockerode';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/log.ts';
import { UserError } from '../util/errors.ts';
import { stateRoot } from '../util/paths.ts';

/** Docker's own pools: bridge docker0 and user networks without a subnet. Lab networks use 198.18.0.0/16. */
export const ENGINE_DAEMON_CONFIG = {
  bip: '198.19.255.1/24',
  'default-address-pools': [{ base: '198.19.0.0/16', size: 24 }],
};

const DEFAULT_SOCKET = '/var/run/docker.sock';

export function dockerClient(): Docker {
  // dockerode reads DOCKER_HOST itself when given no options.
  return process.env.DOCKER_HOST ? new Docker() : new Docker({ socketPath: DEFAULT_SOCKET });
}

async function answers(docker: Docker): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}

async function commandExists(cmd: string): Promise<boolean> {
  const r = await execa('sh', ['-c', `command -v ${cmd}`], { reject: false });
  return r.exitCode === 0;
}

/** Merge our address pools into an existing daemon.json, keeping the user's other settings. */
export function mergeDaemonConfig(existing: Record<string, unknown>): Record<string, unknown> {
  return { ...existing, ...ENGINE_DAEMON_CONFIG };
}

export interface EngineReport {
  docker: Docker;
  /** What halab did to get the engine (empty when one was already answering). */
  actions: string[];
}

let cached: Promise<EngineReport> | undefined;

/** Returns a client for an answering engine, installing/starting one when allowed. */
export function ensureEngine(log: Logger): Promise<EngineReport> {
  cached ??= ensureEngineUncached(log);
  return cached;
}

async function ensureEngineUncached(log: Logger): Promise<EngineReport> {
  const docker = dockerClient();
  if (await answers(docker)) return { docker, actions: [] };
  if (process.env.DOCKER_HOST) {
    throw new UserError(
      `The Docker engine at DOCKER_HOST=${process.env.DOCKER_HOST} does not answer. ` +
        `Start it, or unset DOCKER_HOST to let halab use (or install) the local engine.`,
    );
  }
  const isRoot = process.getuid?.() === 0;
  const isDebian = existsSync('/etc/debian_version');
  if (!isRoot || !isDebian) {
    throw new UserError(
      `No Docker engine answers at ${DEFAULT_SOCKET}. halab installs one itself only as root on Debian ` +
        `(here: ${isRoot ? 'root' : 'not root'}, ${isDebian ? 'Debian' : 'not Debian'}). ` +
        `Install Docker (e.g. 'apt-get install docker.io'), start dockerd, or point DOCKER_HOST at an engine.`,
    );
  }
  const actions: string[] = [];
  if (!(await commandExists('dockerd'))) {
    await log.step('Installing docker.io (Debian package; no Docker engine found)', () =>
      aptInstall(['docker.io', 'nftables', 'iproute2']),
    );
    actions.push('installed the Debian package docker.io');
  }
  actions.push(writeDaemonConfig(log));
  const logFile = await log.step('Starting dockerd', () => startDockerd(docker));
  actions.push(`started dockerd in the background (log: ${logFile})`);
  for (const a of actions) log.info(`engine: ${a}`);
  return { docker, actions };
}

export async function aptInstall(packages: string[]): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update'], { reject: false, env, all: true });
  if (update.exitCode !== 0) throw new UserError(`apt-get update failed:\n${update.all}`);
  const inst = await execa('apt-get', ['install', '-y', '--no-install-recommends', ...packages], {
    reject: false,
    env,
    all: true,
  });
  if (inst.exitCode !== 0) throw new UserError(`apt-get install ${packages.join(' ')} failed:\n${inst.all}`);
}

/** Make sure host tools the lab needs (nsenter, ip, nft, tc) exist; install them as root on Debian. */
export async function ensureHostTools(log: Logger): Promise<void> {
  const needed: Record<string, string> = { ip: 'iproute2', tc: 'iproute2', nft: 'nftables', nsenter: 'util-linux' };
  const missing = new Set<string>();
  for (const [cmd, pkg] of Object.entries(needed)) if (!(await commandExists(cmd))) missing.add(pkg);
  if (missing.size === 0) return;
  if (process.getuid?.() !== 0 || !existsSync('/etc/debian_version')) {
    throw new UserError(`Missing host tools; install the packages: ${[...missing].join(' ')}`);
  }
  await log.step(`Installing host tools (${[...missing].join(', ')})`, () => aptInstall([...missing]));
}

function writeDaemonConfig(log: Logger): string {
  const path = '/etc/docker/daemon.json';
  mkdirSync('/etc/docker', { recursive: true });
  if (existsSync(path)) {
    const current = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const merged = mergeDaemonConfig(current);
    if (JSON.stringify(merged) === JSON.stringify(current)) return `${path} already has halab's address pools`;
    copyFileSync(path, `${path}.halab-backup`);
    writeFileSync(path, JSON.stringify(merged, null, 2) + '\n');
    log.info(`engine: kept a copy of the old config in ${path}.halab-backup`);
    return `set the address pools (198.19.0.0/16) in ${path}, keeping its other settings`;
  }
  writeFileSync(path, JSON.stringify(ENGINE_DAEMON_CONFIG, null, 2) + '\n');
  return `wrote ${path} (docker0 198.19.255.1/24, pools 198.19.0.0/16 — never a private range)`;
}

/** The pid of the dockerd halab started, when it is still that process. */
function ownDockerdPid(): number | undefined {
  const file = join(stateRoot(), 'engine', 'dockerd.pid');
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'dockerd' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Restart the dockerd halab started (never one it did not): the one way found to clear dockerd's
 * endpoint-count drift on a network no container is on ("Fixing inconsistent endpoint_cnt" in its
 * log at start). Returns false when halab does not own the running engine. The caller makes sure
 * no container runs (a restart stops them).
 */
export async function restartOwnDockerd(log: Logger): Promise<boolean> {
  const pid = ownDockerdPid();
  if (!pid) return false;
  const docker = dockerClient();
  await log.step('Restarting the dockerd halab started (to clear a stale network endpoint count)', async () => {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && existsSync(`/proc/${pid}`)) await new Promise((r) => setTimeout(r, 200));
    await startDockerd(docker);
  });
  return true;
}

async function startDockerd(docker: Docker): Promise<string> {
  const dir = join(stateRoot(), 'engine');
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  writeFileSync(join(dir, 'dockerd.pid'), `${child.pid}\n`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await answers(docker)) return logFile;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new UserError(`dockerd did not come up within 60 s. Last lines of ${logFile}:\n${tail}`);
}
