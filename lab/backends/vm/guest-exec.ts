// Exec in a VM guest: JSON lines to halab's agent (images/vm/guest/agent.mjs) over a virtio-serial
// port, reached through launch.mjs's relay socket inside the node's container. Out of band: it
// does not use the lab NICs, so it works while the node's links are down or partitioned.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { ExecResult } from '../backend.ts';

export interface AgentRequest {
  cmd?: string[];
  ping?: boolean;
  env?: Record<string, string>;
  /** Raw bytes for the command's stdin. */
  stdin?: Buffer | string;
  timeoutMs?: number;
  user?: string;
  cwd?: string;
}

interface AgentReply {
  id: string;
  pong?: boolean;
  uptime?: number;
  /** The guest's wall clock (ms) when the agent answered a ping. */
  now?: number;
  code?: number;
  signal?: string | null;
  stdout?: string;
  stderr?: string;
}

export class AgentUnavailable extends Error {}

export function agentCall(socketPath: string, req: AgentRequest, timeoutMs: number): Promise<AgentReply> {
  const id = randomUUID();
  const { stdin, ...rest } = req;
  const line =
    JSON.stringify({ id, ...rest, ...(stdin !== undefined ? { stdin: Buffer.from(stdin).toString('base64') } : {}) }) + '\n';
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => done(new AgentUnavailable(`guest agent did not answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (err: Error | null, value?: AgentReply) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    sock.on('connect', () => sock.write(line));
    sock.on('error', (e) => done(new AgentUnavailable(`guest agent: ${e.message}`)));
    sock.on('close', () => done(new AgentUnavailable('guest agent: connection closed')));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as AgentReply;
        buf = buf.slice(nl + 1);
        if (msg.id === id) return done(null, msg);
      }
    });
  });
}

export async function guestExec(socketPath: string, cmd: string[], opts: Omit<AgentRequest, 'cmd' | 'ping'> = {}): Promise<ExecResult> {
  // The outer timeout leaves the agent time to kill the command and report.
  const outer = opts.timeoutMs ? opts.timeoutMs + 10_000 : 24 * 3600_000;
  const r = await agentCall(socketPath, { ...opts, cmd }, outer);
  return {
    exitCode: r.code ?? -1,
    stdout: Buffer.from(r.stdout ?? '', 'base64').toString('utf8'),
    stderr: Buffer.from(r.stderr ?? '', 'base64').toString('utf8'),
  };
}

/** Guest uptime in seconds when the agent answers, else undefined. */
export async function guestPing(socketPath: string, timeoutMs = 2000): Promise<number | undefined> {
  try {
    return (await agentCall(socketPath, { ping: true }, timeoutMs)).uptime;
  } catch {
    return undefined;
  }
}

/**
 * The guest clock's offset from the host's (ms, guest − host), from a ping answered inside the
 * agent (no process spawned): the host times the round trip and takes its midpoint, so the
 * error is at most half the round trip (`uncertaintyMs`). The best of `samples` round trips.
 */
export async function guestClockOffset(socketPath: string, samples = 5, timeoutMs = 5000): Promise<{ offsetMs: number; uncertaintyMs: number } | undefined> {
  let best: { offsetMs: number; uncertaintyMs: number } | undefined;
  for (let i = 0; i < samples; i++) {
    const t0 = Date.now();
    const r = await agentCall(socketPath, { ping: true }, timeoutMs).catch(() => undefined);
    const t1 = Date.now();
    if (r?.now === undefined) continue;
    const sample = { offsetMs: r.now - (t0 + t1) / 2, uncertaintyMs: (t1 - t0) / 2 };
    if (!best || sample.uncertaintyMs < best.uncertaintyMs) best = sample;
  }
  return best;
}

/** Shell (run in the guest) that moves its wall clock by `deltaMs`, relative to itself (delivery delay does not matter). */
export function shiftClockScript(deltaMs: number): string {
  const ns = BigInt(Math.round(deltaMs * 1e6));
  return `n=$(( $(date +%s%N) + (${ns}) )); date -s "@$((n / 1000000000)).$(printf %09d $((n % 1000000000)))" >/dev/null`;
}
