#!/bin/bash
# Build the test kernel once per cache key (see lib.sh): Debian's linux-source-6.1,
# tinyconfig + config-fragment, bzImage and the mdev sample modules, plus an
# out-of-tree build of mbochs with mbochs-rw.patch (dma-bufs exported O_RDWR, so
# the harness can check pixels through an mmap of the dma-buf).
#
# Prints the artifact folder on stdout. A cache hit does nothing else.
# Env: JOBS (default nproc), FORCE=1 to rebuild even on a hit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

key=$(kt_key)
out=$KT_CACHE/out/$key
if [ -f "$out/.done" ] && [ "${FORCE:-0}" != 1 ]; then
	echo "$out"
	exit 0
fi
jobs=${JOBS:-$(nproc)}
kt_log "kernel cache miss (key $key): building (about 3 min on an idle 2-core machine, longer under load)"
start=$(date +%s)

[ -f "$KT_TARBALL" ] || kt_die "$KT_TARBALL missing (apt-get install linux-source-6.1)"
if [ ! -f "$KT_SRC/Makefile" ] || [ "$(cat "$KT_CACHE/src/.tarball" 2>/dev/null)" != "$(stat -c %Y-%s "$KT_TARBALL")" ]; then
	kt_log "unpacking $KT_TARBALL"
	rm -rf "$KT_CACHE/src"
	mkdir -p "$KT_CACHE/src"
	tar -C "$KT_CACHE/src" -xf "$KT_TARBALL"
	stat -c %Y-%s "$KT_TARBALL" >"$KT_CACHE/src/.tarball"
	rm -rf "$KT_BUILD"   # objects of another source tree
fi
mkdir -p "$KT_BUILD"
log=$KT_CACHE/build.log
: >"$log"
mk() { make -C "$KT_SRC" O="$KT_BUILD" ARCH=x86_64 "$@" >>"$log" 2>&1 || { tail -40 "$log" >&2; kt_die "make $* failed (log: $log)"; }; }

mk tinyconfig
"$KT_SRC/scripts/kconfig/merge_config.sh" -m -O "$KT_BUILD" "$KT_BUILD/.config" "$KT_HERE/config-fragment" >>"$log" 2>&1
mk olddefconfig
bad=0
while read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	if ! grep -qx -- "$line" "$KT_BUILD/.config"; then
		kt_log "config: wanted '$line', got '$(grep -- "^${line%%=*}=" "$KT_BUILD/.config" || echo 'not set')'"
		bad=1
	fi
done <"$KT_HERE/config-fragment"
[ $bad = 0 ] || kt_die "config-fragment did not survive olddefconfig"

kt_log "make -j$jobs bzImage modules (log: $log)"
mk -j"$jobs" bzImage modules

# mbochs, read-write variant: patched copy of the sample, built as an external module.
rw=$KT_CACHE/mbochs-rw
rm -rf "$rw"
mkdir -p "$rw/samples/vfio-mdev"
cp "$KT_SRC/samples/vfio-mdev/mbochs.c" "$rw/samples/vfio-mdev/mbochs.c"
patch -s -d "$rw" -p1 <"$KT_HERE/mbochs-rw.patch" || kt_die "mbochs-rw.patch does not apply"
mv "$rw/samples/vfio-mdev/mbochs.c" "$rw/mbochs.c"
echo 'obj-m := mbochs.o' >"$rw/Kbuild"
mk M="$rw" modules

rm -rf "$out"
mkdir -p "$out/modules" "$out/rw"
cp "$KT_BUILD/arch/x86/boot/bzImage" "$KT_BUILD/.config" "$out/"
cp "$KT_BUILD"/samples/vfio-mdev/mbochs.ko "$KT_BUILD"/samples/vfio-mdev/mdpy.ko "$out/modules/"
cp "$rw/mbochs.ko" "$out/rw/mbochs.ko"
end=$(date +%s)
echo "$((end - start))" >"$out/build-seconds"
touch "$out/.done"
# older keys are dead weight
find "$KT_CACHE/out" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
kt_log "kernel built in $((end - start)) s ($jobs jobs): $out"
echo "$out"
