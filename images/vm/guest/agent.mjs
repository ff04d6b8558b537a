// halab guest exec agent. Speaks newline-delimited JSON on a virtio-serial port (halab.agent),
// which QEMU exposes as a unix socket inside the VM node's container. Out of band: it never uses
// the lab NICs, so exec keeps working while a NIC is down or the node is partitioned.
//   request  {"id":"…","ping":true}                    → {"id":"…","pong":true,"uptime":s,"now":ms}
//            (now: the guest's wall clock, read in this process: the host sets the guest clock from it)
//   request  {"id":"…","cmd":["ip","addr"],"env":{},"stdin":"<base64>","timeoutMs":0,"user":"root","cwd":"/"}
//   response {"id":"…","code":0,"signal":null,"stdout":"<base64>","stderr":"<base64>"}
// Requests run concurrently; a response whose host side went away is discarded by the host (ids).
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const port = process.argv[2];
if (!port) {
  console.error('halab agent: no virtio-serial port named halab.agent');
  setInterval(() => {}, 1 << 30);
} else {
  // A virtio-serial port may be opened once: one fd serves both directions.
  const fd = openSync(port, 'r+');
  const out = createWriteStream(null, { fd, autoClose: false });
  const send = (obj) => out.write(JSON.stringify(obj) + '\n');
  const rl = createInterface({ input: createReadStream(null, { fd, autoClose: false }) });
  rl.on('line', (line) => {
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      return;
    }
    if (req.ping) return send({ id: req.id, pong: true, uptime: Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]), now: Date.now() });
    run(req).then(send, (e) => send({ id: req.id, code: 127, signal: null, stdout: '', stderr: Buffer.from(String(e?.message ?? e)).toString('base64') }));
  });
  rl.on('close', () => process.exit(3));
}

function ids(user) {
  if (!user || user === 'root' || user === '0') return {};
  const [name, group] = String(user).split(':');
  const pw = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':'));
  const row = pw.find((r) => r[0] === name || r[2] === name);
  if (!row) throw new Error(`unknown user ${name}`);
  let gid = Number(row[3]);
  if (group) {
    const gr = readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':'));
    const g = gr.find((r) => r[0] === group || r[2] === group);
    if (g) gid = Number(g[2]);
  }
  return { uid: Number(row[2]), gid };
}

function run(req) {
  return new Promise((resolve, reject) => {
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', ...req.env };
    const child = spawn(req.cmd[0], req.cmd.slice(1), { env, cwd: req.cwd || '/', stdio: ['pipe', 'pipe', 'pipe'], ...ids(req.user) });
    const so = [];
    const se = [];
    child.stdout.on('data', (d) => so.push(d));
    child.stderr.on('data', (d) => se.push(d));
    child.stdin.on('error', () => {});
    child.stdin.end(req.stdin ? Buffer.from(req.stdin, 'base64') : undefined);
    let timer;
    if (req.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), req.timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), reject(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        id: req.id,
        code: code ?? (signal ? 128 + 9 : -1),
        signal,
        stdout: Buffer.concat(so).toString('base64'),
        stderr: Buffer.concat(se).toString('base64'),
      });
    });
  });
}
