#!/bin/bash
# Boot the test VM once: qemu -accel tcg with the cached kernel, our initramfs,
# the project (read-only), the host's / (read-only, for node) and a writable
# results folder over 9p. The serial console goes to stdout and to a log.
#
# Usage: run-vm.sh ARTIFACTS_DIR INITRD RESULTS_DIR LOG TEST_SCRIPT [extra kernel args]
#   TEST_SCRIPT is relative to the project (e.g. test/kernel/vm/tests.sh).
# Env: VM_TIMEOUT (seconds, default 1200), VM_MEM (default 2G), VM_SMP (default 2)
# Exit: qemu's status (124 on timeout). The VM's own verdict is RESULTS_DIR/status.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
art=$1 initrd=$2 results=$3 log=$4 script=$5
shift 5
node=$(readlink -f "$(command -v node)")
[ -n "$node" ] || kt_die "node not found on the host"

set +e
# -cpu max: node/V8 wants SSE4/AVX-era instructions that qemu64 lacks.
# random.trust_cpu=on: the crng is ready at once (node blocks in getrandom otherwise).
# no_timer_check: on a loaded host TCG is too slow for the IO-APIC timer check, which then
# panics ("IO-APIC + timer doesn't work!", seen on 6.12 at load 30 on 2 cores).
timeout "${VM_TIMEOUT:-1200}" qemu-system-x86_64 \
	-accel tcg -cpu max -m "${VM_MEM:-2G}" -smp "${VM_SMP:-2}" \
	-nographic -no-reboot -nic none -vga none \
	-kernel "$art/bzImage" -initrd "$initrd" \
	-append "console=ttyS0 panic=-1 random.trust_cpu=on no_timer_check vgproject=$KT_ROOT vgnode=$node vgtest=$script $*" \
	-virtfs local,path="$KT_ROOT",mount_tag=project,security_model=none,readonly=on,id=project \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,id=hostroot \
	-virtfs local,path="$results",mount_tag=results,security_model=none,id=results \
	</dev/null 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
exit "$rc"
