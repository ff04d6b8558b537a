#!/bin/sh
# Runs once at image build: fetch the Debian kernel (apt-get download, no install), keep the
# modules a lab guest can need, and pack the busybox initramfs that mounts the ext4 root disk.
set -eu
A=/opt/halab-vm
apt-get update
pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
mkdir -p /tmp/k && cd /tmp/k && apt-get download "$pkg"
dpkg-deb -x ./*.deb /tmp/k/x
ver=$(ls /tmp/k/x/lib/modules)
cp /tmp/k/x/boot/vmlinuz-"$ver" $A/vmlinuz
echo "$ver" > $A/kernel-version
# Modules the guest may load (virtio, ext4, netfilter/nftables, bridge, tun, NFS client …), not GPU/sound/wifi.
M=$A/modroot/lib/modules/$ver
mkdir -p $M/kernel/drivers
src=/tmp/k/x/lib/modules/$ver
for d in kernel/net kernel/fs kernel/lib kernel/crypto kernel/arch; do cp -a $src/$d $M/$d; done
for d in virtio net/virtio_net.ko net/net_failover.ko net/tun.ko net/veth.ko net/macvlan.ko net/dummy.ko \
         net/bonding net/vxlan block/virtio_blk.ko char/virtio_console.ko char/hw_random firmware/qemu_fw_cfg.ko; do
  [ -e $src/kernel/drivers/$d ] || continue
  mkdir -p $(dirname $M/kernel/drivers/$d); cp -a $src/kernel/drivers/$d $M/kernel/drivers/$d
done
rm -rf $M/kernel/net/wireless $M/kernel/net/mac80211 $M/kernel/net/bluetooth $M/kernel/fs/ocfs2 $M/kernel/fs/btrfs $M/kernel/fs/xfs \
       $M/kernel/fs/f2fs $M/kernel/fs/gfs2 $M/kernel/fs/ntfs3 $M/kernel/fs/smb $M/kernel/fs/ceph $M/kernel/net/ceph
cp $src/modules.order $src/modules.builtin $src/modules.builtin.modinfo $M/ 2>/dev/null || true
depmod -b $A/modroot "$ver"
# initramfs: busybox + the modules needed to reach the root disk and the agent's port.
I=/tmp/initramfs
mkdir -p $I/bin $I/dev $I/proc $I/sys $I/newroot $I/lib/modules/$ver
cp /bin/busybox $I/bin/busybox
cp $A/initramfs-init $I/init && chmod 755 $I/init
for m in virtio_pci virtio_blk virtio_net virtio_console ext4; do
  modprobe -d $A/modroot -S "$ver" --show-depends $m | sed -n 's/^insmod //p' | while read -r ko _; do
    rel=${ko#$A/modroot/lib/modules/$ver/}
    mkdir -p $(dirname $I/lib/modules/$ver/$rel); cp $ko $I/lib/modules/$ver/$rel
    echo "$rel" >> $I/load-order
  done
done
awk '!seen[$0]++' $I/load-order > $I/load-order.u && mv $I/load-order.u $I/load-order
(cd $I && find . | cpio -o -H newc --quiet | gzip -1) > $A/initrd.gz
rm -rf /tmp/k $I /var/lib/apt/lists/*
# Guest-side tools carried onto every VM disk (static: they work whatever the role image holds).
mkdir -p $A/guest/bin
cp /bin/busybox /usr/bin/tini-static $A/guest/bin/
ls -la $A; du -sh $A/modroot
