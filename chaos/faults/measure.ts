// Evidence helpers: a bulk TCP transfer between two nodes timed at the receiver (first byte to
// end), with the node's own nodejs, so bandwidth faults can prove the rate they impose.
import type { Backend } from '../../lab/backends/backend.ts';
import { putFile } from '../../lab/stacks/node-files.ts';

const RECV = `const fs = require('fs'); const [port, out] = process.argv.slice(2);
const srv = require('net').createServer((s) => { let n = 0, t0 = 0, t1 = 0;
  s.on('data', (d) => { t1 = Date.now(); if (!t0) t0 = t1; n += d.length; });
  s.on('end', () => { fs.writeFileSync(out, JSON.stringify({ bytes: n, ms: t1 - t0 })); process.exit(0); }); });
srv.listen(Number(port), () => fs.writeFileSync(out + '.ready', '1'));
setTimeout(() => process.exit(2), 60000);`;
const SEND = `const [host, port, bytes] = process.argv.slice(2); const s = require('net').connect(Number(port), host);
let left = Number(bytes); const chunk = Buffer.alloc(65536, 120);
const pump = () => { while (left > 0) { const c = chunk.subarray(0, Math.min(left, chunk.length)); left -= c.length; if (!s.write(c)) return s.once('drain', pump); } s.end(); };
s.on('connect', pump); s.on('close', () => process.exit(0)); s.on('error', (e) => { console.error(e.message); process.exit(1); });`;

export interface Transfer {
  bytes: number;
  ms: number;
  kbitPerSecond: number;
}

/** Send `bytes` from `sender` to `receiver` (listening on receiverAddress:port); rate at the receiver. */
export async function measureTransfer(backend: Backend, lab: string, sender: string, receiver: string, receiverAddress: string, bytes: number, port = 5299): Promise<Transfer> {
  const out = `/tmp/halab-rate-${port}.json`;
  await putFile(backend, lab, receiver, '/tmp/halab-recv.js', RECV);
  await putFile(backend, lab, sender, '/tmp/halab-send.js', SEND);
  await backend.exec(lab, receiver, ['sh', '-c', `rm -f ${out} ${out}.ready; setsid node /tmp/halab-recv.js ${port} ${out} >/dev/null 2>&1 </dev/null &`]);
  await backend.exec(lab, receiver, ['sh', '-c', `for i in $(seq 100); do [ -f ${out}.ready ] && exit 0; sleep 0.05; done; exit 1`]);
  await backend.exec(lab, sender, ['timeout', '60', 'node', '/tmp/halab-send.js', receiverAddress, String(port), String(bytes)]);
  const r = await backend.exec(lab, receiver, ['sh', '-c', `for i in $(seq 100); do [ -f ${out} ] && cat ${out} && exit 0; sleep 0.05; done; exit 1`]);
  const { bytes: got, ms } = JSON.parse(r.stdout) as { bytes: number; ms: number };
  return { bytes: got, ms, kbitPerSecond: Math.round((got * 8) / Math.max(1, ms)) };
}
