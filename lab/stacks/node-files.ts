// Putting files and halab's own daemons into nodes, through the backend's exec (so it works for
// containers and VMs alike). Daemons are TypeScript bundled by esbuild into one .mjs file and run
// with the node's Debian nodejs (18): no npm install inside nodes.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import type { Backend } from '../backends/backend.ts';

/** Write a file inside a node (parents created). */
export async function putFile(
  backend: Backend,
  lab: string,
  node: string,
  path: string,
  content: string | Buffer,
  mode = '0644',
): Promise<void> {
  const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
  // base64 keeps binary content intact through exec's stdin.
  await backend.exec(
    lab,
    node,
    ['sh', '-c', `mkdir -p "$(dirname '${path}')" && base64 -d > '${path}.tmp' && chmod ${mode} '${path}.tmp' && mv '${path}.tmp' '${path}'`],
    { stdin: data.toString('base64') },
  );
}

/** Write a file only when its content differs (true: it was written), so a redeploy can tell a daemon's config changed. */
export async function putFileIfChanged(backend: Backend, lab: string, node: string, path: string, content: string, mode?: string): Promise<boolean> {
  const r = await backend.exec(lab, node, ['cat', path], { check: false });
  if (r.exitCode === 0 && r.stdout === content) return false;
  await putFile(backend, lab, node, path, content, mode);
  return true;
}

const bundles = new Map<string, Promise<string>>();

/** Bundle a TypeScript entry point (and everything it imports) into one ESM file for Node 18. */
export function bundleDaemon(entry: string): Promise<string> {
  let b = bundles.get(entry);
  if (!b) {
    b = build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node18',
      write: false,
      logLevel: 'silent',
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    }).then((r) => r.outputFiles[0]!.text);
    bundles.set(entry, b);
  }
  return b;
}

export interface DaemonSpec {
  /** Short name: pid file /run/halab/<name>.pid, log /var/log/halab/<name>.log. */
  name: string;
  /** Command to run; for halab daemons use daemonCommand(). */
  argv: string[];
  env?: Record<string, string>;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Start a daemon in the background inside a node (detached from the exec, reaped by the node's
 * init). Idempotent: a daemon whose pid file points at a live process is left alone.
 */
export async function startDaemon(backend: Backend, lab: string, node: string, spec: DaemonSpec): Promise<void> {
  const pidFile = `/run/halab/${spec.name}.pid`;
  const logFile = `/var/log/halab/${spec.name}.log`;
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${q(v)}`).join(' ');
  const script = [
    'mkdir -p /run/halab /var/log/halab',
    `if [ -f ${pidFile} ] && kill -0 "$(cat ${pidFile})" 2>/dev/null; then exit 0; fi`,
    `${env ? `env ${env} ` : ''}setsid ${spec.argv.map(q).join(' ')} >>${logFile} 2>&1 </dev/null & echo $! > ${pidFile}`,
  ].join('\n');
  await backend.exec(lab, node, ['sh', '-c', script]);
}

export async function stopDaemon(backend: Backend, lab: string, node: string, name: string, signal = 'TERM'): Promise<void> {
  const pidFile = `/run/halab/${name}.pid`;
  await backend.exec(lab, node, ['sh', '-c', `[ -f ${pidFile} ] && kill -${signal} "$(cat ${pidFile})" 2>/dev/null; rm -f ${pidFile}; true`]);
}

export async function daemonRunning(backend: Backend, lab: string, node: string, name: string): Promise<boolean> {
  const r = await backend.exec(lab, node, ['sh', '-c', `kill -0 "$(cat /run/halab/${name}.pid 2>/dev/null)" 2>/dev/null`], {
    check: false,
  });
  return r.exitCode === 0;
}

/**
 * Install a halab TypeScript daemon (bundled) in a node at /opt/halab/<name>.mjs and return the
 * argv that runs it. Reinstalls only when the bundle changed.
 */
export async function installDaemon(backend: Backend, lab: string, node: string, name: string, entry: string): Promise<string[]> {
  const code = await bundleDaemon(entry);
  const path = `/opt/halab/${name}.mjs`;
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 12);
  const have = await backend.exec(lab, node, ['sh', '-c', `cat ${path}.hash 2>/dev/null`], { check: false });
  if (have.stdout.trim() !== hash) {
    // A daemon of this name still running the old bundle would be left as it is by startDaemon.
    if (have.stdout.trim()) await stopDaemon(backend, lab, node, name);
    await putFile(backend, lab, node, path, code);
    await putFile(backend, lab, node, `${path}.hash`, hash);
  }
  return ['node', path];
}
