#!/bin/bash
# conform.sh MODE - the conformance/stress lane: run every test of
# stressors.tsv (stress-ng stressors and fsx) once on a fresh tmpfs (the
# reference) and once on the filesystem under test, side by side, and
# compare.  MODE is
#   fuse   the filesystem under test is the usmfs FUSE daemon,
#          $USMFS MNT -f -o size=256M,swap=file:WORK/swapfs/swap; tests named
#          evict-* run on a fresh daemon each with size=8M, so that most of
#          their data lives in the swap file (they must make it evict): a
#          file of 8M written first fills the pool, so that even a stressor
#          slowed by a loaded machine (a few hundred pages in its 2 s) has
#          its pages evict others
#   tmpfs  the filesystem under test is a second tmpfs (checks the lane)
#
# Rule: what passes on tmpfs must pass on the other; what fails, hangs or
# is skipped on tmpfs is "n/a".  Prints a table (also written to
# $CONFORM_OUT/table.md), then "conform: N passed, N failed, N n/a";
# exits 1 on any failure.  Needs root (mount).  Every wait is bounded;
# mounts and the daemon are removed on exit, whatever happens.
#
# Environment: USMFS (daemon binary), FSX, STRESS_NG, CONFORM_TIMEOUT
# (seconds per stressor, default 2), CONFORM_FSX_OPS (default 20000),
# CONFORM_ONLY (space-separated IDs: run only these), CONFORM_OUT,
# CONFORM_SIZE (mount size, default 256M), CONFORM_EVICT_SIZE (8M),
# CONFORM_USMFS_OPTS (more -o options for the daemon, e.g.
# no_writeback_cache).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
MODE=${1:-fuse}
USMFS=${USMFS:-$top/usmfs/build/usmfs}
FSX=${FSX:-$here/build/fsx}
STRESS_NG=${STRESS_NG:-stress-ng}
T=${CONFORM_TIMEOUT:-2}
FSX_OPS=${CONFORM_FSX_OPS:-20000}
ONLY=${CONFORM_ONLY:-}
OUT=${CONFORM_OUT:-$here/build/results}
SIZE=${CONFORM_SIZE:-256M}
EVICT_SIZE=${CONFORM_EVICT_SIZE:-8M}
XOPTS=${CONFORM_USMFS_OPTS:+,$CONFORM_USMFS_OPTS}
LIST=$here/stressors.tsv
HANG=$((T + 60))	# a test still running this long after its start hangs

case $MODE in
fuse) test_label=usmfs ;;
tmpfs) test_label=tmpfs2 ;;
*) echo "usage: conform.sh fuse|tmpfs" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "conform: needs root (mount)" >&2; exit 1; }
command -v "$STRESS_NG" >/dev/null || { echo "conform: $STRESS_NG not installed (make deps)" >&2; exit 1; }
[ -x "$FSX" ] || { echo "conform: $FSX not built" >&2; exit 1; }
if [ "$MODE" = fuse ] && [ ! -x "$USMFS" ]; then
	echo "conform: no daemon at $USMFS (build usmfs first)" >&2
	exit 1
fi

work=$(mktemp -d /tmp/usmfs-conform.XXXXXX)
ref=$work/ref tst=$work/test logs=$OUT/logs swapfs=$work/swapfs
swap=$swapfs/swap
daemon_pid=""
mkdir -p "$ref" "$tst" "$swapfs"
rm -rf "$OUT"
mkdir -p "$logs"

is_mounted() { grep -q " $1 " /proc/mounts; }

