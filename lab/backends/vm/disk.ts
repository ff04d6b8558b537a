// The root disk of a VM node, made from the SAME role image its container twin would run:
// `docker export` of the image's filesystem → build-disk.sh in a throwaway halab/vm container
// (adds the guest init, exec agent, static busybox/tini, the guest kernel's modules) → ext4 via
// `mkfs.ext4 -d`. Cached by (role image id, halab/vm image id) under <state>/vm/disks/; older
// disks of the same image are removed. Nodes never write it: each has its own qcow2 overlay.
import type Docker from 'dockerode';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../util/log.ts';
import { UserError } from '../../util/errors.ts';
import { stateRoot } from '../../util/paths.ts';
import { MANAGED_LABEL } from '../../engine/images.ts';

export const VM_IMAGE = 'halab/vm';

export function diskCacheDir(): string {
  return join(stateRoot(), 'vm', 'disks');
}

/** File name of a disk: readable image name + hash of both image ids (pure). */
export function diskFileName(image: string, imageId: string, vmImageId: string): string {
  const slug = image.replace(/^halab\//, '').replace(/[^A-Za-z0-9]+/g, '-');
  return `${slug}-${createHash('sha256').update(`${imageId}\n${vmImageId}`).digest('hex').slice(0, 16)}.ext4`;
}

const inflight = new Map<string, Promise<string>>();

/** Host path of the ext4 disk for `image` (built when missing). */
export function ensureVmDisk(docker: Docker, image: string, log: Logger): Promise<string> {
  let p = inflight.get(image);
  if (!p) {
    p = buildIfMissing(docker, image, log);
    inflight.set(image, p);
    p.catch(() => inflight.delete(image));
  }
  return p;
}

async function buildIfMissing(docker: Docker, image: string, log: Logger): Promise<string> {
  const [imageId, vmImageId] = await Promise.all([
    docker.getImage(image).inspect().then((i) => i.Id),
    docker.getImage(VM_IMAGE).inspect().then((i) => i.Id),
  ]);
  const dir = diskCacheDir();
  mkdirSync(dir, { recursive: true });
  const name = diskFileName(image, imageId, vmImageId);
  const path = join(dir, name);
  if (existsSync(path)) return path;
  await log.step(`VM disk for ${image} (docker export → ext4)`, async () => {
    const src = await docker.createContainer({ Image: image, Cmd: ['true'], Labels: { [MANAGED_LABEL]: 'true' } });
    try {
      const r = await execa(
        'sh',
        [
          '-c',
          `docker export "$1" | docker run -i --rm --label ${MANAGED_LABEL}=true --network none -v "$2":/out ${VM_IMAGE} sh /opt/halab-vm/build-disk.sh "/out/$3"`,
          'sh',
          src.id,
          dir,
          name,
        ],
        { reject: false, all: true },
      );
      if (r.exitCode !== 0 || !existsSync(path)) throw new UserError(`Building the VM disk for ${image} failed:\n${r.all}`);
      log.info(`  ${r.stdout.trim().split('\n').pop()}`);
    } finally {
      await src.remove({ force: true }).catch(() => {});
    }
  });
  // Older disks of the same image (other image ids) are no longer used by new nodes.
  const slug = name.replace(/-[0-9a-f]{16}\.ext4$/, '');
  for (const f of readdirSync(dir)) {
    if (f !== name && f.startsWith(`${slug}-`) && /^.+-[0-9a-f]{16}\.ext4$/.test(f) && f.slice(slug.length + 1).length === 21) {
      const old = join(dir, f);
      // Keep disks touched in the last minute: another lab may be booting from one right now.
      if (Date.now() - statSync(old).mtimeMs > 60_000) rmSync(old, { force: true });
    }
  }
  return path;
}
