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
