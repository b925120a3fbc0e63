#!/bin/bash
# Build one test kernel once per cache key (see lib.sh): Debian's linux-source-VER,
# tinyconfig + the config fragments, bzImage and the mdev sample modules, plus an
# out-of-tree build of mbochs with mbochs-rw.patch (dma-bufs exported O_RDWR, so
# the harness can check pixels through an mmap of the dma-buf).
#
# Usage: build-kernel.sh VER (6.1 or 6.12). Prints the artifact folder on stdout.
# A cache hit does nothing else.
# Env: JOBS (default nproc), FORCE=1 to rebuild even on a hit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
kt_kernel "${1:?usage: build-kernel.sh VER}"

key=$(kt_key)
out=$KT_CACHE/out/$KT_VER-$key
if [ -f "$out/.done" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "$out"
	exit 0
fi
jobs=${JOBS:-$(nproc)}
kt_log "$KT_VER: kernel cache miss (key $key): building (about 3 min on an idle 2-core machine, longer under load)"
start=$(date +%s)

[ -f "$KT_TARBALL" ] || kt_die "$KT_TARBALL missing (apt-get install $KT_PKG)"
stamp=$KT_CACHE/src-$KT_VER/.tarball
if [ ! -f "$KT_SRC/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$(stat -c %Y-%s "$KT_TARBALL")" ]; then
	kt_log "$KT_VER: unpacking $KT_TARBALL"
	rm -rf "$KT_CACHE/src-$KT_VER"
	mkdir -p "$KT_CACHE/src-$KT_VER"
	tar -C "$KT_CACHE/src-$KT_VER" -xf "$KT_TARBALL"
	stat -c %Y-%s "$KT_TARBALL" >"$stamp"
	rm -rf "$KT_BUILD"   # objects of another source tree
fi
mkdir -p "$KT_BUILD"
log=$KT_CACHE/build-$KT_VER.log
: >"$log"
mk() { make -C "$KT_SRC" O="$KT_BUILD" ARCH=x86_64 "$@" >>"$log" 2>&1 || { tail -40 "$log" >&2; kt_die "$KT_VER: make $* failed (log: $log)"; }; }

mk tinyconfig
"$KT_SRC/scripts/kconfig/merge_config.sh" -m -O "$KT_BUILD" "$KT_BUILD/.config" "${KT_FRAGMENTS[@]}" >>"$log" 2>&1
mk olddefconfig
# Every effective fragment line (the last one per option) must be in .config;
# "# CONFIG_X is not set" means no CONFIG_X= line (invisible symbols are not written).
bad=0
while read -r opt want; do
	got=$(grep -- "^$opt=" "$KT_BUILD/.config" || true)
	if [ "$want" = n ]; then [ -z "$got" ] && continue; elif [ "$got" = "$opt=$want" ]; then continue; fi
	kt_log "$KT_VER: config: wanted $opt=$want, got '${got:-not set}'"
	bad=1
done < <(sed -nE 's/^(CONFIG_[A-Za-z0-9_]+)=(.*)$/\1 \2/p; s/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1 n/p' "${KT_FRAGMENTS[@]}" |
	awk '{ v[$1] = $2; if (!($1 in o)) o[$1] = n++ } END { for (k in o) print o[k], k, v[k] }' | sort -n | cut -d' ' -f2-)
[ $bad = 0 ] || kt_die "$KT_VER: the config fragments did not survive olddefconfig"

kt_log "$KT_VER: make -j$jobs bzImage modules (log: $log)"
mk -j"$jobs" bzImage modules

# mbochs, read-write variant: patched copy of the sample, built as an external module.
rw=$KT_CACHE/mbochs-rw-$KT_VER
rm -rf "$rw"
mkdir -p "$rw/samples/vfio-mdev"
cp "$KT_SRC/samples/vfio-mdev/mbochs.c" "$rw/samples/vfio-mdev/mbochs.c"
patch -s -d "$rw" -p1 <"$KT_HERE/mbochs-rw.patch" || kt_die "$KT_VER: mbochs-rw.patch does not apply"
mv "$rw/samples/vfio-mdev/mbochs.c" "$rw/mbochs.c"
echo 'obj-m := mbochs.o' >"$rw/Kbuild"
mk M="$rw" modules
# 6.2+: the UAPI headers, for the host-side check of the cdev/iommufd structs (cdev-abi.ts)
hdr=$KT_BUILD/uapi-headers
rm -rf "$hdr"
[ ! -f "$KT_SRC/include/uapi/linux/iommufd.h" ] || mk headers_install INSTALL_HDR_PATH="$hdr"

rm -rf "$out"
mkdir -p "$out/modules" "$out/rw"
cp "$KT_BUILD/arch/x86/boot/bzImage" "$KT_BUILD/.config" "$out/"
cp "$KT_BUILD"/samples/vfio-mdev/mbochs.ko "$KT_BUILD"/samples/vfio-mdev/mdpy.ko "$out/modules/"
# 6.2+: VFIO_MDEV is select-only, so the samples (=m) make it a module too
[ ! -f "$KT_BUILD/drivers/vfio/mdev/mdev.ko" ] || cp "$KT_BUILD/drivers/vfio/mdev/mdev.ko" "$out/modules/"
cp "$rw/mbochs.ko" "$out/rw/mbochs.ko"
[ ! -d "$hdr/include" ] || cp -r "$hdr" "$out/headers"
end=$(date +%s)
echo "$((end - start))" >"$out/build-seconds"
echo "$KT_VER" >"$out/version"
touch "$out/.done"
# Older keys of this kernel: keep the 3 newest (a few MB each). Clones and branches share one
# cache (VGPU_KERNEL_CACHE): pruning every other key made a branch with another fragment and
# main evict each other's kernel and rebuild in turn.
ls -1td "$KT_CACHE/out/$KT_VER-"* 2>/dev/null | tail -n +4 | xargs -r rm -rf
kt_log "$KT_VER: kernel built in $((end - start)) s ($jobs jobs): $out"
echo "$out"
