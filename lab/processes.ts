// Host processes started for a lab (e.g. a toxiproxy server) are recorded as pid files in the
// lab's state dir, so `down` can stop them even after the harness itself was killed.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labStateDir } from './util/paths.ts';
import { registerTeardownHook } from './teardown.ts';

const pidDir = (lab: string) => join(labStateDir(lab), 'pids');

export function recordProcess(lab: string, name: string, pid: number): void {
  mkdirSync(pidDir(lab), { recursive: true });
  writeFileSync(join(pidDir(lab), `${name}.pid`), `${pid}\n`);
}

export function forgetProcess(lab: string, name: string): void {
  rmSync(join(pidDir(lab), `${name}.pid`), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopLabProcesses(lab: string): Promise<string[]> {
  const dir = pidDir(lab);
  if (!existsSync(dir)) return [];
  const stopped: string[] = [];
  for (const file of readdirSync(dir)) {
    const pid = Number(readFileSync(join(dir, file), 'utf8').trim());
    if (pid > 1 && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 20 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      stopped.push(`process ${file.replace(/\.pid$/, '')} (pid ${pid})`);
    }
    rmSync(join(dir, file), { force: true });
  }
  return stopped;
}

registerTeardownHook('host-processes', (lab) => stopLabProcesses(lab));
