// Deploys vip-watch (daemons/vip-watch.ts) beside keepalived on every VRRP node (masters, NFS
// servers): the kernel's own record of who holds each floating address, which the VIP-overlap
// invariant reads (keepalived's notify scripts stamp their own, unordered times).
import { fileURLToPath } from 'node:url';
import type { StackContext } from '../stack.ts';
import { installDaemon, startDaemon } from '../node-files.ts';
import type { VrrpInstance } from './vrrp.ts';

const ENTRY = fileURLToPath(new URL('./daemons/vip-watch.ts', import.meta.url));

/** `INSTANCE=ADDRESS` for every floating address of the instances (prefix lengths dropped). */
export function watchArgs(instances: Pick<VrrpInstance, 'name' | 'vips'>[]): string[] {
  return instances.flatMap((i) => i.vips.map((v) => `${i.name}=${v.split('/')[0]}`));
}

/** Start it before keepalived, so the first acquisition is seen; idempotent like every daemon. */
export async function startVipWatch(ctx: StackContext, lab: string, node: string, instances: Pick<VrrpInstance, 'name' | 'vips'>[]): Promise<void> {
  const argv = await installDaemon(ctx.backend, lab, node, 'vip-watch', ENTRY);
  await startDaemon(ctx.backend, lab, node, { name: 'vip-watch', argv: [...argv, node, ...watchArgs(instances)] });
}
