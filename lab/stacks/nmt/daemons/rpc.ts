// What the monitor (and the agent watching the monitor's primary) does to the hosts per tick: an
// ICMP ping (the paper's "ping utility program"; fping, one process for all hosts) and, when it
// answers, the agent's status (load and services) over HTTP — plus the agent RPCs, and the event
// log every daemon appends to.
import { appendFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import type { ProbeResult, StatusReply } from '../schedule.ts';

const EVENTS = '/var/log/halab/events.jsonl';

export function event(node: string, type: string, data: Record<string, unknown>): void {
  mkdirSync('/var/log/halab', { recursive: true });
  appendFileSync(EVENTS, JSON.stringify({ t: Date.now(), node, source: 'nmt', type, data }) + '\n');
}

/**
 * One ICMP echo to each address, all from one fping process (one fork per tick: eight `ping`
 * processes forked from node cost a 0.25-core host about a third of its cap at M = 1 s).
 * Resolves to the addresses that answered within the timeout.
 */
export function pingAll(addresses: readonly string[], timeoutS: number): Promise<Set<string>> {
  return new Promise((resolve) => {
    if (addresses.length === 0) return resolve(new Set());
    const timeoutMs = String(Math.max(1, Math.round(timeoutS * 1000)));
    // -a: print the alive ones; -r 0: no retry (the paper's single ping); -i 1: 1 ms between targets
    const p = spawn('fping', ['-a', '-r', '0', '-t', timeoutMs, '-i', '1', ...addresses], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000 + 1000);
    const done = () => {
      clearTimeout(kill);
      resolve(new Set(out.split('\n').map((l) => l.trim()).filter((a) => addresses.includes(a))));
    };
    p.on('close', done);
    p.on('error', done);
  });
}

/**
 * An agent RPC: HTTP/JSON, one connection per call, the whole call bounded by `timeoutS` (a status
 * that trickles in late is late). node:http rather than fetch, the heavier client: the monitor
 * makes several calls a second on a 0.25-core host.
 */
export function rpc<T>(address: string, port: number, path: string, body: unknown, timeoutS: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request({ host: address, port, path, method: data === undefined ? 'GET' : 'POST', agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${path} on ${address}: HTTP ${res.statusCode} ${text}`));
        try {
          resolve(JSON.parse(text) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    const deadline = setTimeout(() => req.destroy(new Error(`${path} on ${address}: no answer within ${timeoutS} s`)), timeoutS * 1000);
    req.on('error', reject);
    req.on('close', () => clearTimeout(deadline));
    req.end(data);
  });
}

/**
 * Ping every host (one fping, within the ping timeout) and ask each agent's status (within the
 * longer status timeout), in parallel; a host that misses its ping is judged at once, without
 * waiting for its status.
 */
export async function probeHosts(hosts: readonly { name: string; address: string }[], port: number, pingTimeoutS: number, statusTimeoutS: number): Promise<ProbeResult[]> {
  const statuses = hosts.map((h) => rpc<StatusReply>(h.address, port, '/status', undefined, statusTimeoutS).catch(() => 'timeout' as const));
  const alive = await pingAll(hosts.map((h) => h.address), pingTimeoutS);
  return Promise.all(hosts.map(async (h, i) => (alive.has(h.address) ? { node: h.name, ping: true, status: await statuses[i]! } : { node: h.name, ping: false, status: 'timeout' as const })));
}
