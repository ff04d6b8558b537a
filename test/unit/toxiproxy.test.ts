// The Toxiproxy-compatible server, driven through the unchanged toxiproxy-node-client
// against real sockets on 127.0.0.1. Every toxic is proved by a measurement.
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { Toxiproxy, type Proxy, type ICreateToxicBody, type ToxicType, type ToxicDirection } from 'toxiproxy-node-client';
import { startToxiproxyServer, type ToxiproxyServer } from '../../chaos/toxiproxy/server.ts';

const HOST = '127.0.0.1';

// ---- helpers ---------------------------------------------------------------------------

interface Upstream {
  port: number;
  addr: string;
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1:0; `onSocket` decides what it does. */
async function tcpServer(onSocket: (s: net.Socket) => void): Promise<Upstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    addr: `${HOST}:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

const echoServer = () => tcpServer((s) => s.pipe(s));
/** Sends `payload` on connect, then closes. */
const senderServer = (payload: Buffer) => tcpServer((s) => s.end(payload));

function portOf(listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1));
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    s.setNoDelay(true);
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** One request/response round trip of `payload` on an echo connection, in ms. */
function roundTrip(s: net.Socket, payload = Buffer.from('ping')): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const t0 = performance.now();
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= payload.length) {
        s.off('data', onData);
        s.off('error', reject);
        resolve(performance.now() - t0);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(payload);
  });
}

/** Median RTT over `n` round trips on a fresh connection. */
async function medianRtt(port: number, n = 5): Promise<number> {
  const s = await connect(port);
  try {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) samples.push(await roundTrip(s));
    return median(samples);
  } finally {
    s.destroy();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Received {
  chunks: Buffer[];
  bytes: number;
  /** ms from connect to the end of the stream ('end' or 'close'). */
  endedAfter: number;
  firstDataAfter?: number;
  error?: NodeJS.ErrnoException;
}

/** Connect, optionally write, and collect everything until the socket closes (bounded by `limitMs`). */
function collect(port: number, opts: { write?: Buffer; limitMs?: number } = {}): Promise<Received> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    const out: Received = { chunks: [], bytes: 0, endedAfter: NaN };
    let t0 = 0;
    const limit = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection still open after ${opts.limitMs ?? 5000} ms`));
    }, opts.limitMs ?? 5000);
    s.once('connect', () => {
      t0 = performance.now();
      if (opts.write) s.write(opts.write);
    });
    s.on('data', (d: Buffer) => {
      out.firstDataAfter ??= performance.now() - t0;
      out.chunks.push(d);
      out.bytes += d.length;
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      out.error = err;
    });
    s.on('close', () => {
      clearTimeout(limit);
      out.endedAfter = performance.now() - t0;
      resolve(out);
    });
  });
}

function statusOf(err: unknown): number {
  const m = /status code (\d+)/.exec(String((err as Error)?.message));
  return m ? Number(m[1]) : -1;
}

async function expectStatus(p: Promise<unknown>, status: number): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect(statusOf(err), String(err)).to.equal(status);
    return;
  }
  expect.fail(`expected HTTP ${status}`);
}

