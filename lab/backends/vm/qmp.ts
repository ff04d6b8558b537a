// A small QMP client: connect, negotiate, one command, close. Always with a timeout (the env note
// saw a QEMU whose QMP never answered again). Asynchronous events are skipped.
import net from 'node:net';

export class QmpError extends Error {}

export async function qmp<T = unknown>(socketPath: string, command: string, args?: Record<string, unknown>, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    let stage: 'greeting' | 'caps' | 'cmd' = 'greeting';
    const timer = setTimeout(() => finish(new QmpError(`QMP ${command} timed out after ${timeoutMs} ms (${socketPath})`)), timeoutMs);
    const finish = (err: Error | null, value?: T) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const send = (obj: unknown) => sock.write(JSON.stringify(obj) + '\n');
    sock.on('error', (e) => finish(new QmpError(`QMP ${command}: ${e.message}`)));
    sock.on('close', () => finish(new QmpError(`QMP ${command}: connection closed`)));
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { class: string; desc: string }; event?: string };
        if (msg.event) continue;
        if (stage === 'greeting' && msg.QMP) {
          stage = 'caps';
          send({ execute: 'qmp_capabilities' });
        } else if (stage === 'caps') {
          if (msg.error) return finish(new QmpError(`QMP negotiation: ${msg.error.desc}`));
          stage = 'cmd';
          send(args ? { execute: command, arguments: args } : { execute: command });
        } else if (stage === 'cmd') {
          if (msg.error) return finish(new QmpError(`QMP ${command}: ${msg.error.class}: ${msg.error.desc}`));
          return finish(null, msg.return as T);
        }
      }
    });
  });
}
