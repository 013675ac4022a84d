#!/bin/bash
# tests/vm/debug-stage.sh: stage kdebug of make test, on the debug kernel
# (lockdep, KASAN, DEBUG_VM, kmemleak; built by debug-kernel.sh, which
# make test starts in the background first: debug-prebuild.sh).
#
#  1. the lane (lane.sh debug) with VM_QUICK=1: its first part mounts,
#     remounts and unmounts (the suite, fio and conformance checks of that
#     part run on the quick kernels), then every server step (srv-*: fio
#     verify with evictions and swap-ins, copy 4x the pool, sqlite, the
#     eviction cases of the suite, killed readers, server kills and
#     restarts, unmount, rmmod) with the debug sizes, then the kmemleak
#     scan and the dmesg check;
#  2. the torture test (torture.sh debug) on the same kernel and module.
#
# Ends "kdebug: N passed, N failed" (the sum of both); exits 1 on any
# failure.  make test-all runs the whole debug lane instead of part 1.
set -u
VM_DIR=$(cd "$(dirname "$0")" && pwd)
out=${VM_BUILD:-$VM_DIR/../../build/vm}
mkdir -p "$out"

# count LOG TAG: "P F" from LOG's last "TAG: N passed, N failed" line
# (none: "0 1", the part did not finish).
count() {
	local line
	line=$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1)
	[ -n "$line" ] || { echo "0 1"; return; }
	echo "$line" | sed -E "s/^$2: ([0-9]+) passed, ([0-9]+) failed.*/\\1 \\2/"
}

(cd "$VM_DIR" && VM_QUICK=1 ./lane.sh debug) 2>&1 | tee "$out/kdebug-lane.log"
lane_rc=${PIPESTATUS[0]}
read -r lp lf < <(count "$out/kdebug-lane.log" kmod)
[ "$lane_rc" -eq 0 ] || [ "$lf" -gt 0 ] || lf=1

"$VM_DIR/torture.sh" debug 2>&1 | tee "$out/kdebug-torture.log"
tort_rc=${PIPESTATUS[0]}
read -r tp tf < <(count "$out/kdebug-torture.log" torture)
[ "$tort_rc" -eq 0 ] || [ "$tf" -gt 0 ] || tf=1

echo "kdebug: lane (server steps, kmemleak, dmesg) $lp passed, $lf failed; torture $tp passed, $tf failed"
echo "kdebug: $((lp + tp)) passed, $((lf + tf)) failed"
[ $((lf + tf)) -eq 0 ]
