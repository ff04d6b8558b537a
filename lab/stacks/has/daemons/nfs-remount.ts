// The kernel NFS client's companion on VM traffic nodes (lab/stacks/has/traffic.ts).
//
// The docroot is a hard NFSv4.1 mount of the export through the NFS floating IP. When the IP
// moves, the guest kernel reconnects to the new owner, opens a new session and (measured on
// has-vm-nfs, README) carries on by itself: the calls that failed on the new owner — its file
// handles are not the old one's: the servers are rsync'd replicas — were retried by the VFS after
// a fresh lookup, and no error reached Apache. What the kernel cannot get over is a mount that is
// gone or whose handles stay stale (ESTALE or ENOENT on a file the export always holds): then
// this daemon mounts the export again beside the docroot (a fresh superblock: nosharecache),
// swaps it in with `mount --move` (requests in flight on the old mount finish or fail; new ones
// use the new one) and detaches the old mount (umount -l). It reads that file every period.
//
// The remount itself is a shell script halab writes (traffic.ts remountScript); it also made the
// first mount. Each remount is a JSON line on stdout:
// {"t","source":"nfs-remount","type":"remount","error","stale_read_ms","remount_ms","ok"}.
// Usage: node nfs-remount.mjs DOCROOT SCRIPT [PERIOD_MS]
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const [docroot, script, periodArg] = process.argv.slice(2);
if (!docroot || !script) {
  console.error('usage: nfs-remount DOCROOT SCRIPT [PERIOD_MS]');
  process.exit(2);
}
const period = Number(periodArg ?? 200);

function sh(path: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((res) => execFile('sh', [path], (err, stdout, stderr) => res({ ok: !err, out: `${stdout}${stderr}`.trim() })));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  for (;;) {
    const t0 = Date.now();
    let code: string | undefined;
    try {
      await readFile(`${docroot}/.fileset`);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    }
    // ENOENT: the docroot is not mounted (the export always holds .fileset).
    if (code === 'ESTALE' || code === 'ENOENT') {
      const t1 = Date.now();
      const r = await sh(script!);
      console.log(
        JSON.stringify({ t: Date.now(), source: 'nfs-remount', type: 'remount', error: code, stale_read_ms: t1 - t0, remount_ms: Date.now() - t1, ok: r.ok, ...(r.ok ? {} : { out: r.out }) }),
      );
    } else if (code) {
      console.log(JSON.stringify({ t: Date.now(), source: 'nfs-remount', type: 'read-error', error: code, read_ms: Date.now() - t0 }));
    }
    await sleep(period);
  }
}

void main();
