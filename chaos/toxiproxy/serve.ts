// Run the Toxiproxy-compatible server in the foreground until SIGINT/SIGTERM, logging each API
// call on stderr. Shared by `halab toxiproxy` (host) and the bundled in-node daemon (daemon.ts).
import { readFile } from 'node:fs/promises';
import { splitHostPort } from './proxy.ts';
import { startToxiproxyServer } from './server.ts';

export interface ServeOptions {
  listen: string;
  config?: string;
  quiet?: boolean;
}

export async function serveToxiproxy(opts: ServeOptions): Promise<void> {
  let host: string;
  let port: number;
  try {
    ({ host, port } = splitHostPort(opts.listen));
  } catch (err) {
    throw new Error(`--listen: ${(err as Error).message}`);
  }
  const log = (line: string) => {
    if (!opts.quiet) process.stderr.write(`${new Date().toISOString()} toxiproxy: ${line}\n`);
  };
  const server = await startToxiproxyServer({ host: host || '127.0.0.1', port, log });
  process.stderr.write(`toxiproxy: API on ${server.url} (Ctrl-C to stop)\n`);
  try {
    if (opts.config) {
      const body: unknown = JSON.parse(await readFile(opts.config, 'utf8'));
      const { proxies, error } = await server.proxies.populate(body);
      if (error) throw new Error(`--config ${opts.config}: ${error.message}`);
      process.stderr.write(`toxiproxy: populated ${proxies.length} proxies from ${opts.config}\n`);
    }
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        process.stderr.write(`toxiproxy: ${signal}, shutting down\n`);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
  } finally {
    await server.close();
  }
}
