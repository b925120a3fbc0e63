#!/bin/bash
# `npm run test:kernel`: the display client against Linux's own mbochs and mdpy, on
# every kernel of KT_KERNELS (Debian's linux-source-6.1 and -6.12).
#
#  1. apt-get install what is missing (packages.sh)
#  2. build each kernel + modules once per config (build-kernel.sh; cached in .cache/kernel)
#  3. per kernel: check the cdev/iommufd ABI against its headers (6.12, on the host), make
#     the initramfs, boot qemu (TCG), run test/kernel/vm/tests.sh inside once per VFIO API
#  4. fail unless every step passed on every kernel and no console has a kernel
#     WARNING/BUG/Oops; print the step table (one column per kernel) and the quirks
#
# Env: KERNELS ("6.1 6.12"), VGPU_KERNEL_CACHE (cache folder), VM_TIMEOUT (s), JOBS (build
#      jobs), KERNEL_TEST_SCRIPT (in-VM script, default test/kernel/vm/tests.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
case "$KT_ROOT" in *[[:space:]]*) kt_die "the project path must not contain spaces (it goes on the kernel command line)";; esac

"$KT_HERE/packages.sh"
t1=$(date +%s)
declare -A art build_s
for v in "${KT_KERNELS[@]}"; do
	tb=$(date +%s)
	art[$v]=$("$KT_HERE/build-kernel.sh" "$v")
	build_s[$v]=$(($(date +%s) - tb))
done
t2=$(date +%s)

# The VM runs the project as JavaScript: tsx's loader thread costs 7-16 s per node
# process under TCG. tsc emits it (rewriting .ts imports, dynamic ones included).
kt_log "compiling src/ and test/kernel/vm/ to $KT_JS"
rm -rf "$KT_JS"
set +e
tsc_out=$(cd "$KT_ROOT" && node node_modules/typescript/bin/tsc -p test/kernel --noEmit false --outDir "$KT_JS" 2>&1)
set -e
[ -z "$tsc_out" ] || kt_log "tsc reported $(grep -c 'error TS' <<<"$tsc_out") type errors (emitted anyway; npm test is where they fail)"
for f in src/cli/main.js src/linux/RealDevice.js test/kernel/vm/smoke.js test/kernel/cdev-abi.js; do
	[ -f "$KT_JS/$f" ] || { echo "$tsc_out" | head -20; kt_die "tsc did not emit $f"; }
done
t3=$(date +%s)

fail=0
reports=()
declare -A vm_s
for v in "${KT_KERNELS[@]}"; do
	kt_kernel "$v"
	a=${art[$v]}
	mkdir -p "$KT_RUN"
	results=$KT_RUN/results
	rm -rf "$results"
	mkdir -p "$results"
	reports+=("$v=$results")
	tv=$(date +%s)
	# The cdev/iommufd structs and ioctl numbers against this kernel's own headers (host side).
	if [ -f "$a/headers/include/linux/iommufd.h" ]; then
		set +e
		node "$KT_JS/test/kernel/cdev-abi.js" "$a/headers/include" >"$results/abi-cdev-host.log" 2>&1
		rc=$?
		set -e
		sed 's/^/  abi| /' "$results/abi-cdev-host.log"
		printf 'abi-cdev\t%s\t%s\t%s\t%s\n' "$rc" "$(($(date +%s) - tv)).0" "CdevAbi.ts vs the kernel's vfio.h/iommufd.h" host >>"$results/summary.tsv"
	fi
	# The VFIO user APIs this kernel offers: the device cdev needs CONFIG_VFIO_DEVICE_CDEV.
	apis=group
	! grep -qx 'CONFIG_VFIO_DEVICE_CDEV=y' "$a/.config" || apis=cdev,group
	"$KT_HERE/make-initramfs.sh" "$v" "$a" "$KT_RUN/initramfs.cpio.gz"
	log=$KT_RUN/console.log
	kt_log "$v: booting the VM, VFIO APIs $apis (console log: $log)"
	set +e
	"$KT_HERE/run-vm.sh" "$a" "$KT_RUN/initramfs.cpio.gz" "$results" "$log" \
		"${KERNEL_TEST_SCRIPT:-test/kernel/vm/tests.sh}" "vgjs=$KT_JS" "vgapis=$apis" | sed -u "s/^/  vm $v| /"
	qemu=${PIPESTATUS[0]}
	set -e
	vm_s[$v]=$(($(date +%s) - tv))

	# Kernel problems: only printk lines (they carry the [ seconds.micros] stamp).
	kernel_bad=$(grep -aE '^\[ *[0-9]+\.[0-9]+\] .*(WARNING:|BUG:|Oops|Kernel panic|general protection fault|VFS: Close: file count is 0)' "$log" || true)
	vm_status=$(cat "$results/status" 2>/dev/null || echo none)
	if [ "$qemu" = 124 ]; then echo "FAIL ($v): the VM timed out after ${VM_TIMEOUT:-1200} s"; fail=1
	elif [ "$qemu" != 0 ]; then echo "FAIL ($v): qemu exited with $qemu"; fail=1; fi
	if [ -n "$kernel_bad" ]; then
		echo "FAIL ($v): the kernel logged WARNING/BUG/Oops:"
		echo "$kernel_bad" | head -20 | sed 's/^/  /'
		fail=1
	fi
	if [ "$vm_status" = none ]; then echo "FAIL ($v): the VM wrote no status (hang, panic or crash before the end)"; fail=1
	elif [ "$vm_status" != 0 ]; then echo "FAIL ($v): in-VM tests exited with status $vm_status"; fail=1; fi
	[ -s "$results/summary.tsv" ] || { echo "FAIL ($v): no step ran"; fail=1; }
done
t4=$(date +%s)

node "$KT_HERE/report.mjs" "${reports[@]}"
echo
times="packages $((t1 - t0)) s"
for v in "${KT_KERNELS[@]}"; do
	if [ "${build_s[$v]}" -gt 5 ]; then times+=", kernel $v built in ${build_s[$v]} s"; else times+=", kernel $v cached"; fi
done
times+=", tsc $((t3 - t2)) s"
for v in "${KT_KERNELS[@]}"; do times+=", VM $v ${vm_s[$v]} s"; done
echo "times: $times, total $((t4 - t0)) s"

steps=0 failed=0
for r in "${reports[@]}"; do
	s=${r#*=}/summary.tsv
	steps=$((steps + $(wc -l <"$s" 2>/dev/null || echo 0)))
	failed=$((failed + $(awk -F'\t' '$2 != 0' "$s" 2>/dev/null | wc -l)))
done
# The closing line CI reads.
echo "kernel: $((steps - failed)) passed, $((failed + (fail && !failed ? 1 : 0))) failed"
exit $fail
