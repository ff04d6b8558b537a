// Container cgroup files on a fake cgroupfs (a temp directory): CPU caps and real-time budgets.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKER_RT_RUNTIME_US, grantContainerRealtime, readContainerCpuCap, setContainerCpuPeriod } from '../../lab/backends/docker/cgroup.ts';

const ID = 'abc123';

function v1Tree(parentRt: string): string {
  const root = mkdtempSync(join(tmpdir(), 'halab-cg-'));
  const dir = join(root, 'cpu', 'docker', ID);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(root, 'cpu', 'docker', 'cpu.rt_runtime_us'), parentRt);
  for (const [f, v] of Object.entries({ 'cpu.rt_runtime_us': '0', 'cpu.cfs_quota_us': '50000', 'cpu.cfs_period_us': '100000' })) writeFileSync(join(dir, f), v);
  return root;
}

describe('container cgroups (fake cgroupfs)', () => {
  it('grants a real-time budget, raising Docker\'s parent budget first when it is short', () => {
    const root = v1Tree('0\n');
    expect(grantContainerRealtime(ID, 30_000, root)).to.equal('granted');
    expect(readFileSync(join(root, 'cpu/docker/cpu.rt_runtime_us'), 'utf8')).to.equal(String(DOCKER_RT_RUNTIME_US));
    expect(readFileSync(join(root, `cpu/docker/${ID}/cpu.rt_runtime_us`), 'utf8')).to.equal('30000');
  });

  it('leaves a larger parent budget alone', () => {
    const root = v1Tree('900000\n');
    expect(grantContainerRealtime(ID, 30_000, root)).to.equal('granted');
    expect(readFileSync(join(root, 'cpu/docker/cpu.rt_runtime_us'), 'utf8')).to.equal('900000\n');
  });

  it('needs no budget on cgroup v2, and says when the container is not found', () => {
    const root = mkdtempSync(join(tmpdir(), 'halab-cg-'));
    mkdirSync(join(root, 'system.slice', `docker-${ID}.scope`), { recursive: true });
    expect(grantContainerRealtime(ID, 30_000, root)).to.equal('not-needed');
    expect(grantContainerRealtime('other', 30_000, root)).to.equal(false);
    expect(grantContainerRealtime(ID, 30_000, v1Tree('0').replace(/$/, '-missing'))).to.equal(false);
  });

  it('reads the cap the kernel enforces: quota / period, none for -1 or max', () => {
    const root = v1Tree('0');
    expect(readContainerCpuCap(ID, root)).to.equal(0.5);
    expect(setContainerCpuPeriod(ID, 0.04, 500, root)).to.equal(true);
    expect(readContainerCpuCap(ID, root)).to.be.closeTo(0.04, 1e-12);
    writeFileSync(join(root, `cpu/docker/${ID}/cpu.cfs_quota_us`), '-1');
    expect(readContainerCpuCap(ID, root)).to.equal(Infinity);
    const v2 = mkdtempSync(join(tmpdir(), 'halab-cg-'));
    mkdirSync(join(v2, 'system.slice', `docker-${ID}.scope`), { recursive: true });
    writeFileSync(join(v2, 'system.slice', `docker-${ID}.scope`, 'cpu.max'), 'max 100000\n');
    expect(readContainerCpuCap(ID, v2)).to.equal(Infinity);
    writeFileSync(join(v2, 'system.slice', `docker-${ID}.scope`, 'cpu.max'), '20000 500000\n');
    expect(readContainerCpuCap(ID, v2)).to.be.closeTo(0.04, 1e-12);
  });
});
