#!/bin/sh
# Turns a role image's root filesystem (a `docker export` tar on stdin) into the ext4 root disk of
# a VM node: adds halab's guest bits (/opt/halab: init, exec agent, static busybox + tini) and the
# guest kernel's modules, then `mkfs.ext4 -d`. Runs in a throwaway halab/vm container; writes $1.
set -eu
out=$1
A=/opt/halab-vm
R=$(mktemp -d /tmp/rootfs.XXXXXX)
tar -x -C "$R" --exclude='./dev/*' --exclude='dev/*' --numeric-owner
mkdir -p "$R/opt/halab/bin" "$R/dev" "$R/proc" "$R/sys" "$R/run" "$R/tmp" "$R/lib/modules"
cp "$A/guest/guest-init" "$A/guest/agent.mjs" "$R/opt/halab/"
cp "$A/guest/bin/busybox" "$A/guest/bin/tini-static" "$R/opt/halab/bin/"
ln -sf busybox "$R/opt/halab/bin/modprobe"
cp -a "$A/modroot/lib/modules/." "$R/lib/modules/"
# The container-side files Docker manages are plain files in the guest.
rm -f "$R/.dockerenv"
: > "$R/etc/hosts"
printf 'nameserver 127.0.0.1\n' > "$R/etc/resolv.conf"
used=$(du -sm "$R" | cut -f1)
size=$((used + used / 4 + 256))
tmp="$out.$$.tmp"
mkfs.ext4 -q -F -L halab-root -E root_owner=0:0 -O ^has_journal -d "$R" "$tmp" "${size}M"
mv "$tmp" "$out"
rm -rf "$R"
echo "disk $out: ${size} MiB (content ${used} MiB)"
