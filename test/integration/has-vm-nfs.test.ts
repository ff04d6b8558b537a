// The kernel NFS client in a VM traffic node (topologies/has-vm-nfs.yaml: webvm is a QEMU/TCG
// guest, everything else a container): webvm mounts the HA-NFS export with the guest kernel's
// NFS client, the container node `web` with halab-nfsfuse; webvm serves what the NFS server holds;
// killing the NFS floating-IP owner keeps webvm serving (the failed requests are counted and
// printed), and the new owner's bytes are what webvm serves; `halab inspect` names each
// node's client. One lab, one VM: 2–3 minutes in all.
// HALAB_HAS_VM_NFS_TOPOLOGY runs it on another copy of the topology (own name and subnets).
import { expect } from 'chai';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { labStateDir } from '../../lab/util/paths.ts';
import type { HasConfig } from '../../lab/stacks/has/config.ts';
import { inspectNfs } from '../../lab/stacks/has/nfs.ts';
import { EXPORT_PATH } from '../../lab/stacks/has/ganesha.ts';
import { DOCROOT, fileSetPaths } from '../../lab/stacks/has/traffic.ts';
import type { StackContext } from '../../lab/stacks/stack.ts';
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import { probeAroundFault, trialFailover } from '../../benchmarks/has-failover/probe.ts';
import { halab, testBackend, testTopology, until, freshHasLab, downUnlessKept } from './helpers.ts';

const { file: TOPOLOGY, lab: LAB } = testTopology('has-vm-nfs', 'HALAB_HAS_VM_NFS_TOPOLOGY');
const VM = 'webvm';
/** Failures are allowed only this soon after the kill (the takeover + the remount); see the README. */
const FAILURE_WINDOW_MS = 5000;

