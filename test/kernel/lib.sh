# Shared settings for the kernel test scripts (sourced, not run).
#
#   KT_ROOT    the project (this repo)
#   KT_CACHE   git-ignored cache: kernel source, build tree, built artifacts, VM runs
#              (override with VGPU_KERNEL_CACHE, e.g. to share one cache between clones)
#   KT_SRC     unpacked Debian linux-source-6.1
#   KT_OUT     artifacts of the current kernel key: bzImage, modules/, rw/mbochs.ko
#   KT_RUN     per-run files: initramfs, console log, results/ (the VM's writable share)
#   KT_JS      src/ and test/kernel/vm/ compiled to JavaScript (what the VM runs)

KT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KT_ROOT=$(cd "$KT_HERE/../.." && pwd)
KT_CACHE=${VGPU_KERNEL_CACHE:-$KT_ROOT/.cache/kernel}
KT_TARBALL=/usr/src/linux-source-6.1.tar.xz
KT_SRC=$KT_CACHE/src/linux-source-6.1
KT_BUILD=$KT_CACHE/build
KT_RUN=$KT_CACHE/run
# The project compiled to JavaScript for the VM (inside the project, so the VM sees it
# over the project share and node finds node_modules from it).
KT_JS=$KT_ROOT/.cache/kernel-js

# Packages the harness needs (Debian 12). Installed by packages.sh when missing.
KT_PACKAGES=(linux-source-6.1 qemu-system-x86 busybox-static build-essential flex bison bc
	libelf-dev libssl-dev cpio xz-utils dwarves kmod)

kt_log() { printf '[kernel-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kt_die() { kt_log "ERROR: $*"; exit 1; }

# The cache key: everything that changes the kernel or the modules. Bump
# KT_RECIPE when build-kernel.sh changes in a way that changes its output.
KT_RECIPE=1
kt_key() {
	local srcver
	srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || echo unknown)
	{
		echo "recipe $KT_RECIPE"
		echo "linux-source-6.1 $srcver"
		cat "$KT_HERE/config-fragment" "$KT_HERE/mbochs-rw.patch"
	} | sha256sum | cut -c1-16
}
