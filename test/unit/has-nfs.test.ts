// HA-NFS pieces that are plain text: the standby's mirror loop, the content mount's options, and
// the Apache site on a FUSE docroot. (The client and failover themselves: integration/has-nfs.)
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { EXPORT_PATH, syncLoop } from '../../lab/stacks/has/ganesha.ts';
import { fuseOptions, apacheSite, kernelNfsOptions, nfsClientOf, remountScript } from '../../lab/stacks/has/traffic.ts';
import { describeClientMount } from '../../lab/stacks/has/nfs.ts';
import type { PlannedNode } from '../../lab/topology/types.ts';
import { fileSetKey } from '../../lab/stacks/has/fileset.ts';

describe('HA-NFS: mirror, mount and site', () => {
  it('the standby pulls from the floating IP only while it does not hold it, and the loop is valid sh', () => {
    const loop = syncLoop('198.18.23.100', 2);
    expect(loop).to.include(`rsync://198.18.23.100/export/ ${EXPORT_PATH}/`);
    expect(loop).to.match(/if ! ip -o addr show \| grep -q " 198\.18\.23\.100\/"/);
    execFileSync('sh', ['-n', '-c', loop]);
  });

  it('the mount is read-only, shared with www-data, caches attributes for the given time and no negative lookups', () => {
    const opts = fuseOptions(60).split(',');
    expect(opts).to.include.members(['ro', 'allow_other', 'auto_cache', 'negative_timeout=0', 'attr_timeout=60', 'entry_timeout=60']);
  });

  it('a VM traffic node mounts with the kernel client (hard, short timeout, no negative cache), a container with FUSE', () => {
    const node = (backend: 'vm' | 'container') => ({ name: 'w', role: 'traffic', image: 'halab/traffic', backend, nics: [], capabilities: [], env: {} }) as PlannedNode;
    expect(nfsClientOf(node('vm'))).to.equal('kernel');
    expect(nfsClientOf(node('container'))).to.equal('fuse');
    const opts = kernelNfsOptions('198.18.211.100', 30).split(',');
    expect(opts).to.include.members(['ro', 'vers=4.1', 'hard', 'timeo=10', 'lookupcache=positive', 'nosharecache', 'acregmax=30', 'acdirmax=30', 'addr=198.18.211.100']);
    expect(opts.some((o) => o === 'soft')).to.equal(false);
  });

  it('the remount script mounts beside the docroot and swaps with mount --move, and is valid sh', () => {
    const s = remountScript('/srv/www', '198.18.211.100:/export', 'ro,hard');
    const lines = s.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(at(/^mount -t nfs4 -o ro,hard 198\.18\.211\.100:\/export \/run\/halab\/nfs-next$/)).to.be.greaterThan(0);
    expect(at(/mount --move \/srv\/www \/run\/halab\/nfs-old/)).to.be.greaterThan(at(/^mount -t nfs4/));
    expect(at(/^mount --move \/run\/halab\/nfs-next \/srv\/www$/)).to.be.greaterThan(at(/mount --move \/srv\/www/));
    expect(at(/^umount -l \/run\/halab\/nfs-old/)).to.be.greaterThan(at(/^mount --move \/run\/halab\/nfs-next/));
    expect(lines).to.include('set -e');
    execFileSync('sh', ['-n', '-c', s]);
  });

  it('inspect names the client of each traffic node from its /proc/mounts line', () => {
    const vm = describeClientMount(
      'mount 198.18.211.100:/export nfs4 ro,relatime,vers=4.1,rsize=1048576,hard,nosharecache,proto=tcp,timeo=10,retrans=2,sec=sys\nreconnects 0\nremounts 1\n',
      '198.18.211.100',
    );
    expect(vm).to.equal('/srv/www mounted from 198.18.211.100:/export (kernel NFS: nfs4 vers=4.1,hard,proto=tcp,timeo=10,retrans=2), 1 remounts');
    expect(describeClientMount('mount halab-nfsfuse fuse.halab-nfsfuse ro,nosuid\nreconnects 3\nremounts 0\n', '198.18.23.100')).to.equal(
      '/srv/www mounted from 198.18.23.100 (FUSE, halab-nfsfuse), 3 reconnects',
    );
    expect(describeClientMount('reconnects 0\nremounts 0\n', '198.18.23.100')).to.equal('/srv/www NOT an NFS mount');
  });

  it('Apache reads the FUSE docroot with read(), not mmap or sendfile, and keeps /health local', () => {
    const site = apacheSite('web-1', '/srv/www');
    const dir = /<Directory \/srv\/www>([\s\S]*?)<\/Directory>/.exec(site)![1]!;
    expect(dir).to.match(/EnableMMAP Off/).and.to.match(/EnableSendfile Off/);
    expect(site).to.include('Alias /health /run/halab/health.txt');
    expect(site.match(/X-Served-By "web-1"/g)).to.have.length(2);
  });

  it('the file set marker names seed, count and mean', () => {
    expect(fileSetKey({ seed: 1032, count: 6200, meanBytes: 5700 })).to.equal('1032/6200/5700');
  });
});
