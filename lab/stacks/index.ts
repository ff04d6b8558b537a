// The registry of deploy recipes, by the name a topology's `stack:` uses.
import type { Stack } from './stack.ts';
import { UserError } from '../util/errors.ts';
import type { LabPlan } from '../topology/types.ts';
import type { Report } from '../topology/yaml-positions.ts';
import { readNmtConfig } from './nmt/config.ts';

const stacks = new Map<string, () => Promise<Stack>>([
  // Registered as lazy imports so a lab without a stack never loads stack code.
]);

export function registerStack(name: string, load: () => Promise<Stack>): void {
  stacks.set(name, load);
}

export function knownStacks(): string[] {
  return [...stacks.keys()].sort();
}

export async function loadStack(name: string): Promise<Stack> {
  const load = stacks.get(name);
  if (!load) throw new UserError(`Unknown stack '${name}'. Known stacks: ${knownStacks().join(', ') || '(none yet)'}`);
  return load();
}

registerStack('has', async () => (await import('./has/index.ts')).hasStack);
registerStack('nmt', async () => (await import('./nmt/index.ts')).nmtStack);

/**
 * Checks of a stack's `params:` run by `halab validate`/`up` (synchronous and pure, so they are
 * imported eagerly; the stacks themselves load lazily). Problems are reported with positions.
 */
const paramChecks = new Map<string, (plan: LabPlan, report: Report) => void>([['nmt', (plan, report) => void readNmtConfig(plan, report)]]);

export function checkStackParams(plan: LabPlan, report: Report): void {
  if (plan.stack) paramChecks.get(plan.stack)?.(plan, report);
}