describe('kernel NFS client in a VM traffic node (has-vm-nfs, real lab)', function () {
  this.timeout(900_000);
  let b: DockerBackend;
  let cfg: HasConfig;
  let ctx: StackContext;
  let vmAddr: string;
  let cold: string[];
  const take = (n: number) => cold.splice(0, n);
  const nfsOwner = async () => (await inspectNfs(ctx, cfg)).owner;

  before(async () => {
    b = await testBackend();
    ({ cfg, ctx } = await freshHasLab(TOPOLOGY, LAB, b));
    vmAddr = cfg.traffic.find((n) => n.name === VM)!.nics[0]!.address;
    // A fresh stretch of the file set per run (a reused lab has already read the first ones).
    cold = fileSetPaths(cfg).slice(Math.floor(Date.now() / 1000) % 3000);
  });
  after(async () => {
    await downUnlessKept(LAB, b);
  });

  it('the VM node mounts the export with the guest kernel (nfs4, hard), the container node with FUSE', async () => {
    expect((await b.inspect(LAB, VM)).backend).to.equal('vm');
    const vm = await b.exec(LAB, VM, ['sh', '-c', "awk '$2 == \"/srv/www\"' /proc/mounts"]);
    expect(vm.stdout.trim().split('\n')).to.have.length(1);
    expect(vm.stdout).to.match(new RegExp(`^${cfg.nfsVip.replace(/\./g, '\\.')}:/export /srv/www nfs4 ro,.*vers=4\\.1,.*hard,`));
    const web = await b.exec(LAB, 'web', ['grep', ' /srv/www ', '/proc/mounts']);
    expect(web.stdout).to.match(/^halab-nfsfuse \/srv\/www fuse/);
    // Boot to serving: the node container's start (host clock) to Apache's start in the guest
    // (its pid file; the guest clock is set from the host's at boot), which follows the mount.
    const started = Date.parse((await execa('docker', ['inspect', '-f', '{{.State.StartedAt}}', `${LAB}-${VM}`])).stdout.trim());
    // Wall-clock start of a guest process: now − (uptime − its start in clock ticks since boot).
    const startOf = (pidFile: string) =>
      `pid=$(cat ${pidFile}); st=$(cut -d' ' -f22 /proc/$pid/stat); awk -v now=$(date +%s.%N) -v st=$st -v hz=$(getconf CLK_TCK) '{ printf "%.3f\\n", now - ($1 - st / hz) }' /proc/uptime`;
    const t = await b.exec(LAB, VM, ['sh', '-c', `${startOf('/run/halab/nfs-remount.pid')}; ${startOf('/run/apache2/apache2.pid')}`]);
    const [mounted, serving] = t.stdout.trim().split('\n').map((s) => Number(s) * 1000);
    const boot = JSON.parse(readFileSync(`${labStateDir(LAB)}/vm/${VM}.boot.json`, 'utf8')) as { bootSeconds: number };
    console.log(
      `      ${VM}: ready (agent, NICs) ${boot.bootSeconds.toFixed(1)} s, NFS mounted ${((mounted! - started) / 1000).toFixed(1)} s, ` +
        `Apache serving ${((serving! - started) / 1000).toFixed(1)} s after its container started`,
    );
  });

  it("the NFS owner's loss: the VM node keeps serving the content (failed requests counted)", async () => {
    const before = await nfsOwner();
    expect(before).to.be.oneOf(cfg.nfs.map((n) => n.name));
    const other = cfg.nfs.find((n) => n.name !== before)!.name;
    // A new connection every 50 ms straight to the VM node, each for a file it has not read, so
    // every request opens and reads over NFS while the owner is killed.
    const t = await probeAroundFault(
      b,
      LAB,
      { client: 'client', origin: `http://${vmAddr}:80`, paths: take(400), intervalMs: 50, leadMs: 3000, seconds: 15, timeoutMs: 10_000 },
      () => b.kill(LAB, before!),
    );
    try {
      expect(await nfsOwner()).to.equal(other);
      const failed = t.ledger.filter((x) => x.outcome !== 'ok');
      const killedAt = t.faults[0]!.start;
      const slowest = Math.max(...t.ledger.map((x) => x.end - x.start));
      // The thesis: no failed request, "a delay ranging between 450 ms and 700 ms". Latency of
      // the requests sent before the kill, in the 2 s after it, and later (medians, ms).
      const p50 = (from: number, to: number) => {
        const d = t.ledger.filter((x) => x.start - killedAt >= from && x.start - killedAt < to).map((x) => x.end - x.start).sort((p, q) => p - q);
        return d.length ? Math.round(d[Math.floor(d.length / 2)]!) : NaN;
      };
      const remounts = (await b.exec(LAB, VM, ['sh', '-c', "grep '\"type\":\"remount\"' /var/log/halab/nfs-remount.log || true"])).stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { t: number; stale_read_ms: number; remount_ms: number; ok: boolean });
      // The guest kernel's own count of calls that failed (ESTALE from the new owner among them),
      // which the VFS retried by looking the path up again.
      const stats = (await b.exec(LAB, VM, ['cat', '/proc/self/mountstats'])).stdout;
      const opErrors = Object.fromEntries(
        [...stats.slice(stats.indexOf(` mounted on ${DOCROOT} `)).matchAll(/^\s+([A-Z_]+): (?:\d+ ){8}(\d+)$/gm)].filter((m) => m[2] !== '0').map((m) => [m[1], Number(m[2])]),
      );
      const kinds = Object.entries(
        failed.reduce<Record<string, number>>((a, x) => ((a[`${x.outcome}${x.status ? ` ${x.status}` : ''}`] = (a[`${x.outcome}${x.status ? ` ${x.status}` : ''}`] ?? 0) + 1), a), {}),
      );
      console.log(
        `      NFS owner ${before} killed: ${t.ledger.length} requests to ${VM}, ${failed.length} failed ${JSON.stringify(Object.fromEntries(kinds))}, ` +
          `failed at +${failed.map((x) => Math.round(x.start - killedAt)).join(',')} ms, slowest ${Math.round(slowest)} ms, ` +
          `median latency ${p50(-1e9, 0)} ms before the kill, ${p50(0, 2000)} ms in the 2 s after, ${p50(2000, 1e9)} ms later; longest gap between successes ${Math.round(trialFailover(t).maxGapMs ?? NaN)} ms; ` +
          `guest NFS op errors so far ${JSON.stringify(opErrors)}; remounts ${JSON.stringify(remounts.map((r) => ({ at: r.t - killedAt, stale_read_ms: r.stale_read_ms, remount_ms: r.remount_ms, ok: r.ok })))}`,
      );
      expect(t.ledger.length).to.be.above(50);
      // A request still in flight when the owner died is the fault's (on a loaded runner the TCG
      // guest took seconds per request: one sent 236 ms before the kill timed out); one that had
      // failed before it, or was sent after the window, is not.
      const late = failed.filter((x) => x.end < killedAt || x.start > killedAt + FAILURE_WINDOW_MS);
      expect(late, 'failures outside the takeover window').to.deep.equal([]);
      const after = t.ledger.filter((x) => x.start > killedAt + FAILURE_WINDOW_MS);
      expect(after.length).to.be.above(10);
      expect(after.every((x) => x.server === VM)).to.equal(true);
      // Any remount nfs-remount had to make worked (measured here: none was needed, see the README).
      expect(remounts.filter((r) => !r.ok)).to.deep.equal([]);
    } finally {
      await b.start(LAB, before!);
    }
  });

  it('the VM node serves what the NFS server holds (X-Served-By names it)', async () => {
    const owner = await nfsOwner();
    expect(owner).to.be.oneOf(cfg.nfs.map((n) => n.name));
    // Files of the set no one has read: the bytes the VM node serves are the owner's (md5), and
    // they are not on the VM's own disk under the mount. (A token written onto the owner's disk
    // beside ganesha was not a usable probe: on a fresh lab it stayed unseen or stale, 404 for
    // over 90 s in one run — ganesha caches directory entries and attributes. README.)
    const paths = take(3);
    const sums = (await b.exec(LAB, owner!, ['sh', '-c', paths.map((p) => `md5sum < ${EXPORT_PATH}${p}`).join('; ')])).stdout.trim().split('\n');
    const r = await b.exec(LAB, 'client', [
      'sh',
      '-c',
      paths.map((p) => `curl -s -m 10 -D /tmp/h http://${vmAddr}${p} | md5sum; tr -d '\\r' < /tmp/h | sed -n 's/^[Xx]-[Ss]erved-[Bb]y: //p'`).join('; '),
    ]);
    expect(r.stdout.trim().split('\n')).to.deep.equal(sums.flatMap((x) => [x, VM]));
    const own = await b.exec(LAB, VM, [
      'sh',
      '-c',
      `mkdir -p /run/halab/rootview && mount --bind / /run/halab/rootview && { ls /run/halab/rootview${DOCROOT} | wc -l; umount /run/halab/rootview; }`,
    ]);
    expect(own.stdout.trim(), 'files under the mount point on the VM disk').to.equal('0');
  });

  it('nfs-remount puts a lost mount back (ENOENT on the export\'s marker: mounted again, swapped in)', async () => {
    const t0 = Date.now();
    await b.exec(LAB, VM, ['umount', '-l', DOCROOT]);
    type Remount = { t: number; error: string; ok: boolean; remount_ms: number };
    // The mount is back once the script's `mount --move` ran; the daemon logs when the script ends.
    const last = await until('nfs-remount to log a remount', 180_000, async () => {
      const r = await b.exec(LAB, VM, ['sh', '-c', `cat /var/log/halab/nfs-remount.log; grep -c ' ${DOCROOT} nfs4 ' /proc/mounts`], { check: false });
      const lines = r.stdout.trim().split('\n');
      const m = lines.slice(0, -1).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Remount & { type: string }).filter((x) => x.t > t0 && x.type === 'remount');
      return lines.at(-1) === '1' && m.at(-1);
    });
    expect(last).to.include({ error: 'ENOENT', ok: true });
    expect((await b.exec(LAB, VM, ['cat', `${DOCROOT}/.fileset`])).stdout).to.include('/');
    console.log(`      mount lost: back on ${DOCROOT} after ${Date.now() - t0} ms (the remount script ran ${last.remount_ms} ms)`);
  });

  it('halab inspect names each traffic node\'s NFS client: kernel NFS on the VM, FUSE on the container', async () => {
    await until('an NFS owner', 30_000, nfsOwner);
    const r = await halab(['inspect', LAB]);
    expect(r.exitCode, r.all).to.equal(0);
    const out = r.all ?? '';
    expect(out).to.match(new RegExp(`${VM}: /srv/www mounted from ${cfg.nfsVip.replace(/\./g, '\\.')}:/export \\(kernel NFS: nfs4 vers=4\\.1,hard,`));
    expect(out).to.match(/\bweb: \/srv\/www mounted from \S+ \(FUSE, halab-nfsfuse\)/);
  });
});
