// Run a command in a container through the Docker API and collect (or tee) its output.
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import type { ExecOptions, ExecResult } from '../backend.ts';

export class ExecError extends Error {
  constructor(
    readonly node: string,
    readonly cmd: string[],
    readonly result: ExecResult,
  ) {
    super(
      `Command failed in ${node} (exit ${result.exitCode}): ${cmd.join(' ')}\n` +
        (result.stderr || result.stdout).trim().split('\n').slice(-15).join('\n'),
    );
    this.name = 'ExecError';
  }
}

export interface ExecStreamOptions extends ExecOptions {
  /** Copy output to this process's stdout/stderr as it arrives. */
  tee?: boolean;
}

export async function execInContainer(
  docker: Docker,
  container: string,
  nodeLabel: string,
  cmd: string[],
  opts: ExecStreamOptions = {},
): Promise<ExecResult> {
  const c = docker.getContainer(container);
  const exec = await c.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: opts.stdin !== undefined,
    Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
    User: opts.user,
  });
  const stream = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (d: Buffer) => (out.push(d), opts.tee && process.stdout.write(d)));
  stderr.on('data', (d: Buffer) => (err.push(d), opts.tee && process.stderr.write(d)));
  docker.modem.demuxStream(stream, stdout, stderr);
  if (opts.stdin !== undefined) {
    stream.write(opts.stdin);
    (stream as unknown as { end(): void }).end();
  }
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        (stream as unknown as { destroy(): void }).destroy();
        reject(new Error(`Command timed out after ${opts.timeoutMs} ms in ${nodeLabel}: ${cmd.join(' ')}`));
      }, opts.timeoutMs);
    }
  }).finally(() => clearTimeout(timer));
  let info = await exec.inspect();
  // The stream can end a moment before the exec is marked finished.
  for (let i = 0; info.Running && i < 50; i++) {
    await new Promise((r) => setTimeout(r, 20));
    info = await exec.inspect();
  }
  const result: ExecResult = {
    exitCode: info.ExitCode ?? -1,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
  };
  if ((opts.check ?? true) && result.exitCode !== 0) throw new ExecError(nodeLabel, cmd, result);
  return result;
}
