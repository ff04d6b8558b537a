// The `halab` command.
import { Command, CommanderError } from 'commander';
import { registerLabCommands } from './lab-commands.ts';
import { UserError } from '../util/errors.ts';
import { TopologyError } from '../topology/types.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('halab')
    .description('testbed and chaos harness for high-availability clusters')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerLabCommands(program);
  for (const extra of await optionalCommands()) extra(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof TopologyError) {
      process.stderr.write(err.message + '\n');
      return 2;
    }
    if (err instanceof UserError) {
      process.stderr.write(`halab: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`halab: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

/** Command groups that live beside the lab engine (chaos, toxiproxy, bench, report). */
async function optionalCommands(): Promise<((p: Command) => void)[]> {
  const { commandGroups } = await import('./commands.ts');
  return commandGroups();
}