function toxic<T>(type: ToxicType, attributes: T, extra: Partial<ICreateToxicBody<T>> & { duration_ms?: number } = {}) {
  return { type, attributes, ...extra } as ICreateToxicBody<T>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- suite -----------------------------------------------------------------------------

describe('toxiproxy server', function () {
  this.timeout(10_000);

  let server: ToxiproxyServer;
  let tp: Toxiproxy;
  let echo: Upstream;

  before(async () => {
    server = await startToxiproxyServer({ host: HOST, port: 0 });
    tp = new Toxiproxy(server.url);
    echo = await echoServer();
  });

  after(async () => {
    await server?.close();
    await echo?.close();
  });

  afterEach(async () => {
    for (const p of Object.values(await tp.getAll())) await p.remove();
  });

  const echoProxy = (name = 'echo') => tp.createProxy({ name, listen: `${HOST}:0`, upstream: echo.addr });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, {
      method,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, type: res.headers.get('content-type') };
  };

  describe('API', () => {
    it('GET /version', async () => {
      const text = await tp.getVersion();
      expect(JSON.parse(text)).to.have.property('version').that.matches(/^2\.\d+\.\d+/);
    });

    it('creates a proxy, reporting the real port for port 0', async () => {
      const p = await echoProxy();
      expect(p.name).to.equal('echo');
      expect(p.enabled).to.equal(true);
      expect(p.upstream).to.equal(echo.addr);
      expect(p.listen).to.match(/^127\.0\.0\.1:\d+$/);
      expect(portOf(p.listen)).to.be.greaterThan(0);
      expect(await medianRtt(portOf(p.listen), 3)).to.be.lessThan(50);
      const raw = await api('GET', '/proxies/echo');
      expect(raw.json).to.deep.equal({ name: 'echo', listen: p.listen, upstream: echo.addr, enabled: true, toxics: [] });
    });

    it('creates a disabled proxy when enabled=false', async () => {
      const p = await tp.createProxy({ name: 'off', listen: `${HOST}:0`, upstream: echo.addr, enabled: false });
      expect(p.enabled).to.equal(false);
    });

    it('lists, gets, updates and deletes proxies', async () => {
      const a = await echoProxy('a');
      await echoProxy('b');
      const all = await tp.getAll();
      expect(Object.keys(all)).to.deep.equal(['a', 'b']);
      expect((await tp.get('a')).listen).to.equal(a.listen);

      const other = await echoServer();
      try {
        const moved = await a.update({ ...a.toJson(), upstream: other.addr });
        expect(moved.upstream).to.equal(other.addr);
        expect(moved.listen).to.equal(a.listen); // same listen address kept
        expect(moved.enabled).to.equal(true);
        expect(await medianRtt(portOf(moved.listen), 3)).to.be.lessThan(50);
      } finally {
        await other.close();
      }

      // A new listen address moves the proxy: the old port refuses, the new one works.
      const relisten = await a.update({ ...a.toJson(), listen: `${HOST}:0` });
      expect(relisten.listen).to.not.equal(a.listen);
      expect(await medianRtt(portOf(relisten.listen), 3)).to.be.lessThan(50);
      const refused = await connect(portOf(a.listen)).then(
        (s) => (s.destroy(), undefined),
        (e: NodeJS.ErrnoException) => e.code,
      );
      expect(refused).to.equal('ECONNREFUSED');

      await a.remove();
      await expectStatus(tp.get('a'), 404);
      expect(Object.keys(await tp.getAll())).to.deep.equal(['b']);
    });

    it('populates proxies (create, keep unchanged, replace changed)', async () => {
      const first = await tp.populate([
        { name: 'p1', listen: `${HOST}:0`, upstream: echo.addr },
        { name: 'p2', listen: `${HOST}:0`, upstream: echo.addr, enabled: false },
      ]);
      expect(first.p1.enabled).to.equal(true);
      expect(first.p2.enabled).to.equal(false);
      await first.p1.addToxic(toxic('latency', { latency: 10, jitter: 0 }));

      // Same listen/upstream: the proxy (and its toxics) are kept.
      const again = await tp.populate([{ name: 'p1', listen: first.p1.listen, upstream: echo.addr }]);
      expect(Object.keys(again)).to.deep.equal(['p1']);
      expect((await again.p1.getToxic('latency_downstream')).attributes).to.deep.equal({ latency: 10, jitter: 0 });
      // The raw answer (the client hides the status): 201 and no error fields.
      const raw = await api('POST', '/populate', [{ name: 'p1', listen: first.p1.listen, upstream: echo.addr }]);
      expect(raw.status).to.equal(201);
      expect(Object.keys(raw.json)).to.deep.equal(['proxies']);

      // Different upstream: replaced, toxics gone.
      const other = await echoServer();
      try {
        const replaced = await tp.populate([{ name: 'p1', listen: first.p1.listen, upstream: other.addr }]);
        expect(replaced.p1.upstream).to.equal(other.addr);
        await expectStatus(replaced.p1.getToxic('latency_downstream'), 404);
      } finally {
        await other.close();
      }
    });

    it('populates proxies with toxics (extension) and replaces the toxic set', async () => {
      // The client passes the body through unchanged, so the extension field reaches the server.
      const withToxics = (toxics?: unknown[]) =>
        [{ name: 'pt', listen: `${HOST}:0`, upstream: echo.addr, ...(toxics ? { toxics } : {}) }] as Parameters<Toxiproxy['populate']>[0];
      const { pt } = await tp.populate(
        withToxics([
          { type: 'latency', attributes: { latency: 120 } },
          { name: 'cut', type: 'limit_data', stream: 'upstream', attributes: { bytes: 100000 } },
        ]),
      );
      expect((await pt.getToxic('latency_downstream')).toJson()).to.deep.equal({
        attributes: { latency: 120, jitter: 0 },
        name: 'latency_downstream',
        stream: 'downstream',
        toxicity: 1,
        type: 'latency',
      });
      expect((await pt.getToxic('cut')).toJson()).to.include({ type: 'limit_data', stream: 'upstream' });
      // GET /proxies/{p}/toxics is not in the client: upstream chain first, then downstream.
      expect((await api('GET', '/proxies/pt/toxics')).json.map((t: { name: string }) => t.name)).to.deep.equal([
        'cut',
        'latency_downstream',
      ]);
      expect(await medianRtt(portOf(pt.listen), 3)).to.be.within(115, 200);

      // Populating again with a toxics list makes the set exactly that list.
      const again = withToxics([{ type: 'latency', attributes: { latency: 5 } }]);
      again[0].listen = pt.listen;
      await tp.populate(again);
      expect((await pt.getToxic('latency_downstream')).attributes).to.deep.equal({ latency: 5, jitter: 0 });
      await expectStatus(pt.getToxic('cut'), 404);
      // And with toxics omitted they are left alone (Toxiproxy behaviour).
      const third = withToxics();
      third[0].listen = pt.listen;
      await tp.populate(third);
      expect((await pt.getToxic<{ latency: number }>('latency_downstream')).attributes.latency).to.equal(5);
      expect(await medianRtt(portOf(pt.listen), 3)).to.be.lessThan(50);

      // Invalid toxics are rejected before anything is created.
      await expectStatus(tp.populate(withToxics([{ type: 'nonsense' }]).map((p) => ({ ...p, name: 'other' }))), 400);
      await expectStatus(tp.get('other'), 404);
    });

    it('lists toxics, updates a toxic through the client', async () => {
      const p = await echoProxy();
      const t = await p.addToxic(toxic('latency', { latency: 50, jitter: 0 }, { stream: 'upstream' }));
      expect(t.toJson()).to.deep.equal({
        attributes: { latency: 50, jitter: 0 },
        name: 'latency_upstream',
        stream: 'upstream',
        toxicity: 1,
        type: 'latency',
      });
      const updated = await t.update({ ...t.toJson(), attributes: { latency: 80, jitter: 5 }, toxicity: 0.5 });
      expect(updated.attributes).to.deep.equal({ latency: 80, jitter: 5 });
      expect(updated.toxicity).to.equal(0.5);
      expect((await p.getToxic('latency_upstream')).attributes).to.deep.equal({ latency: 80, jitter: 5 });
      const list = await api('GET', '/proxies/echo/toxics');
      expect(list.json).to.have.length(1);
      expect(list.json[0].name).to.equal('latency_upstream');
      await t.remove();
      await expectStatus(p.getToxic('latency_upstream'), 404);
    });

    it('answers errors with Toxiproxy status codes and bodies', async () => {
      const p = await echoProxy();
      // 409: duplicate proxy / toxic
      await expectStatus(echoProxy(), 409);
      const dup = await api('POST', '/proxies', { name: 'echo', listen: `${HOST}:0`, upstream: echo.addr });
      expect(dup.status).to.equal(409);
      expect(dup.json).to.deep.equal({ error: 'proxy already exists', status: 409 });
      await p.addToxic(toxic('latency', { latency: 1, jitter: 0 }));
      await expectStatus(p.addToxic(toxic('latency', { latency: 1, jitter: 0 })), 409);
      expect((await api('POST', '/proxies/echo/toxics', { type: 'latency' })).json).to.deep.equal({
        error: 'toxic already exists',
        status: 409,
      });

      // 404: unknown proxy / toxic
      await expectStatus(tp.get('nope'), 404);
      expect((await api('GET', '/proxies/nope')).json).to.deep.equal({ error: 'proxy not found', status: 404 });
      await expectStatus(p.getToxic('nope'), 404);
      expect((await api('DELETE', '/proxies/echo/toxics/nope')).json).to.deep.equal({ error: 'toxic not found', status: 404 });
      expect((await api('POST', '/proxies/nope/toxics', { type: 'latency' })).status).to.equal(404);
      expect((await api('DELETE', '/proxies/nope')).status).to.equal(404);
      expect(await api('GET', '/nothing-here')).to.include({ status: 404, text: '404 page not found\n' });
      expect((await api('PUT', '/proxies')).status).to.equal(405);

      // 400: bad bodies
      await expectStatus(tp.createProxy({ name: '', listen: `${HOST}:0`, upstream: echo.addr }), 400);
      expect((await api('POST', '/proxies', { name: 'x', listen: `${HOST}:0` })).json).to.deep.equal({
        error: 'missing required field: upstream',
        status: 400,
      });
      const bad = await api('POST', '/proxies', '{not json');
      expect(bad.status).to.equal(400);
      expect(bad.json.error).to.match(/^bad request body: /);
      expect((await api('POST', '/proxies', { name: 'x', upstream: echo.addr, enabled: 'yes' })).status).to.equal(400);
      await expectStatus(p.addToxic(toxic('nonsense' as ToxicType, {})), 400);
      expect((await api('POST', '/proxies/echo/toxics', { type: 'latency', stream: 'sideways' })).json).to.deep.equal({
        error: 'stream was invalid, can be either upstream or downstream',
        status: 400,
      });
      expect((await api('POST', '/proxies/echo/toxics', { name: 'z', type: 'latency', attributes: { latency: 'slow' } })).status).to.equal(400);
      const pop = await api('POST', '/populate', [{ name: 'ok', upstream: echo.addr }, { upstream: echo.addr }]);
      expect(pop.status).to.equal(400);
      expect(pop.json.error).to.equal('missing required field: name at proxy 2');
      expect(Object.keys(await tp.getAll())).to.deep.equal(['echo']); // nothing created

      // 500: listen failure (address in use), as Toxiproxy reports non-API errors
      const busy = await api('POST', '/proxies', { name: 'busy', listen: p.listen, upstream: echo.addr });
      expect(busy.status).to.equal(500);
      expect(busy.json.error).to.match(/address already in use/);
    });
  });

  describe('toxics', () => {
    it('latency raises the RTT by the latency, on new and existing connections', async () => {
      const p = await echoProxy();
      const port = portOf(p.listen);
      const base = await medianRtt(port);
      const live = await connect(port);
      try {
        await roundTrip(live);
        const t = await p.addToxic(toxic('latency', { latency: 150, jitter: 0 }));
        const withToxic = await medianRtt(port, 3);
        expect(withToxic - base).to.be.within(140, 200);
        const liveRtt = await roundTrip(live); // existing connection picks up the toxic
        expect(liveRtt).to.be.within(140, 220);
        await t.remove();
        expect(await roundTrip(live)).to.be.lessThan(50); // and drops it again
      } finally {
        live.destroy();
      }
    });

    it('latency on the upstream stream delays requests', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('latency', { latency: 100, jitter: 0 }, { stream: 'upstream' }));
      expect(await medianRtt(portOf(p.listen), 3)).to.be.within(95, 160);
    });

    it('latency jitter stays within latency ± jitter and varies', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('latency', { latency: 100, jitter: 40 }));
      const s = await connect(portOf(p.listen));
      const samples: number[] = [];
      try {
        for (let i = 0; i < 12; i++) samples.push(await roundTrip(s));
      } finally {
        s.destroy();
      }
      for (const rtt of samples) expect(rtt).to.be.within(58, 165);
      expect(Math.max(...samples) - Math.min(...samples)).to.be.greaterThan(10);
    });

    it('bandwidth limits throughput to the rate (±25 %)', async function () {
      const bytes = 400_000;
      const sender = await senderServer(Buffer.alloc(bytes, 7));
      try {
        const p = await tp.createProxy({ name: 'bw', listen: `${HOST}:0`, upstream: sender.addr });
        await p.addToxic(toxic('bandwidth', { rate: 500 })); // 500 KB/s -> ~0.8 s
        const got = await collect(portOf(p.listen));
        expect(got.bytes).to.equal(bytes);
        const kbPerSec = bytes / 1000 / (got.endedAfter / 1000);
        expect(kbPerSec).to.be.within(500 * 0.75, 500 * 1.25);
      } finally {
        await sender.close();
      }
    });

    it('slow_close delays the close', async () => {
      const sender = await senderServer(Buffer.from('bye'));
      try {
        const p = await tp.createProxy({ name: 'sc', listen: `${HOST}:0`, upstream: sender.addr });
        const base = await collect(portOf(p.listen));
        expect(base.endedAfter).to.be.lessThan(100);
        await p.addToxic(toxic('slow_close', { delay: 300 }));
        const slow = await collect(portOf(p.listen));
        expect(Buffer.concat(slow.chunks).toString()).to.equal('bye');
        expect(slow.firstDataAfter).to.be.lessThan(100); // data itself is not delayed
        expect(slow.endedAfter).to.be.within(295, 450);
      } finally {
        await sender.close();
      }
    });

    it('timeout drops all data and closes after the timeout', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('timeout', { timeout: 300 }));
      const got = await collect(portOf(p.listen), { write: Buffer.from('hello') });
      expect(got.bytes).to.equal(0);
      expect(got.endedAfter).to.be.within(290, 600);
    });

    it('timeout 0 holds the connection open until the toxic is removed', async () => {
      const p = await echoProxy();
      const t = await p.addToxic(toxic('timeout', { timeout: 0 }));
      const pending = collect(portOf(p.listen), { write: Buffer.from('hello') });
      await sleep(300);
      await t.remove(); // Toxiproxy closes the held connections on removal
      const got = await pending;
      expect(got.bytes).to.equal(0);
      expect(got.endedAfter).to.be.within(290, 700);
    });

    it('slicer delivers data in several chunks, intact', async () => {
      const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
      const sender = await senderServer(payload);
      try {
        const p = await tp.createProxy({ name: 'sl', listen: `${HOST}:0`, upstream: sender.addr });
        const base = await collect(portOf(p.listen));
        expect(base.chunks.length).to.be.lessThan(3);
        await p.addToxic(toxic('slicer', { average_size: 100, size_variation: 30, delay: 3000 }));
        const got = await collect(portOf(p.listen));
        expect(Buffer.concat(got.chunks).equals(payload)).to.equal(true);
        expect(got.chunks.length).to.be.greaterThan(10);
        for (const c of got.chunks) expect(c.length).to.be.at.most(260);
      } finally {
        await sender.close();
      }
    });

    it('limit_data closes the connection after N bytes', async () => {
      const sender = await senderServer(Buffer.alloc(10_000, 1));
      try {
        const p = await tp.createProxy({ name: 'ld', listen: `${HOST}:0`, upstream: sender.addr });
        await p.addToxic(toxic('limit_data', { bytes: 1234 }));
        const got = await collect(portOf(p.listen));
        expect(got.bytes).to.equal(1234);
        expect(got.error).to.equal(undefined);
      } finally {
        await sender.close();
      }
    });

    it('limit_data upstream: the upstream sees only N bytes', async () => {
      let seen = 0;
      const sink = await tcpServer((s) => s.on('data', (d: Buffer) => (seen += d.length)));
      try {
        const p = await tp.createProxy({ name: 'lu', listen: `${HOST}:0`, upstream: sink.addr });
        await p.addToxic(toxic('limit_data', { bytes: 500 }, { stream: 'upstream' }));
        const got = await collect(portOf(p.listen), { write: Buffer.alloc(5000, 2) });
        expect(seen).to.equal(500);
        expect(got.endedAfter).to.be.lessThan(1000);
      } finally {
        await sink.close();
      }
    });

    it('reset_peer resets the connection (ECONNRESET) after the timeout', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('reset_peer', { timeout: 200 }));
      const got = await collect(portOf(p.listen), { write: Buffer.from('hello') });
      expect(got.error?.code).to.equal('ECONNRESET');
      expect(got.bytes).to.equal(0);
      expect(got.endedAfter).to.be.within(190, 500);
    });

    it('toxicity 0 has no effect', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('latency', { latency: 300, jitter: 0 }, { toxicity: 0 }));
      await p.addToxic(toxic('timeout', { timeout: 1 }, { toxicity: 0, stream: 'upstream' }));
      expect(await medianRtt(portOf(p.listen), 3)).to.be.lessThan(50);
    });

    it('down: enabled=false refuses connections and drops live ones; enabling again works', async () => {
      const p = await echoProxy();
      const port = portOf(p.listen);
      const live = await connect(port);
      const liveClosed = new Promise<void>((r) => live.once('close', () => r()));
      live.on('error', () => {});
      const down = await p.update({ ...p.toJson(), enabled: false });
      expect(down.enabled).to.equal(false);
      await liveClosed;
      const err = await connect(port).then(
        (s) => {
          s.destroy();
          return undefined;
        },
        (e: NodeJS.ErrnoException) => e,
      );
      expect(err?.code).to.equal('ECONNREFUSED');
      const up = await down.update({ ...down.toJson(), enabled: true });
      expect(up.enabled).to.equal(true);
      expect(up.listen).to.equal(p.listen);
      expect(await medianRtt(port, 3)).to.be.lessThan(50);
    });

    it('POST /reset re-enables proxies and removes all toxics', async () => {
      const p = await echoProxy();
      await p.addToxic(toxic('latency', { latency: 200, jitter: 0 }));
      await p.addToxic(toxic('bandwidth', { rate: 1 }, { stream: 'upstream' }));
      await p.update({ ...p.toJson(), enabled: false });
      await tp.reset();
      const after = await tp.get('echo');
      expect(after.enabled).to.equal(true);
      expect((await api('GET', '/proxies/echo/toxics')).json).to.deep.equal([]);
      expect(await medianRtt(portOf(after.listen), 3)).to.be.lessThan(50);
    });

    it('duration_ms (extension) removes the toxic by itself', async () => {
      const p = await echoProxy();
      const t = await p.addToxic(toxic('latency', { latency: 150, jitter: 0 }, { duration_ms: 400 }));
      expect(t.name).to.equal('latency_downstream');
      expect((await api('GET', '/proxies/echo/toxics/latency_downstream')).json.duration_ms).to.equal(400);
      const s = await connect(portOf(p.listen));
      try {
        expect(await roundTrip(s)).to.be.within(140, 220);
        await sleep(450);
        await expectStatus(p.getToxic('latency_downstream'), 404);
        expect(await roundTrip(s)).to.be.lessThan(50); // the live connection is released too
      } finally {
        s.destroy();
      }
    });

    it('keeps a stream intact and ordered while toxics come and go, then frees the connection', async () => {
      const p = await echoProxy();
      const total = 2 * 1024 * 1024;
      const payload = Buffer.alloc(total);
      for (let i = 0; i < total; i += 4) payload.writeUInt32LE(i, i);
      const s = await connect(portOf(p.listen));
      const received: Buffer[] = [];
      let got = 0;
      const done = new Promise<void>((resolve, reject) => {
        s.on('data', (d: Buffer) => {
          received.push(d);
          got += d.length;
        });
        s.once('end', () => resolve());
        s.once('error', reject);
      });
      // Write in 64 KiB pieces with pauses while toxics are added/updated/removed.
      const writer = (async () => {
        for (let off = 0; off < total; off += 65536) {
          if (!s.write(payload.subarray(off, off + 65536))) await new Promise((r) => s.once('drain', r));
          await sleep(8);
        }
        s.end();
      })();
      const lat = await p.addToxic(toxic('latency', { latency: 20, jitter: 10 }, { stream: 'upstream' }));
      await sleep(30);
      const sl = await p.addToxic(toxic('slicer', { average_size: 4000, size_variation: 1000, delay: 100 }));
      await sleep(30);
      const bw = await p.addToxic(toxic('bandwidth', { rate: 20000 }));
      await sleep(30);
      await lat.update({ ...lat.toJson(), attributes: { latency: 5, jitter: 0 } });
      await sleep(30);
      await sl.remove();
      await lat.remove();
      await sleep(30);
      await bw.remove();
      await writer;
      await done;
      expect(got).to.equal(total);
      expect(Buffer.concat(received).equals(payload)).to.equal(true);
      // Both halves closed: the proxy forgets the connection.
      for (let i = 0; i < 50 && server.proxies.get('echo').connectionCount > 0; i++) await sleep(10);
      expect(server.proxies.get('echo').connectionCount).to.equal(0);
      s.destroy();
    });

    it('closes the client when the upstream is unreachable', async () => {
      const gone = await echoServer();
      await gone.close(); // a port nobody listens on
      const p = await tp.createProxy({ name: 'dead', listen: `${HOST}:0`, upstream: `${HOST}:${gone.port}` });
      const got = await collect(portOf(p.listen), { write: Buffer.from('anyone?') });
      expect(got.bytes).to.equal(0);
      expect(got.endedAfter).to.be.lessThan(500);
    });

    it('carries HTTP through a latency toxic', async () => {
      const web = http.createServer((_req, res) => res.end('ok'));
      await new Promise<void>((r) => web.listen(0, HOST, r));
      try {
        const upstream = `${HOST}:${(web.address() as net.AddressInfo).port}`;
        const p: Proxy = await tp.createProxy({ name: 'web', listen: `${HOST}:0`, upstream });
        await p.addToxic(toxic('latency', { latency: 100, jitter: 0 }, { stream: 'downstream' as ToxicDirection }));
        const t0 = performance.now();
        const res = await fetch(`http://${p.listen}/`);
        expect(await res.text()).to.equal('ok');
        expect(performance.now() - t0).to.be.within(95, 400);
      } finally {
        web.closeAllConnections();
        await new Promise((r) => web.close(r));
      }
    });
  });
});
