#!/bin/sh
# /init of the kernel-test VM (busybox sh). The kernel passes unknown name=value
# parameters to us as environment variables:
#   vgproject=/abs/host/path   the project; its 9p share (tag "project", read-only)
#                              is mounted at the same path, so paths match the host's
#   vgnode=/abs/host/path      the host's node binary, run from the host's / (tag
#                              "hostroot", read-only) with the host's own glibc
#   vgtest=relative/script.sh  what to run, relative to the project
# The writable share (tag "results") is mounted on /mnt/results. We write the
# test's exit status to /mnt/results/status, then power off (qemu exits).
/bin/busybox --install -s /bin
export PATH=/usr/bin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "VGT: $*"; }
say "init at uptime $(up) s, kernel $(uname -r)"

p9() { # tag mountpoint [ro]
	mkdir -p "$2"
	mount -t 9p -o "${3:+ro,}trans=virtio,version=9p2000.L,msize=512000,cache=loose" "$1" "$2" || say "9p mount of $1 FAILED"
}
p9 results /mnt/results
p9 hostroot /mnt/hostroot ro
p9 project "$vgproject" ro

# The host's node and glibc: the host's loader and library folders, by symlink
# (Debian's /lib64/ld-linux-x86-64.so.2 is an absolute link into /lib/x86_64-linux-gnu).
H=/mnt/hostroot
ln -s $H/lib64 /lib64
ln -s $H/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu
ln -s $H/usr/lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu
ln -s "$H$vgnode" /usr/bin/node
ln -s /bin/busybox /usr/bin/env

status=0
if [ ! -f "$vgproject/$vgtest" ]; then
	say "no test script $vgproject/$vgtest"
	status=2
else
	say "running $vgtest at uptime $(up) s"
	cd "$vgproject" && sh "$vgproject/$vgtest"
	status=$?
	cd /
fi
n=$(dmesg | grep -cE 'WARNING:|BUG:|Oops|Kernel panic|general protection fault|VFS: Close: file count is 0')
say "kernel WARNING/BUG/Oops lines in dmesg: $n"
if [ "$n" != 0 ]; then
	dmesg | grep -E -A20 'WARNING:|BUG:|Oops|general protection fault|VFS: Close' | head -80
	[ $status != 0 ] || status=100
fi
echo $status >/mnt/results/status
say "exit status $status at uptime $(up) s"
sync
umount /mnt/results 2>/dev/null
poweroff -f
