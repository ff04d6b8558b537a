// A Toxiproxy-compatible server: HTTP API on host:port (default 127.0.0.1:8474)
// managing TCP proxies with toxics. Works with the unchanged toxiproxy-node-client.
import http from 'node:http';
import type net from 'node:net';
import { createApiHandler } from './api.ts';
import { ProxyCollection, type Logger } from './proxy.ts';

export interface ToxiproxyServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8474; 0 picks a free port. */
  port?: number;
  /** One line per API call and per proxy event. */
  log?: Logger;
}

export interface ToxiproxyServer {
  /** Base URL of the API, e.g. http://127.0.0.1:8474 (what `new Toxiproxy(url)` takes). */
  url: string;
  host: string;
  port: number;
  /** The live proxies, for in-process use. */
  proxies: ProxyCollection;
  /** Stop every proxy and the API server. */
  close(): Promise<void>;
}

export async function startToxiproxyServer(options: ToxiproxyServerOptions = {}): Promise<ToxiproxyServer> {
  const host = options.host ?? '127.0.0.1';
  const proxies = new ProxyCollection(options.log);
  const server = http.createServer(createApiHandler(proxies, { log: options.log }));
  server.keepAliveTimeout = 60_000; // Go's IdleTimeout
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 8474 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  const urlHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${addr.port}`,
    host: addr.address,
    port: addr.port,
    proxies,
    close() {
      closing ??= new Promise<void>((resolve) => {
        proxies.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
