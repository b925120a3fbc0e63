#!/bin/sh
# Runs inside the kernel-test VM (from /init, cwd = the project). Loads the mdev
# sample drivers, creates one mbochs and one mdpy device, and runs every step once
# per VFIO user API the kernel offers (vgapis= on the kernel command line: "group"
# on 6.1, "cdev,group" on 6.12), then the busy-device step. Each step's output goes
# to the console and to $RESULTS/<step>-<api>.log; one line per step goes to
# $RESULTS/summary.tsv (name, exit status, seconds, note, api). Exit status: failed steps.
RESULTS=/mnt/results
export RESULTS
MBOCHS=6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0001
MDPY=6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0002
MBOCHS_TYPE=mbochs-medium
JS=${vgjs:?vgjs= (the compiled project) missing from the kernel command line}
APIS=$(echo "${vgapis:-group}" | tr , ' ')
failed=0
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "VGT: $*"; }

create() { # parent type uuid
	echo "$3" >"/sys/class/mdev_bus/$1/mdev_supported_types/$2/create" ||
		{ say "creating $2 mdev $3 FAILED"; return 1; }
	say "mdev $3: $2, iommu group $(basename "$(readlink "/sys/bus/mdev/devices/$3/iommu_group")"), cdev $(ls "/sys/bus/mdev/devices/$3/vfio-dev" 2>/dev/null || echo none)"
}

step() { # name note command...  (VFIO_API: the API of this pass)
	name=$1 note=$2
	shift 2
	say "---- $name ($VFIO_API): $*"
	t0=$(up)
	{ "$@"; echo $? >"$RESULTS/.rc"; } 2>&1 | tee "$RESULTS/$name-$VFIO_API.log"
	rc=$(cat "$RESULTS/.rc")
	dt=$(awk "BEGIN { printf \"%.1f\", $(up) - $t0 }")
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$dt" "$note" "$VFIO_API" >>"$RESULTS/summary.tsv"
	say "---- $name ($VFIO_API): exit $rc, $dt s"
	[ "$rc" = 0 ] || failed=$((failed + 1))
}

# Loopback for `run --device` (the lab server and a viewer on 127.0.0.1 inside the VM).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || say "bringing up lo FAILED"
# 6.2+: mdev.ko is a module of its own (VFIO_MDEV is select-only)
[ ! -f /lib/modules/mdev.ko ] || insmod /lib/modules/mdev.ko || { say "insmod mdev FAILED"; exit 1; }
insmod /lib/modules/mdpy.ko || { say "insmod FAILED"; exit 1; }
create mdpy mdpy-vga $MDPY
say "kernel $(uname -r), VFIO APIs: $APIS; /dev/iommu $([ -e /dev/iommu ] && echo yes || echo no)"

cli() { node "$JS/src/cli/main.js" "$@" --vfio-api "$VFIO_API"; }  # = bin/vgpu-display.mjs, without tsx
json() { # file command... : stdout to a file, stderr and a short line to the console
	out=$1
	shift
	"$@" >"$RESULTS/$out"
	r=$?
	echo "wrote $out ($(wc -c <"$RESULTS/$out") bytes), exit $r"
	return $r
}
mbochs() { # stock|rw: (re)load that build of mbochs and create the mdev (same UUID)
	[ ! -e /sys/bus/mdev/devices/$MBOCHS ] || echo 1 >/sys/bus/mdev/devices/$MBOCHS/remove || return 1
	! grep -q '^mbochs ' /proc/modules || rmmod mbochs || return 1
	if [ "$1" = rw ]; then insmod /lib/modules/rw/mbochs.ko; else insmod /lib/modules/mbochs.ko; fi &&
		create mbochs $MBOCHS_TYPE $MBOCHS
}

for VFIO_API in $APIS; do
	export VFIO_API
	say "==== VFIO API $VFIO_API at uptime $(up) s"
	if ! mbochs stock; then
		say "loading stock mbochs FAILED"
		printf 'load-mbochs\t1\t0\tremove/rmmod/insmod failed\t%s\n' "$VFIO_API" >>"$RESULTS/summary.tsv"
		failed=$((failed + 1))
		continue
	fi
	# 1. the device-file layer on its own
	step smoke-mbochs "src/linux on stock mbochs" node $JS/test/kernel/vm/smoke.js mbochs $MBOCHS
	step smoke-mdpy "src/linux on mdpy" node $JS/test/kernel/vm/smoke.js mdpy $MDPY
	# 2. the CLI with --device UUID / sysfs path
	step probe-mbochs "vgpu-display probe --device UUID" cli probe --device $MBOCHS
	step probe-mdpy "vgpu-display probe --device sysfs path" cli probe --device /sys/bus/mdev/devices/$MDPY
	step conformance-mbochs "conformance --json, stock mbochs" json conformance-mbochs-$VFIO_API.json cli conformance --device $MBOCHS --json
	step conformance-mdpy "conformance --json, mdpy" json conformance-mdpy-$VFIO_API.json cli conformance --device $MDPY --json
	# 3. the same DISPI sequence on real and emulated bochs
	step diff-bochs "real mbochs vs emulated bochs" node $JS/test/kernel/vm/diff-bochs.js $MBOCHS $MBOCHS_TYPE
	# 4. pixels: swap in the O_RDWR lab build of mbochs (same mdev UUID)
	if mbochs rw; then
		say "mbochs swapped for the O_RDWR lab build"
		step snapshot-mbochs "pattern -> dma-buf -> PNG (O_RDWR mbochs)" node $JS/test/kernel/vm/snapshot.js $MBOCHS
		step display-mbochs "display client: modes, pan, cache, pixels" node $JS/test/kernel/vm/display.js $MBOCHS
		step cli-device-mbochs "snapshot --device UUID; run --device UUID to a viewer" node $JS/test/kernel/vm/cli-device.js $MBOCHS
	else
		say "swapping in the O_RDWR mbochs FAILED"
		printf 'swap-mbochs-rw\t1\t0\tremove/rmmod/insmod failed\t%s\n' "$VFIO_API" >>"$RESULTS/summary.tsv"
		failed=$((failed + 1))
	fi
done

# 5. the QEMU D-Bus listener's dma-buf path with real dma-bufs (/dev/udmabuf over memfds); no VFIO
VFIO_API=none
step qemu-dmabuf "QEMU listener: udmabuf and memfd scanouts, dedup, mmap, release" env VFIO_API=auto node $JS/test/kernel/vm/qemu-dmabuf.js

# 6. a second open while another process holds the device, every pair of APIs
VFIO_API=pairs
step busy-mdpy "second open while held: exit 1, names the holder and --qemu" env VFIO_API=auto node $JS/test/kernel/vm/busy.js $MDPY $APIS

say "all steps done at uptime $(up) s, $failed failed"
exit $failed
