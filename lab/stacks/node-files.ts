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
 * init). Idempotent: a daemon that runs already (isDaemon) is left alone.
 */
export async function startDaemon(backend: Backend, lab: string, node: string, spec: DaemonSpec): Promise<void> {
  const pidFile = `/run/halab/${spec.name}.pid`;
  const logFile = `/var/log/halab/${spec.name}.log`;
  const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${q(v)}`).join(' ');
  const script = [
    'mkdir -p /run/halab /var/log/halab',
    `if ${isDaemon(spec.name)}; then exit 0; fi`,
    `${env ? `env ${env} ` : ''}setsid ${spec.argv.map(q).join(' ')} >>${logFile} 2>&1 </dev/null &`,
    `echo $! > ${pidFile}; ${START_TIME('$!')} > ${pidFile}.start`,
  ].join('\n');
  await backend.exec(lab, node, ['sh', '-c', script]);
}

export async function stopDaemon(backend: Backend, lab: string, node: string, name: string, signal = 'TERM'): Promise<void> {
  const pidFile = `/run/halab/${name}.pid`;
  // Only a process that is this daemon: a stale pid file must not make us signal a stranger.
  await backend.exec(lab, node, ['sh', '-c', `if ${isDaemon(name)}; then kill -${signal} "$p" 2>/dev/null; fi; rm -f ${pidFile} ${pidFile}.start; true`]);
}

/** Shell: a process's start time (clock ticks since boot, /proc/PID/stat field 22; comm may hold spaces). */
const START_TIME = (pid: string) => `sed 's/.*) //' /proc/${pid}/stat | cut -d' ' -f20`;

/**
 * Shell test: the daemon's pid file names a live process that started when the daemon did (its
 * start time is kept beside the pid). A pid alone is not enough: a node restarted after a fault
 * keeps its pid files, and in the new container a low pid is soon another process. Sets $p.
 */
function isDaemon(name: string): string {
  const f = `/run/halab/${name}.pid`;
  return `{ p=$(cat ${f} 2>/dev/null); [ -n "$p" ] && [ -e /proc/$p/stat ] && [ "$(${START_TIME('$p')})" = "$(cat ${f}.start 2>/dev/null)" ]; }`;
}

export async function daemonRunning(backend: Backend, lab: string, node: string, name: string): Promise<boolean> {
  const script = isDaemon(name);
  const r = await backend.exec(lab, node, ['sh', '-c', script], { check: false });
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
    await putFile(backend, lab, node, path, code);
    await putFile(backend, lab, node, `${path}.hash`, hash);
  }
  return ['node', path];
}
