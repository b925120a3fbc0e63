#!/bin/bash
# `npm run test:kernel`: the display client against Linux's own mbochs and mdpy.
#
#  1. apt-get install what is missing (packages.sh)
#  2. build the kernel + modules once per config (build-kernel.sh; cached in .cache/kernel)
#  3. make the initramfs, boot qemu (TCG), run test/kernel/vm/tests.sh inside
#  4. fail unless every in-VM step passed and the console has no kernel
#     WARNING/BUG/Oops; print the step table and the quirks the devices showed
#
# Env: VGPU_KERNEL_CACHE (cache folder), VM_TIMEOUT (s), JOBS (build jobs),
#      KERNEL_TEST_SCRIPT (in-VM script, default test/kernel/vm/tests.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t0=$(date +%s)
case "$KT_ROOT" in *[[:space:]]*) kt_die "the project path must not contain spaces (it goes on the kernel command line)";; esac

"$KT_HERE/packages.sh"
t1=$(date +%s)
art=$("$KT_HERE/build-kernel.sh")
t2=$(date +%s)

# The VM runs the project as JavaScript: tsx's loader thread costs 7-16 s per node
# process under TCG. tsc emits it (rewriting .ts imports, dynamic ones included).
kt_log "compiling src/ and test/kernel/vm/ to $KT_JS"
rm -rf "$KT_JS"
set +e
tsc_out=$(cd "$KT_ROOT" && node node_modules/typescript/bin/tsc -p test/kernel --noEmit false --outDir "$KT_JS" 2>&1)
set -e
[ -z "$tsc_out" ] || kt_log "tsc reported $(grep -c 'error TS' <<<"$tsc_out") type errors (emitted anyway; npm test is where they fail)"
for f in src/cli/main.js src/linux/RealDevice.js test/kernel/vm/smoke.js; do
	[ -f "$KT_JS/$f" ] || { echo "$tsc_out" | head -20; kt_die "tsc did not emit $f"; }
done

mkdir -p "$KT_RUN"
results=$KT_RUN/results
rm -rf "$results"
mkdir -p "$results"
"$KT_HERE/make-initramfs.sh" "$art" "$KT_RUN/initramfs.cpio.gz"
log=$KT_RUN/console.log
kt_log "booting the VM (console log: $log)"
set +e
"$KT_HERE/run-vm.sh" "$art" "$KT_RUN/initramfs.cpio.gz" "$results" "$log" \
	"${KERNEL_TEST_SCRIPT:-test/kernel/vm/tests.sh}" "vgjs=$KT_JS" | sed -u 's/^/  vm| /'
qemu=${PIPESTATUS[0]}
set -e
t3=$(date +%s)

# Kernel problems: only printk lines (they carry the [ seconds.micros] stamp).
kernel_bad=$(grep -aE '^\[ *[0-9]+\.[0-9]+\] .*(WARNING:|BUG:|Oops|Kernel panic|general protection fault|VFS: Close: file count is 0)' "$log" || true)
vm_status=$(cat "$results/status" 2>/dev/null || echo none)

node "$KT_HERE/report.mjs" "$results"
echo
echo "times: packages $((t1 - t0)) s, kernel $((t2 - t1)) s, VM run $((t3 - t2)) s, total $((t3 - t0)) s"

fail=0
if [ "$qemu" = 124 ]; then echo "FAIL: the VM timed out after ${VM_TIMEOUT:-600} s"; fail=1
elif [ "$qemu" != 0 ]; then echo "FAIL: qemu exited with $qemu"; fail=1; fi
if [ -n "$kernel_bad" ]; then
	echo "FAIL: the kernel logged WARNING/BUG/Oops:"
	echo "$kernel_bad" | head -20 | sed 's/^/  /'
	fail=1
fi
if [ "$vm_status" = none ]; then echo "FAIL: the VM wrote no status (hang, panic or crash before the end)"; fail=1
elif [ "$vm_status" != 0 ]; then echo "FAIL: in-VM tests exited with status $vm_status"; fail=1; fi
steps=$(wc -l <"$results/summary.tsv" 2>/dev/null || echo 0)
failed=$(awk -F'\t' '$2 != 0' "$results/summary.tsv" 2>/dev/null | wc -l)
[ "$steps" -gt 0 ] || { echo "FAIL: no step ran"; fail=1; }
# The closing line CI reads.
echo "kernel: $((steps - failed)) passed, $((failed + (fail && !failed ? 1 : 0))) failed"
exit $fail