# Unmount the daemon's mount and wait (bounded) for the daemon to exit.
stop_usmfs() {
	local i rc
	if is_mounted "$tst"; then
		fusermount3 -u "$tst" 2>/dev/null || umount "$tst" 2>/dev/null || umount -l "$tst"
	fi
	[ -n "$daemon_pid" ] || return 0
	for i in $(seq 1 50); do
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$daemon_pid" 2>/dev/null; then
		echo "conform: daemon $daemon_pid did not exit after unmount; killing it" >&2
		echo "did not exit within 10s of its unmount; killed" >>"$logs/daemon.exits"
		kill -TERM "$daemon_pid" 2>/dev/null
		sleep 1
		kill -KILL "$daemon_pid" 2>/dev/null
	fi
	wait "$daemon_pid" 2>/dev/null
	rc=$?
	[ $rc -eq 0 ] || echo "exited with status $rc" >>"$logs/daemon.exits"
	daemon_pid=""
}

# start_usmfs SIZE: a fresh daemon (and swap file) on $tst; waits (bounded)
# for the mount to appear.
# The evictions counter (pages) of the usmfs mount at $1; 0 if unreadable.
evictions_of() {
	local v
	v=$(getfattr --only-values -n user.usm.stats "$1" 2>/dev/null |
		tr ' ' '\n' | sed -n 's/^evictions=//p')
	echo "${v:-0}"
}

start_usmfs() {
	local i
	rm -f "$swap"
	echo "=== usmfs $tst -f -o size=$1,swap=file:$swap$XOPTS" >>"$logs/daemon.log"
	"$USMFS" "$tst" -f -o "size=$1,swap=file:$swap$XOPTS" >>"$logs/daemon.log" 2>&1 &
	daemon_pid=$!
	for i in $(seq 1 50); do
		is_mounted "$tst" && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "conform: usmfs did not mount $tst (see $logs/daemon.log)" >&2
	stop_usmfs
	return 1
}

