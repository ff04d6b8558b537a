// `halab toxiproxy --listen HOST:PORT [--config FILE]`: run the Toxiproxy-compatible
// server in the foreground until SIGINT/SIGTERM, logging each API call on stderr.
import type { Command } from 'commander';
import { serveToxiproxy } from './serve.ts';

export function registerToxiproxyCommand(program: Command): void {
  program
    .command('toxiproxy')
    .description('run a Toxiproxy-compatible TCP fault proxy (HTTP API as Shopify Toxiproxy) in the foreground')
    .option('--listen <host:port>', 'address of the HTTP API', '127.0.0.1:8474')
    .option('--config <file>', 'JSON file of proxies to create at start (as POST /populate, toxics allowed)')
    .option('--quiet', 'do not log API calls')
    .action((opts: { listen: string; config?: string; quiet?: boolean }) => serveToxiproxy(opts));
}
