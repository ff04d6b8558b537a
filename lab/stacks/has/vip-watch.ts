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

/** Written by vip-watch once it is subscribed and has read the addresses there (its pid). */
const READY = '/run/halab/vip-watch.ready';

/**
 * Start it before keepalived and wait until it is subscribed, so the first acquisition is seen
 * (started without waiting, it once reported a restarted master's VIP as already held);
 * idempotent like every daemon.
 */
export async function startVipWatch(ctx: StackContext, lab: string, node: string, instances: Pick<VrrpInstance, 'name' | 'vips'>[], timeoutMs = 20_000): Promise<void> {
  const argv = await installDaemon(ctx.backend, lab, node, 'vip-watch', ENTRY);
  await startDaemon(ctx.backend, lab, node, { name: 'vip-watch', argv: [...argv, node, ...watchArgs(instances)] });
  // Its pid in the ready file, alive: a ready file left by an earlier vip-watch names a dead pid.
  const ready = `[ -s ${READY} ] && kill -0 "$(cat ${READY})" 2>/dev/null`;
  const r = await ctx.backend.exec(lab, node, ['sh', '-c', `i=0; until ${ready}; do i=$((i+1)); [ $i -gt ${Math.ceil(timeoutMs / 50)} ] && exit 1; sleep 0.05; done`], {
    check: false,
    timeoutMs: timeoutMs + 5_000,
  });
  if (r.exitCode !== 0) throw new Error(`${lab}/${node}: vip-watch did not start within ${timeoutMs / 1000} s (see /var/log/halab/vip-watch.log)`);
}
