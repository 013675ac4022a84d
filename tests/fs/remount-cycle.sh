#!/bin/bash
# remount-cycle.sh DAEMON WORKDIR [CYCLES] - the FUSE daemon's resources are
# free once umount returns: mount size=8M with a swap file, write 64M into
# it (most of it goes to the store), umount, and mount again at once with
# the same swap file, CYCLES times (default 6).  A daemon still holding the
# store when the next one starts made that mount fail with "in use by
# another store" (about one cycle in three).  Every wait is bounded.
# Ends with "remount: N cycles passed" or "FAIL remount: ..." (exit 1).
set -u
daemon=$1 work=$2 cycles=${3:-6}
m=$work/remount swap=$work/remount.swap
mkdir -p "$m"
mounted() { grep -q " $m " /proc/mounts; }
pid=
fail() {
	echo "FAIL remount: $*"
	[ -s "$work/remount.log" ] && sed 's/^/    /' "$work/remount.log" | tail -n 5
	mounted && { umount "$m" || umount -l "$m"; }
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	exit 1
}
for ((c = 1; c <= cycles; c++)); do
	"$daemon" "$m" -f -o size=8M,swap=file:"$swap" >"$work/remount.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		mounted && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	mounted || { wait "$pid"; fail "cycle $c: the daemon did not mount (exit $?)"; }
	timeout 120 dd if=/dev/zero of="$m/f" bs=1M count=64 status=none ||
		fail "cycle $c: writing 64M failed"
	umount "$m" || fail "cycle $c: umount failed"
	# no wait here: the next cycle's mount comes right after umount
	old=$pid
	pid=
	if ((c == cycles)); then
		for ((i = 0; i < 150; i++)); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
	fi
done
echo "remount: $cycles cycles passed"
