// Command groups beyond the lab engine; each module adds its own commands.
import type { Command } from 'commander';

export async function commandGroups(): Promise<((p: Command) => void)[]> {
  const { registerBenchCommand } = await import('../../benchmarks/cli.ts');
  return [registerBenchCommand];
}
