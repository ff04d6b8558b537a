// HA-NFS pieces that are plain text: the standby's mirror loop, the content mount's options, and
// the Apache site on a FUSE docroot. (The client and failover themselves: integration/has-nfs.)
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { EXPORT_PATH, syncLoop } from '../../lab/stacks/has/ganesha.ts';
import { FUSE_OPTIONS, apacheSite } from '../../lab/stacks/has/traffic.ts';
import { fileSetKey } from '../../lab/stacks/has/fileset.ts';

describe('HA-NFS: mirror, mount and site', () => {
  it('the standby pulls from the floating IP only while it does not hold it, and the loop is valid sh', () => {
    const loop = syncLoop('198.18.23.100', 2);
    expect(loop).to.include(`rsync://198.18.23.100/export/ ${EXPORT_PATH}/`);
    expect(loop).to.match(/if ! ip -o addr show \| grep -q " 198\.18\.23\.100\/"/);
    execFileSync('sh', ['-n', '-c', loop]);
  });

  it('the mount is read-only, shared with www-data, and caches no negative lookups', () => {
    const opts = FUSE_OPTIONS.split(',');
    expect(opts).to.include.members(['ro', 'allow_other', 'auto_cache', 'negative_timeout=0']);
  });

  it('Apache reads the FUSE docroot with read(), not mmap or sendfile, and keeps /health local', () => {
    const site = apacheSite('web-1', '/srv/www');
    const dir = /<Directory \/srv\/www>([\s\S]*?)<\/Directory>/.exec(site)![1]!;
    expect(dir).to.match(/EnableMMAP Off/).and.to.match(/EnableSendfile Off/);
    expect(site).to.include('Alias /health /etc/halab/health.txt');
    expect(site.match(/X-Served-By "web-1"/g)).to.have.length(2);
  });

  it('the file set marker names seed, count and mean', () => {
    expect(fileSetKey({ seed: 1032, count: 6200, meanBytes: 5700 })).to.equal('1032/6200/5700');
  });
});
