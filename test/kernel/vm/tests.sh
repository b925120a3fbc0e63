#!/bin/sh
# Runs inside the kernel-test VM (from /init, cwd = the project). Loads the mdev
# sample drivers, creates one mbochs and one mdpy device, and runs each step with
# its output on the console and in $RESULTS/<step>.log; one line per step goes to
# $RESULTS/summary.tsv (name, exit status, seconds, note). Exit status: failed steps.
RESULTS=/mnt/results
export RESULTS
MBOCHS=6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0001
MDPY=6d1b0c2e-6a0e-4f5b-9b7a-3a1e5f0c0002
MBOCHS_TYPE=mbochs-medium
JS=${vgjs:?vgjs= (the compiled project) missing from the kernel command line}
failed=0
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "VGT: $*"; }

create() { # parent type uuid
	echo "$3" >"/sys/class/mdev_bus/$1/mdev_supported_types/$2/create" ||
		{ say "creating $2 mdev $3 FAILED"; return 1; }
	say "mdev $3: $2, iommu group $(basename "$(readlink "/sys/bus/mdev/devices/$3/iommu_group")")"
}

step() { # name note command...
	name=$1 note=$2
	shift 2
	say "---- $name: $*"
	t0=$(up)
	{ "$@"; echo $? >"$RESULTS/.rc"; } 2>&1 | tee "$RESULTS/$name.log"
	rc=$(cat "$RESULTS/.rc")
	dt=$(awk "BEGIN { printf \"%.1f\", $(up) - $t0 }")
	printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$dt" "$note" >>"$RESULTS/summary.tsv"
	say "---- $name: exit $rc, $dt s"
	[ "$rc" = 0 ] || failed=$((failed + 1))
}

# Loopback for `run --device` (the lab server and a viewer on 127.0.0.1 inside the VM).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || say "bringing up lo FAILED"
insmod /lib/modules/mbochs.ko && insmod /lib/modules/mdpy.ko || { say "insmod FAILED"; exit 1; }
create mbochs $MBOCHS_TYPE $MBOCHS
create mdpy mdpy-vga $MDPY
say "setup done at uptime $(up) s"

cli() { node "$JS/src/cli/main.js" "$@"; }  # = bin/vgpu-display.mjs, without tsx
json() { # file command... : stdout to a file, stderr and a short line to the console
	out=$1
	shift
	"$@" >"$RESULTS/$out"
	r=$?
	echo "wrote $out ($(wc -c <"$RESULTS/$out") bytes), exit $r"
	return $r
}

# 1. the device-file layer on its own
step smoke-mbochs "src/linux on stock mbochs" node $JS/test/kernel/vm/smoke.js mbochs $MBOCHS
step smoke-mdpy "src/linux on mdpy" node $JS/test/kernel/vm/smoke.js mdpy $MDPY
# 2. the CLI with --device UUID / sysfs path
step probe-mbochs "vgpu-display probe --device UUID" cli probe --device $MBOCHS
step probe-mdpy "vgpu-display probe --device sysfs path" cli probe --device /sys/bus/mdev/devices/$MDPY
step conformance-mbochs "conformance --json, stock mbochs" json conformance-mbochs.json cli conformance --device $MBOCHS --json
step conformance-mdpy "conformance --json, mdpy" json conformance-mdpy.json cli conformance --device $MDPY --json
# 3. the same DISPI sequence on real and emulated bochs
step diff-bochs "real mbochs vs emulated bochs" node $JS/test/kernel/vm/diff-bochs.js $MBOCHS $MBOCHS_TYPE
# 4. pixels: swap in the O_RDWR lab build of mbochs (same mdev UUID)
swap_rw() {
	echo 1 >/sys/bus/mdev/devices/$MBOCHS/remove && rmmod mbochs &&
		insmod /lib/modules/rw/mbochs.ko && create mbochs $MBOCHS_TYPE $MBOCHS
}
if swap_rw; then
	say "mbochs swapped for the O_RDWR lab build"
	step snapshot-mbochs "pattern -> dma-buf -> PNG (O_RDWR mbochs)" node $JS/test/kernel/vm/snapshot.js $MBOCHS
	step display-mbochs "display client: modes, pan, cache, pixels" node $JS/test/kernel/vm/display.js $MBOCHS
	step cli-device-mbochs "snapshot --device UUID; run --device UUID to a viewer" node $JS/test/kernel/vm/cli-device.js $MBOCHS
else
	say "swapping in the O_RDWR mbochs FAILED"
	printf 'swap-mbochs-rw\t1\t0\tremove/rmmod/insmod failed\n' >>"$RESULTS/summary.tsv"
	failed=$((failed + 1))
fi

say "all steps done at uptime $(up) s, $failed failed"
exit $failed
