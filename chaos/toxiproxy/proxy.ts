// Proxies: a TCP listener that accepts clients, dials the upstream and joins the two
// through a pair of toxic links (Toxiproxy's Proxy and ProxyCollection).
import net from 'node:net';
import { ApiError, Errors, JsonShape, asObject } from './errors.ts';
import { Connection, type ConnectionOwner } from './link.ts';
import { ToxicCollection, parseNewToxic, toxicToJson, type Toxic, type ToxicJson } from './toxic-collection.ts';
import type { Direction } from './toxics/index.ts';

export type Logger = (message: string) => void;

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
}

export interface HostPort {
  host: string;
  port: number;
}

/** Go's net.SplitHostPort plus port parsing; messages follow Go's. */
export function splitHostPort(addr: string): HostPort {
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0) throw new Error(`address ${addr}: missing ']' in address`);
    host = addr.slice(1, close);
    const rest = addr.slice(close + 1);
    if (!rest.startsWith(':')) throw new Error(`address ${addr}: missing port in address`);
    portText = rest.slice(1);
  } else {
    const i = addr.lastIndexOf(':');
    if (i < 0) throw new Error(`address ${addr}: missing port in address`);
    host = addr.slice(0, i);
    if (host.includes(':')) throw new Error(`address ${addr}: too many colons in address`);
    portText = addr.slice(i + 1);
  }
  const port = portText === '' ? 0 : Number(portText);
  if (!/^\d*$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`address ${addr}: invalid port`);
  }
  return { host, port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Where a listen address binds. `localhost` is pinned to 127.0.0.1 (Go resolves it to
 * IPv4 first) and an empty host means 127.0.0.1 too (Toxiproxy would bind every
 * interface; halab stays on loopback).
 */
export function resolveListen(listen: string): HostPort {
  const { host, port } = splitHostPort(listen);
  const h = host === '' || host.toLowerCase() === 'localhost' ? '127.0.0.1' : host;
  return { host: h, port };
}

function bindMessage(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'bind: address already in use';
    case 'EACCES':
      return 'bind: permission denied';
    case 'EADDRNOTAVAIL':
      return 'bind: cannot assign requested address';
    default:
      return err.message;
  }
}

export interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

export class Proxy implements ConnectionOwner {
  name: string;
  listen: string;
  upstream: string;
  enabled = false;
  readonly toxics: ToxicCollection;
  private server: net.Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly dialing = new Set<net.Socket>();

  constructor(
    input: { name: string; listen: string; upstream: string },
    private readonly log: Logger = () => {},
  ) {
    this.name = input.name;
    this.listen = input.listen;
    this.upstream = input.upstream;
    this.toxics = new ToxicCollection((t) => this.log(`proxy ${this.name}: toxic ${t.name} expired after ${t.durationMs} ms`));
  }

  toJSON(): ProxyJson {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      toxics: this.toxics.all().map(toxicToJson),
    };
  }

  /** Number of live client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  // ---- ConnectionOwner ----
  chain(direction: Direction): readonly Toxic[] {
    return this.toxics.chain(direction);
  }
  register(conn: Connection): void {
    this.connections.add(conn);
    for (const link of conn.links()) this.toxics.addLink(link);
  }
  unregister(conn: Connection): void {
    this.connections.delete(conn);
    for (const link of conn.links()) this.toxics.removeLink(link);
  }

  /** Start listening. Throws ProxyAlreadyStarted if enabled, ApiError(500) on listen errors. */
  async start(): Promise<void> {
    if (this.enabled) throw new ProxyAlreadyStarted();
    let bind: HostPort;
    try {
      bind = resolveListen(this.listen);
    } catch (err) {
      throw Errors.internal(`listen tcp ${this.listen}: ${(err as Error).message}`);
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) =>
      this.accept(socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(Errors.internal(`listen tcp ${joinHostPort(bind.host, bind.port)}: ${bindMessage(err)}`)),
      );
      server.listen({ host: bind.host, port: bind.port }, () => resolve());
    });
    server.on('error', (err) => this.log(`proxy ${this.name}: listener error: ${err.message}`));
    const addr = server.address() as net.AddressInfo;
    this.server = server;
    this.listen = joinHostPort(addr.address, addr.port);
    this.enabled = true;
    this.log(`proxy ${this.name}: listening on ${this.listen} -> ${this.upstream}`);
  }

  /** Close the listener and every connection (the "down" state). */
  stop(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.server?.close();
    this.server = undefined;
    for (const s of this.dialing) s.destroy();
    this.dialing.clear();
    for (const c of [...this.connections]) c.destroy();
    this.log(`proxy ${this.name}: stopped`);
  }

  /** Like Toxiproxy's Differs: does `input` change the listen address or upstream? */
  differs(input: { listen: string; upstream: string }): boolean {
    let resolved: HostPort;
    try {
      resolved = resolveListen(input.listen);
    } catch (err) {
      throw Errors.internal((err as Error).message);
    }
    return this.listen !== joinHostPort(resolved.host, resolved.port) || this.upstream !== input.upstream;
  }

  async update(input: { listen: string; upstream: string; enabled: boolean }): Promise<void> {
    if (this.differs(input)) {
      this.stop();
      this.listen = input.listen;
      this.upstream = input.upstream;
    }
    if (input.enabled !== this.enabled) {
      if (input.enabled) await this.start();
      else this.stop();
    }
  }

  /** Stop and drop everything (proxy deleted). */
  dispose(): void {
    this.stop();
    this.toxics.dispose();
  }

  private accept(client: net.Socket): void {
    let target: HostPort;
    try {
      target = splitHostPort(this.upstream);
    } catch (err) {
      this.log(`proxy ${this.name}: bad upstream ${this.upstream}: ${(err as Error).message}`);
      client.destroy();
      return;
    }
    const ignore = () => {};
    client.on('error', ignore);
    this.dialing.add(client);
    const upstream = net.connect({ host: target.host || '127.0.0.1', port: target.port, allowHalfOpen: true, noDelay: true });
    upstream.on('error', ignore);
    const abandon = () => {
      this.dialing.delete(client);
      upstream.destroy();
      client.destroy();
    };
    client.once('close', () => {
      if (this.dialing.has(client)) abandon();
    });
    upstream.once('error', (err) => {
      if (!this.dialing.has(client)) return;
      this.log(`proxy ${this.name}: unable to open connection to upstream ${this.upstream}: ${err.message}`);
      abandon();
    });
    upstream.once('connect', () => {
      if (!this.dialing.delete(client) || client.destroyed) {
        upstream.destroy();
        return;
      }
      client.off('error', ignore);
      upstream.off('error', ignore);
      new Connection(client, upstream, this);
    });
  }
}

