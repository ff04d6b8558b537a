// Command groups beyond the lab engine; each module adds its own commands.
import type { Command } from 'commander';

export async function commandGroups(): Promise<((p: Command) => void)[]> {
  const { registerBenchCommand } = await import('../../benchmarks/cli.ts');
  const { registerToxiproxyCommand } = await import('../../chaos/toxiproxy/cli.ts');
  const { registerReportCommand } = await import('../../reports/cli.ts');
  const { registerChaosCommands } = await import('../../chaos/cli.ts');
  return [registerBenchCommand, registerToxiproxyCommand, registerReportCommand, registerChaosCommands];
}
