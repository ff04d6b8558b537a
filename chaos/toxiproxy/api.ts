// Toxiproxy's HTTP API (api.go): routes, status codes and JSON bodies.
import type http from 'node:http';
import { ApiError, Errors, JsonShape, asObject, parseJsonBody } from './errors.ts';
import { ProxyAlreadyStarted, type Logger, type ProxyCollection } from './proxy.ts';
import { toxicToJson } from './toxic-collection.ts';

/** Reported by GET /version: the Toxiproxy release whose API this mirrors, plus build tag. */
export const TOXIPROXY_VERSION = '2.12.0+halab';

const MAX_BODY = 10 * 1024 * 1024;

interface Reply {
  status: number;
  body?: unknown; // JSON-encoded unless `text` is set
  text?: string;
  contentType?: string;
}

type Handler = (params: string[], body: () => Promise<unknown>, method: string) => Promise<Reply> | Reply;

interface Route {
  pattern: string[]; // '*' matches one segment
  methods: Record<string, Handler>;
}

const json = (body: unknown, status = 200): Reply => ({ status, body });
const noContent = (): Reply => ({ status: 204 });

export interface ApiOptions {
  /** Called once per API request with a one-line summary. */
  log?: Logger;
}

/** Build the request handler for a proxy collection. */
export function createApiHandler(proxies: ProxyCollection, options: ApiOptions = {}): http.RequestListener {
  // Toxiproxy guards every change with locks; here requests that change state run one at a time.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T> | T): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  const routes: Route[] = [
    { pattern: ['reset'], methods: { POST: () => serial(reset) } },
    {
      pattern: ['proxies'],
      methods: {
        GET: () => json(Object.fromEntries(proxies.list().map((p) => [p.name, p.toJSON()]))),
        POST: async (_p, body) => serial(async () => createProxy(await body())),
      },
    },
    { pattern: ['populate'], methods: { POST: async (_p, body) => serial(async () => populate(await body())) } },
    {
      pattern: ['proxies', '*'],
      methods: {
        GET: ([name]) => json(proxies.get(name).toJSON()),
        POST: ([name], body) => serial(() => updateProxy(name, body)),
        PATCH: ([name], body) => serial(() => updateProxy(name, body)),
        DELETE: ([name]) =>
          serial(() => {
            proxies.remove(name);
            return noContent();
          }),
      },
    },
    {
      pattern: ['proxies', '*', 'toxics'],
      methods: {
        GET: ([name]) => json(proxies.get(name).toxics.all().map(toxicToJson)),
        // Toxiproxy answers 200 (not 201) for a new toxic.
        POST: async ([name], body) =>
          serial(async () => {
            const proxy = proxies.get(name);
            return json(toxicToJson(proxy.toxics.addJson(await body())));
          }),
      },
    },
    {
      pattern: ['proxies', '*', 'toxics', '*'],
      methods: {
        GET: ([name, toxic]) => {
          const t = proxies.get(name).toxics.get(toxic);
          if (!t) throw Errors.toxicNotFound();
          return json(toxicToJson(t));
        },
        POST: ([name, toxic], body) => serial(() => updateToxic(name, toxic, body)),
        PATCH: ([name, toxic], body) => serial(() => updateToxic(name, toxic, body)),
        DELETE: ([name, toxic]) =>
          serial(() => {
            proxies.get(name).toxics.remove(toxic);
            return noContent();
          }),
      },
    },
    {
      pattern: ['version'],
      methods: {
        GET: () => ({
          status: 200,
          text: `{"version": "${TOXIPROXY_VERSION}"}\n`,
          contentType: 'application/json;charset=utf-8',
        }),
      },
    },
  ];

  async function reset(): Promise<Reply> {
    for (const proxy of proxies.list()) {
      try {
        await proxy.start();
      } catch (err) {
        if (!(err instanceof ProxyAlreadyStarted)) throw err;
      }
      proxy.toxics.reset();
    }
    return noContent();
  }

  async function createProxy(body: unknown): Promise<Reply> {
    const shape = new JsonShape(asObject(body, 'toxiproxy.Proxy'), 'Proxy');
    const name = shape.string('name') ?? '';
    const listen = shape.string('listen') ?? '';
    const upstream = shape.string('upstream') ?? '';
    const enabled = shape.bool('enabled') ?? true;
    if (name.length < 1) throw Errors.missingField('name');
    if (upstream.length < 1) throw Errors.missingField('upstream');
    const proxy = await proxies.add({ name, listen, upstream, enabled });
    return json(proxy.toJSON(), 201);
  }

  async function populate(body: unknown): Promise<Reply> {
    const { proxies: done, error } = await proxies.populate(body);
    const list = done.map((p) => p.toJSON());
    if (error) return json({ error: error.message, status: error.status, proxies: list }, error.status);
    return json({ proxies: list }, 201);
  }

  async function updateProxy(name: string, body: () => Promise<unknown>): Promise<Reply> {
    const proxy = proxies.get(name);
    const shape = new JsonShape(asObject(await body(), 'toxiproxy.Proxy'), 'Proxy');
    const input = {
      listen: shape.string('listen') ?? proxy.listen,
      upstream: shape.string('upstream') ?? proxy.upstream,
      enabled: shape.bool('enabled') ?? proxy.enabled,
    };
    shape.string('name'); // type-checked like Go, but a proxy cannot be renamed
    await proxy.update(input);
    return json(proxy.toJSON());
  }

  async function updateToxic(name: string, toxic: string, body: () => Promise<unknown>): Promise<Reply> {
    const toxics = proxies.get(name).toxics;
    if (!toxics.get(toxic)) throw Errors.toxicNotFound();
    return json(toxicToJson(toxics.updateJson(toxic, await body())));
  }

  return (req, res) => {
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://toxiproxy');
    const send = (reply: Reply) => {
      if (!res.headersSent) {
        if (reply.status === 204) {
          res.writeHead(204).end();
        } else if (reply.text !== undefined) {
          res.writeHead(reply.status, { 'Content-Type': reply.contentType ?? 'text/plain; charset=utf-8' }).end(reply.text);
        } else {
          res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
        }
      }
      options.log?.(`${method} ${url.pathname} ${reply.status} ${(performance.now() - started).toFixed(1)}ms`);
    };
    const fail = (err: unknown) => {
      const apiErr = err instanceof ApiError ? err : Errors.internal(err instanceof Error ? err.message : String(err));
      // Go's http.Error: text/plain, JSON text plus a newline.
      res.setHeader('X-Content-Type-Options', 'nosniff');
      send({ status: apiErr.status, text: JSON.stringify(apiErr) + '\n' });
    };

    let segments: string[];
    try {
      segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return send({ status: 404, text: '404 page not found\n' });
    }
    const match = routes
      .map((route) => ({ route, params: matchRoute(route.pattern, segments) }))
      .find((m) => m.params !== undefined);
    if (!match) return send({ status: 404, text: '404 page not found\n' });
    const handler = match.route.methods[method];
    if (!handler) return send({ status: 405, text: '' });
    if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
      return send({ status: 403, text: 'User agent not allowed\n' });
    }
    const body = () => readBody(req).then(parseJsonBody);
    Promise.resolve()
      .then(() => handler(match.params!, body, method))
      .then(send, fail);
  };
}

function matchRoute(pattern: string[], segments: string[]): string[] | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: string[] = [];
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '*') {
      if (segments[i] === '') return undefined;
      params.push(segments[i]);
    } else if (pattern[i] !== segments[i]) return undefined;
  }
  return params;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(Errors.badBody('http: request body too large'));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}