export class ProxyAlreadyStarted extends Error {
  constructor() {
    super('Proxy already started');
  }
}

/** All proxies of a server (Toxiproxy's ProxyCollection). */
export class ProxyCollection {
  private readonly proxies = new Map<string, Proxy>();

  constructor(private readonly log: Logger = () => {}) {}

  /** Proxies sorted by name (Go marshals maps with sorted keys). */
  list(): Proxy[] {
    return [...this.proxies.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): Proxy {
    const p = this.proxies.get(name);
    if (!p) throw Errors.proxyNotFound();
    return p;
  }

  async add(input: ProxyInput): Promise<Proxy> {
    if (this.proxies.has(input.name)) throw Errors.proxyExists();
    const proxy = new Proxy(input, this.log);
    if (input.enabled) await proxy.start();
    this.proxies.set(proxy.name, proxy);
    return proxy;
  }

  async addOrReplace(input: ProxyInput): Promise<Proxy> {
    const existing = this.proxies.get(input.name);
    if (existing) {
      if (!existing.differs(input)) return existing;
      existing.dispose();
    }
    const proxy = new Proxy(input, this.log);
    if (input.enabled) await proxy.start();
    this.proxies.set(proxy.name, proxy);
    return proxy;
  }

  remove(name: string): void {
    const proxy = this.get(name);
    proxy.dispose();
    this.proxies.delete(name);
  }

  clear(): void {
    for (const p of this.proxies.values()) p.dispose();
    this.proxies.clear();
  }

  /** POST /populate. Returns the proxies handled before a failure along with the error. */
  async populate(body: unknown): Promise<{ proxies: Proxy[]; error?: ApiError }> {
    if (!Array.isArray(body)) {
      throw Errors.badBody(`json: cannot unmarshal ${JsonShape.kind(body)} into Go value of type []toxiproxy.Proxy`);
    }
    // Check every entry before touching any proxy.
    const inputs: { input: ProxyInput; toxics?: Toxic[] }[] = body.map((item, i) => {
      const shape = new JsonShape(asObject(item, 'toxiproxy.Proxy'), 'Proxy');
      const name = shape.string('name') ?? '';
      const listen = shape.string('listen') ?? '';
      const upstream = shape.string('upstream') ?? '';
      const enabled = shape.bool('enabled') ?? true;
      if (name.length < 1) throw Errors.missingField(`name at proxy ${i + 1}`);
      if (upstream.length < 1) throw Errors.missingField(`upstream at proxy ${i + 1}`);
      const rawToxics = shape.raw('toxics');
      let toxics: Toxic[] | undefined;
      if (rawToxics !== undefined && rawToxics !== null) {
        if (!Array.isArray(rawToxics)) {
          throw Errors.badBody(`json: cannot unmarshal ${JsonShape.kind(rawToxics)} into Go struct field Proxy.toxics of type []toxics.ToxicWrapper`);
        }
        const list: Toxic[] = [];
        rawToxics.forEach((raw, j) => {
          try {
            list.push(parseNewToxic(raw, (n) => list.some((t) => t.name === n)));
          } catch (err) {
            if (err instanceof ApiError) throw new ApiError(`${err.message} at proxy ${i + 1} toxic ${j + 1}`, err.status);
            throw err;
          }
        });
        toxics = list;
      }
      return { input: { name, listen, upstream, enabled }, toxics };
    });
    const done: Proxy[] = [];
    for (const { input, toxics } of inputs) {
      try {
        const proxy = await this.addOrReplace(input);
        if (toxics) proxy.toxics.replaceAll(toxics);
        done.push(proxy);
      } catch (err) {
        return { proxies: done, error: err instanceof ApiError ? err : Errors.internal(String(err)) };
      }
    }
    return { proxies: done };
  }
}
