// The registry of deploy recipes, by the name a topology's `stack:` uses.
import type { Stack } from './stack.ts';
import { UserError } from '../util/errors.ts';

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
