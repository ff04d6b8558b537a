// A WebBench-like static file set, generated deterministically from a seed so every traffic node
// (and every NFS export) holds byte-identical content and a load run can name its URLs.
//
// Sizes: lognormal with σ = 1 (a heavy-ish tail like web objects), scaled so the set's mean is
// exactly `meanBytes` (the thesis's WebBench responses average ≈ 5.7 KB), clamped to
// [64 B, 40 × mean]. Files are spread over 62 directories, as WebBench's tree of pages is.

import { seededRandom } from '../../util/prng.ts';

export interface FileSpec {
  /** URL path, e.g. /files/07/f000123.html */
  path: string;
  size: number;
}

export const FILESET_ROOT = '/files';

export function generateFileSet(seed: number, count: number, meanBytes: number): FileSpec[] {
  const rand = seededRandom(seed);
  const raw: number[] = [];
  for (let i = 0; i < count; i++) {
    // Box–Muller normal → lognormal(0, 1)
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    raw.push(Math.exp(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
  }
  const rawMean = raw.reduce((a, b) => a + b, 0) / count;
  const max = 40 * meanBytes;
  const sizes = raw.map((r) => Math.min(max, Math.max(64, Math.round((r / rawMean) * meanBytes))));
  // One correction pass so clamping does not move the mean: spread the difference over the set.
  const diff = meanBytes * count - sizes.reduce((a, b) => a + b, 0);
  const perFile = diff / count;
  return sizes.map((s, i) => ({
    path: `${FILESET_ROOT}/${String(i % 62).padStart(2, '0')}/f${String(i).padStart(6, '0')}.html`,
    size: Math.min(max, Math.max(64, Math.round(s + perFile))),
  }));
}

const tars = new Map<string, Promise<Buffer>>();

/** The file set as a tar archive (built once per seed/count/mean on the host, then copied into nodes). */
export function fileSetTar(seed: number, count: number, meanBytes: number): Promise<Buffer> {
  const key = `${seed}/${count}/${meanBytes}`;
  let t = tars.get(key);
  if (!t) {
    t = (async () => {
      const { pack } = await import('tar-stream');
      const p = pack();
      const block = Buffer.from(
        Array.from({ length: 1024 }, (_, i) => `halab webbench fileset block ${String(i).padStart(6, '0')} ........................\n`).join(''),
      );
      const chunks: Buffer[] = [];
      p.on('data', (c: unknown) => chunks.push(c as Buffer));
      const done = new Promise<void>((res, rej) => (p.on('end', () => res()), p.on('error', rej)));
      for (const f of generateFileSet(seed, count, meanBytes)) {
        p.entry({ name: f.path.replace(/^\//, ''), size: f.size, mode: 0o644 }, block.subarray(0, f.size));
      }
      p.entry({ name: '.fileset', mode: 0o644 }, `${key}\n`);
      p.finalize();
      await done;
      return Buffer.concat(chunks);
    })();
    tars.set(key, t);
  }
  return t;
}

/** The marker a file set writes in its root (.fileset), naming its seed, count and mean. */
export function fileSetKey(files: { seed: number; count: number; meanBytes: number }): string {
  return `${files.seed}/${files.count}/${files.meanBytes}`;
}

/** Put the file set under `root` in a node unless its marker says it is there already. */
export async function installFileSet(
  backend: import('../../backends/backend.ts').Backend,
  lab: string,
  node: string,
  root: string,
  files: { seed: number; count: number; meanBytes: number },
): Promise<void> {
  const key = fileSetKey(files);
  const have = await backend.exec(lab, node, ['cat', `${root}/.fileset`], { check: false });
  if (have.stdout.trim() === key) return;
  await backend.putArchive(lab, node, root, await fileSetTar(files.seed, files.count, files.meanBytes));
}
