// Real clients of each service's protocol (used by the probe in the client node, by the agent to
// know a standby is ready, and by the deploy's readiness check): an HTTP GET, an SMTP session
// (greeting, EHLO, MAIL, RCPT, QUIT), a DNS query (TXT whoami + an A record from the NFS data),
// and the monitor's HTTP state. Each resolves to the answering server's node name or throws.
import { connect } from 'node:net';
import { Resolver } from 'node:dns/promises';

export type ServiceKind = 'web' | 'mail' | 'name' | 'monitor';

/** Names the DNS data defines (written on the NFS server; the probe asks for the first). */
export const DNS_ZONE = 'nmt.lab';
export const MONITOR_PORT = 7801;

async function httpGet(url: string, timeoutMs: number): Promise<Response> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { connection: 'close' } });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return r;
}

export async function checkWeb(ip: string, timeoutMs: number): Promise<string> {
  const r = await httpGet(`http://${ip}/`, timeoutMs);
  const body = await r.text();
  if (!body.includes('nmt web')) throw new Error('unexpected page (the NFS data is missing)');
  return r.headers.get('x-served-by') ?? '?';
}

export async function checkMonitor(ip: string, timeoutMs: number): Promise<string> {
  const r = await httpGet(`http://${ip}:${MONITOR_PORT}/state`, timeoutMs);
  return ((await r.json()) as { node: string }).node;
}

export async function checkName(ip: string, timeoutMs: number): Promise<string> {
  const res = new Resolver({ timeout: timeoutMs, tries: 1 });
  res.setServers([ip]);
  const [who, www] = await Promise.all([res.resolveTxt(`whoami.${DNS_ZONE}`), res.resolve4(`www.${DNS_ZONE}`)]);
  if (www.length === 0) throw new Error('no A record for www');
  return who[0]?.join('') ?? '?';
}

/** One SMTP session; the server's name is the second word of its 220 greeting. */
export function checkMail(ip: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: ip, port: 25 });
    const steps: [string | null, string][] = [
      [null, '220'],
      ['EHLO probe.nmt.lab', '250'],
      ['MAIL FROM:<probe@nmt.lab>', '250'],
      [`RCPT TO:<postmaster@${DNS_ZONE}>`, '250'],
      ['QUIT', '221'],
    ];
    let server = '?';
    let buf = '';
    const fail = (e: Error) => {
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error('SMTP timeout')), timeoutMs);
    sock.on('error', (e) => {
      clearTimeout(timer);
      fail(e);
    });
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      // A reply is complete at a line "NNN text" (not "NNN-text").
      const lines = buf.split('\r\n');
      const last = [...lines].reverse().find((l) => /^\d{3} /.test(l));
      if (!last) return;
      buf = '';
      const [, expect] = steps.shift()!;
      if (!last.startsWith(expect)) return fail(new Error(`SMTP: expected ${expect}, got '${last}'`));
      if (expect === '220') server = last.split(' ')[1] ?? '?';
      const next = steps[0];
      if (!next) {
        clearTimeout(timer);
        sock.end();
        return resolve(server);
      }
      sock.write(`${next[0]}\r\n`);
    });
  });
}

export function check(kind: ServiceKind, ip: string, timeoutMs: number): Promise<string> {
  switch (kind) {
    case 'web':
      return checkWeb(ip, timeoutMs);
    case 'mail':
      return checkMail(ip, timeoutMs);
    case 'name':
      return checkName(ip, timeoutMs);
    case 'monitor':
      return checkMonitor(ip, timeoutMs);
  }
}
