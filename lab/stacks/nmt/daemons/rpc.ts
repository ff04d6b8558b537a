// What the monitor (and the agent watching the monitor's primary) does to one host per tick: an
// ICMP ping (the paper's "ping utility program") and, when it answers, the agent's status (load
// and services) over HTTP — plus the agent RPCs, and the event log every daemon appends to.
import { appendFileSync, mkdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { ProbeResult, StatusReply } from '../schedule.ts';

const EVENTS = '/var/log/halab/events.jsonl';

export function event(node: string, type: string, data: Record<string, unknown>): void {
  mkdirSync('/var/log/halab', { recursive: true });
  appendFileSync(EVENTS, JSON.stringify({ t: Date.now(), node, source: 'nmt', type, data }) + '\n');
}

/** One ICMP echo with a timeout (iputils ping takes fractional -W). */
export function ping(address: string, timeoutS: number): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('ping', ['-n', '-q', '-c', '1', '-W', String(timeoutS), address], { stdio: 'ignore' });
    const kill = setTimeout(() => p.kill('SIGKILL'), timeoutS * 1000 + 500);
    p.on('exit', (code) => {
      clearTimeout(kill);
      resolve(code === 0);
    });
    p.on('error', () => resolve(false));
  });
}

export async function rpc<T>(address: string, port: number, path: string, body: unknown, timeoutS: number): Promise<T> {
  const r = await fetch(`http://${address}:${port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json', connection: 'close' },
    signal: AbortSignal.timeout(timeoutS * 1000),
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${path} on ${address}: HTTP ${r.status} ${text}`);
  return JSON.parse(text) as T;
}

/**
 * Ping (within the ping timeout) and the agent's status (within the longer status timeout), in
 * parallel; a host that misses its ping is judged at once, without waiting for its status.
 */
export async function probeHost(node: string, address: string, port: number, pingTimeoutS: number, statusTimeoutS: number): Promise<ProbeResult> {
  const status = rpc<StatusReply>(address, port, '/status', undefined, statusTimeoutS).catch(() => 'timeout' as const);
  if (!(await ping(address, pingTimeoutS))) return { node, ping: false, status: 'timeout' };
  return { node, ping: true, status: await status };
}