daemon_alive() {
	[ "$MODE" != fuse ] && return 0
	[ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null && is_mounted "$tst" &&
		timeout 10 stat "$tst" >/dev/null 2>&1
}

cleanup() {
	[ "$MODE" = fuse ] && stop_usmfs
	is_mounted "$tst" && { umount "$tst" 2>/dev/null || umount -l "$tst"; }
	is_mounted "$ref" && { umount "$ref" 2>/dev/null || umount -l "$ref"; }
	is_mounted "$swapfs" && { umount "$swapfs" 2>/dev/null || umount -l "$swapfs"; }
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# elapsed START_NS: seconds since START_NS (from date +%s%N), one decimal
elapsed() {
	local ds=$(( ($(date +%s%N) - $1) / 100000000 ))
	echo "$((ds / 10)).$((ds % 10))"
}

# run_one ID ARGS ROOT LABEL: one test in ROOT/ID; writes
# "status<TAB>seconds<TAB>detail" to $logs/ID.LABEL.res.  ARGS are
# stress-ng's, or "fsx OPTIONS" for fsx.
run_one() {
	local id=$1 args=$2 root=$3 label=$4 dir log rc status detail start secs
	dir=$root/$id
	log=$logs/$id.$label.log
	mkdir -p "$dir/fstat/d"
	# something for --fstat-dir to stat: files, a directory, a symlink, a FIFO
	: >"$dir/fstat/empty"
	echo data >"$dir/fstat/file"
	ln -s file "$dir/fstat/link"
	mkfifo "$dir/fstat/fifo"
	args=${args//@DIR@/$dir}
	args=${args//@FSX_OPS@/$FSX_OPS}
	start=$(date +%s%N)
	# shellcheck disable=SC2086 # ARGS is a list of words
	if [[ $args == "fsx "* ]]; then
		timeout -k 5 $HANG "$FSX" ${args#fsx } "$dir/fsx.file" >"$log" 2>&1
		rc=$?
		detail=$(grep -m1 -E '^fsx: op [0-9]+:' "$log" | cut -c1-200)
	else
		timeout -k 5 $HANG nice "$STRESS_NG" $args --timeout "${T}s" --verify \
			--temp-path "$dir" --metrics-brief >"$log" 2>&1
		rc=$?
		detail=$(grep -m1 -E 'fail:|error:|skipping|not supported|not implemented|out of system resources' "$log" |
			sed -E 's/^stress-ng: [a-z]+: +\[[0-9]+\] //' | tr '\t' ' ' | cut -c1-200)
	fi
	secs=$(elapsed "$start")
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		status=hang detail="still running ${HANG}s after its start; killed"
	elif [ "$label" = usmfs ] && ! daemon_alive; then
		status=crash detail="usmfs daemon died or its mount is dead: ${detail:-see daemon.log}"
	elif [ $rc -eq 0 ] && grep -q -E 'fail:' "$log"; then
		status=fail
	elif [ $rc -eq 0 ] && grep -q -E 'skipping|not supported|not implemented' "$log"; then
		status=skip
	elif [ $rc -eq 0 ]; then
		status=pass detail=""
	elif [ $rc -eq 3 ] || [ $rc -eq 4 ]; then
		status=skip detail="exit $rc: ${detail:-no resources / not implemented}"
	else
		status=fail detail="exit $rc: $detail"
	fi
	printf '%s\t%s\t%s\n' "$status" "$secs" "$detail" >"$logs/$id.$label.res"
	timeout 60 rm -rf "$dir" 2>/dev/null
}

ids=()
declare -A argsof
while IFS=$'\t' read -r id args _; do
	case $id in ''|'#'*) continue ;; esac
	if [ -n "$ONLY" ] && [[ " $ONLY " != *" $id "* ]]; then
		continue
	fi
	ids+=("$id")
	argsof[$id]=$args
done <"$LIST"

mount -t tmpfs -o "size=$SIZE,mode=1777" usmfs-conform-ref "$ref" || exit 1
[ "$MODE" = tmpfs ] && { mount -t tmpfs -o "size=$SIZE,mode=1777" usmfs-conform-test "$tst" || exit 1; }
# The swap file lives on a tmpfs of its own: the store keeps a reserve of
# max(256M, 5%) free on its filesystem and refuses to grow below it, so on
# a shared host disk that others fill and empty the eviction tests would
# pass or fail with the disk.  512M leaves the store 256M.
[ "$MODE" = fuse ] && { mount -t tmpfs -o size=512M,mode=0700 usmfs-conform-swap "$swapfs" || exit 1; }

echo "conform: $MODE: ${#ids[@]} tests, ${T}s per stressor, tmpfs and $test_label side by side; logs in $logs"
# The checker itself must catch a corrupted byte, or its passes mean nothing.
selftest=fail
if ! "$FSX" -N 2000 -Z 700 "$ref/selftest" >"$logs/fsx-selftest.log" 2>&1 &&
   grep -q 'returned wrong data' "$logs/fsx-selftest.log"; then
	selftest=pass
fi
rm -f "$ref/selftest"

declare -A swapped
cur_size=""
for id in "${ids[@]}"; do
	if [ "$MODE" = fuse ]; then
		# evict-* tests get a fresh small daemon each (so the swap file
		# shows what that test evicted); the others share a big one,
		# restarted only when it died
		want=$SIZE
		[[ $id == evict-* ]] && want=$EVICT_SIZE
		if [[ $id == evict-* ]] || [ "$want" != "$cur_size" ] || ! daemon_alive; then
			[ -n "$daemon_pid" ] && ! daemon_alive && echo "conform: usmfs died; restarting it before $id" >&2
			stop_usmfs
			if ! start_usmfs "$want"; then
				printf 'crash\t0\tthe daemon would not start\n' >"$logs/$id.usmfs.res"
				printf 'skip\t0\tnot run\n' >"$logs/$id.tmpfs.res"
				cur_size=""
				continue
			fi
			cur_size=$want
		fi
	fi
	if [ "$MODE" = fuse ] && [[ $id == evict-* ]]; then
		timeout 60 head -c "$EVICT_SIZE" /dev/urandom >"$tst/.fill-$id" 2>/dev/null
	fi
	ev0=$(evictions_of "$tst")
	run_one "$id" "${argsof[$id]}" "$ref" tmpfs &
	ref_job=$!
	run_one "$id" "${argsof[$id]}" "$tst" "$test_label"
	wait "$ref_job"
	if [ "$MODE" = fuse ] && [[ $id == evict-* ]]; then
		# bytes evicted during the case, from the mount's own counter (the
		# store's size is no measure: an emptied store is truncated)
		swapped[$id]=$(( ($(evictions_of "$tst") - ev0) * 4096 ))
		if [ "${swapped[$id]}" -le 0 ] && [ "$(cut -f1 "$logs/$id.usmfs.res")" = pass ]; then
			printf 'fail\t%s\tnothing was evicted (evictions did not grow): not an eviction test\n' \
				"$(cut -f2 "$logs/$id.usmfs.res")" >"$logs/$id.usmfs.res"
		fi
	fi
	printf '  %-12s tmpfs %-5s %s %s\n' "$id" "$(cut -f1 "$logs/$id.tmpfs.res")" \
		"$test_label" "$(cut -f1 "$logs/$id.$test_label.res")"
done

# the comparison
pass=0 fail=0 na=0
table=$OUT/table.md
{
	echo "| test | tmpfs | $test_label | result | note |"
	echo "| --- | --- | --- | --- | --- |"
} >"$table"
failures=""
for id in "${ids[@]}"; do
	IFS=$'\t' read -r rs rt rd <"$logs/$id.tmpfs.res"
	IFS=$'\t' read -r ts tt td <"$logs/$id.$test_label.res"
	if [ "$rs" != pass ]; then
		result="n/a ($rs on tmpfs too)"
		[ "$ts" = pass ] && result="n/a ($rs on tmpfs; passes on $test_label)"
		na=$((na + 1))
		note=$rd
	elif [ "$ts" = pass ]; then
		result=PASS
		pass=$((pass + 1))
		note=""
	else
		result="FAIL ($ts)"
		fail=$((fail + 1))
		note=$td
		failures+="  $id: $ts: $td"$'\n'"    ${argsof[$id]}; log $logs/$id.$test_label.log"$'\n'
	fi
	if [ -n "${swapped[$id]:-}" ]; then
		note="evicted $((swapped[$id] >> 20)) MiB${note:+; $note}"
	fi
	note=${note//|/\\|}
	echo "| $id | $rs ${rt}s | $ts ${tt}s | $result | $note |" >>"$table"
done
# The daemon: every instance must have exited cleanly after its unmount,
# with nothing from the sanitizers when it is an ASan/UBSan build.
if [ "$MODE" = fuse ]; then
	stop_usmfs
	san=$(grep -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$logs/daemon.log" | cut -c1-160)
	if [ -s "$logs/daemon.exits" ] || [ -n "$san" ]; then
		fail=$((fail + 1))
		why="$(head -1 "$logs/daemon.exits" 2>/dev/null)${san:+; $san}"
		echo "| daemon | - | - | FAIL | ${why//|/\\|} (see daemon.log) |" >>"$table"
		failures+="  daemon: $why; log $logs/daemon.log"$'\n'
	else
		pass=$((pass + 1))
		echo "| daemon | - | - | PASS | every daemon exited 0 after its unmount; no sanitizer report |" >>"$table"
	fi
fi
if [ "$selftest" = pass ]; then
	pass=$((pass + 1))
	echo "| fsx-selftest | - | - | PASS | fsx -Z: a byte changed behind fsx's back was caught |" >>"$table"
else
	fail=$((fail + 1))
	echo "| fsx-selftest | - | - | FAIL | fsx -Z: a corrupted byte was not caught |" >>"$table"
	failures+="  fsx-selftest: fsx did not detect an injected corruption; see $logs/fsx-selftest.log"$'\n'
fi

echo
cat "$table"
if [ -n "$failures" ]; then
	echo
	echo "conform: failures ($test_label only):"
	printf '%s' "$failures"
fi
echo
echo "conform: $pass passed, $fail failed, $na n/a"
[ "$fail" -eq 0 ]
