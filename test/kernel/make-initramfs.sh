#!/bin/bash
# Make the VM's initramfs (no root needed: the kernel's usr/gen_init_cpio writes
# the device nodes). Holds only busybox, /init and the mdev modules (about 1.4 MB):
# node, its glibc and the project come from the host over 9p at boot.
#
# Usage: make-initramfs.sh VER ARTIFACTS_DIR OUTPUT.cpio.gz
set -euo pipefail
source "$(dirname "$0")/lib.sh"
kt_kernel "$1"
art=$2
dest=$3

gen=$KT_BUILD/usr/gen_init_cpio
if [ ! -x "$gen" ]; then
	gen=$KT_CACHE/gen_init_cpio
	[ -x "$gen" ] || cc -O2 -o "$gen" "$KT_SRC/usr/gen_init_cpio.c"
fi
busybox=$(command -v busybox || echo /bin/busybox)
[ -x "$busybox" ] || kt_die "busybox not found (apt-get install busybox-static)"
readelf -l "$(readlink -f "$busybox")" 2>/dev/null | grep -q 'program interpreter' &&
	kt_die "$busybox is dynamically linked: install busybox-static"

list=$(mktemp)
trap 'rm -f "$list"' EXIT
{
	for d in /bin /sbin /usr /usr/bin /usr/lib /lib /lib/modules /lib/modules/rw /dev /proc /sys \
		/tmp /run /mnt /mnt/hostroot /mnt/results /etc /root; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	echo "file /bin/busybox $(readlink -f "$busybox") 0755 0 0"
	echo "slink /bin/sh busybox 0777 0 0"
	echo "file /init $KT_HERE/init.sh 0755 0 0"
	echo "file /lib/modules/mbochs.ko $art/modules/mbochs.ko 0644 0 0"
	echo "file /lib/modules/mdpy.ko $art/modules/mdpy.ko 0644 0 0"
	echo "file /lib/modules/rw/mbochs.ko $art/rw/mbochs.ko 0644 0 0"
	[ ! -f "$art/modules/mdev.ko" ] || echo "file /lib/modules/mdev.ko $art/modules/mdev.ko 0644 0 0"
	echo "file /etc/passwd $KT_HERE/vm/passwd 0644 0 0"
} >"$list"
"$gen" "$list" | gzip -6 -n >"$dest"
