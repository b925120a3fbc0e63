# Shared settings for the kernel test scripts (sourced, not run).
#
#   KT_ROOT     the project (this repo)
#   KT_CACHE    git-ignored cache: kernel sources, build trees, built artifacts, VM runs
#               (override with VGPU_KERNEL_CACHE, e.g. to share one cache between clones)
#   KT_KERNELS  the kernels the suite runs on (Debian's linux-source-VER); KERNELS="6.12" narrows it
#   KT_JS       src/ and test/kernel/vm/ compiled to JavaScript (what the VM runs)
#
# kt_kernel VER sets the per-kernel paths:
#   KT_VER      6.1 or 6.12
#   KT_PKG      the Debian package (linux-source-VER) and KT_TARBALL, its tarball
#   KT_SRC      the unpacked source, KT_BUILD its build tree (O=)
#   KT_FRAGMENTS the Kconfig fragments merged on tinyconfig, in order (a later line wins)
#   KT_RUN      per-run files: initramfs, console log, results/ (the VM's writable share)

KT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KT_ROOT=$(cd "$KT_HERE/../.." && pwd)
KT_CACHE=${VGPU_KERNEL_CACHE:-$KT_ROOT/.cache/kernel}
read -r -a KT_KERNELS <<<"${KERNELS:-6.1 6.12}"
# The project compiled to JavaScript for the VM (inside the project, so the VM sees it
# over the project share and node finds node_modules from it).
KT_JS=$KT_ROOT/.cache/kernel-js

# Packages the harness needs (Debian 12). Installed by packages.sh when missing.
KT_PACKAGES=(linux-source-6.1 linux-source-6.12 qemu-system-x86 busybox-static build-essential flex
	bison bc libelf-dev libssl-dev cpio xz-utils dwarves kmod)

kt_log() { printf '[kernel-test %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
kt_die() { kt_log "ERROR: $*"; exit 1; }

kt_kernel() {
	case "$1" in 6.1|6.12) ;; *) kt_die "unknown kernel '$1' (known: 6.1 6.12)" ;; esac
	KT_VER=$1
	KT_PKG=linux-source-$1
	KT_TARBALL=/usr/src/$KT_PKG.tar.xz
	KT_SRC=$KT_CACHE/src-$1/$KT_PKG
	KT_BUILD=$KT_CACHE/build-$1
	KT_RUN=$KT_CACHE/run/$1
	KT_FRAGMENTS=("$KT_HERE/config-fragment")
	[ ! -f "$KT_HERE/config-fragment-$1" ] || KT_FRAGMENTS+=("$KT_HERE/config-fragment-$1")
}

# The cache key of the current kernel: everything that changes it or its modules. Bump
# KT_RECIPE when build-kernel.sh changes in a way that changes its output.
KT_RECIPE=2
kt_key() {
	local srcver
	srcver=$(dpkg-query -W -f='${Version}' "$KT_PKG" 2>/dev/null || echo unknown)
	{
		echo "recipe $KT_RECIPE"
		echo "$KT_PKG $srcver"
		cat "${KT_FRAGMENTS[@]}" "$KT_HERE/mbochs-rw.patch"
	} | sha256sum | cut -c1-16
}
