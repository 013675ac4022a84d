#!/bin/bash
# debug-prebuild.sh: start building the debug kernel in the background
# (nice 10) and return at once; its log is $VM_BUILD/debug-prebuild.log.
# make test calls it first, so that the build overlaps the host stages (the
# kernel lane's "debug" then waits for it: debug-kernel.sh holds a lock).
# Idempotent: a second call while a build runs starts nothing.
set -u
. "$(dirname "$0")/lib.sh"

mkdir -p "$VM_BUILD" "$VM_CACHE/debug"
log=$VM_BUILD/debug-prebuild.log
if ! flock -n "$VM_CACHE/debug/.lock" true 2>/dev/null; then
	say "debug kernel: a build is already running"
	exit 0
fi
say "debug kernel: building in the background (log $log)"
setsid nice -n 10 bash -c '
	. "$1/lib.sh"
	papt_update && "$1/debug-kernel.sh" "$VM_CACHE/debug"
	echo "debug-prebuild: exit $?"' sh "$VM_DIR" >"$log" 2>&1 </dev/null &
exit 0
