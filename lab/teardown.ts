// Things other modules must undo before a lab's containers go (chaos faults acting on the host,
// helper processes started for the lab). `down` and `heal` run every registered hook.
import type { Logger } from './util/log.ts';

export type TeardownHook = (lab: string, log: Logger) => Promise<string[]>;

const hooks: { name: string; run: TeardownHook }[] = [];

export function registerTeardownHook(name: string, run: TeardownHook): void {
  if (!hooks.some((h) => h.name === name)) hooks.push({ name, run });
}

/** Runs every hook; a failing hook is reported and does not stop the others. */
export async function runTeardownHooks(lab: string, log: Logger): Promise<string[]> {
  const done: string[] = [];
  for (const hook of hooks) {
    try {
      done.push(...(await hook.run(lab, log)));
    } catch (err) {
      log.warn(`teardown step '${hook.name}' failed for lab ${lab}: ${(err as Error).message}`);
    }
  }
  return done;
}
