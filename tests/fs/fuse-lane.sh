#!/bin/bash
# fuse-lane.sh [FSTEST] - the FUSE frontend's test lane (make test-fuse).
#
# As root: start the usmfs daemon twice (size=64M with a swap file; a small
# size=16M,swap=none one for the full-pool case), run the filesystem suite
# on the first, then fio verify jobs (psync and mmap, working set 160M >
# size=64M so pages are evicted and swapped back in), the copy tools
# (tools-lane.sh: rsync -aX, cp -a, tar --xattrs), unmount, and check
# that the daemons exit and no mount is left behind.  Every wait is
# bounded; mounts and daemons are cleaned up on any exit.
#
# Environment:
#   FS_LANE_TARGET=usmfs|tmpfs  tmpfs tests the lane's own mechanics (default usmfs)
#   USMFS_BIN                   the daemon (default usmfs/build/usmfs)
#   USMFS_LANE_OPTS             extra -o options for both daemons
#   FIO_SIZE                    fio working set per job (default 160M)
#   FS_SUITE_TIMEOUT            bound on the whole suite in seconds (default 1800)
#   FS_SKIP, FS_VERBOSE, FS_TIMEOUT_MULT   passed to run-suite.sh
# fuse-lane.sh --abort MNT... aborts those mounts' FUSE connections (the
# runner's FS_STUCK_HOOK).
# Ends with "fuse: N passed, N failed" (suite cases + fio jobs + lane
# checks) and exits 1 on any failure.  Last, restart.sh quick, fio, supervisor, gap, limits:
# the daemon killed and upgraded under load (docs/fuse.md "Restarts").
set -u

# Abort the FUSE connection of each mount point given, without touching the
# mounts themselves (a hung daemon would block a stat): the connection id
# is the device number from /proc/self/mountinfo.
fuse_abort() {
	local m mm maj min conn
	grep -q '^fusectl ' /proc/mounts ||
		mount -t fusectl fusectl /sys/fs/fuse/connections 2>/dev/null
	for m in "$@"; do
		mm=$(awk -v m="$m" '$5 == m { print $3 }' /proc/self/mountinfo | tail -n 1)
		[ -n "$mm" ] || continue
		maj=${mm%%:*} min=${mm##*:}
		conn=/sys/fs/fuse/connections/$(( (maj << 20) | min ))
		if [ -w "$conn/abort" ]; then
			echo "lane: aborting the FUSE connection of $m" >&2
			echo 1 > "$conn/abort"
		fi
	done
}
if [ "${1:-}" = --abort ]; then
	shift
	fuse_abort "$@"
	exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export FSTEST=${1:-$here/build/fstest}
target=${FS_LANE_TARGET:-usmfs}
daemon=${USMFS_BIN:-$top/usmfs/build/usmfs}
fio_size=${FIO_SIZE:-160M}
size=64M noswap_size=16M

passed=0 failed=0
SECONDS=0
ok()  { echo "ok   lane: $* (+${SECONDS}s)"; passed=$((passed + 1)); }
bad() { echo "FAIL lane: $*"; failed=$((failed + 1)); }
finish() {
	echo "fuse-lane: done in ${SECONDS}s"
	echo "fuse: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

[ "$(id -u)" = 0 ] || { bad "needs root (mounts)"; finish; }
[ -x "$FSTEST" ] || { bad "no $FSTEST (make -C tests/fs all)"; finish; }
case $target in
usmfs) [ -x "$daemon" ] || { bad "no FUSE daemon at $daemon (make -C usmfs)"; finish; } ;;
tmpfs) ;;
*) bad "FS_LANE_TARGET must be usmfs or tmpfs"; finish ;;
esac

work=$(mktemp -d /tmp/usmfs-fuse-lane.XXXXXX)
chmod 0755 "$work"	# the suite's root cases run as other uids below it
mnt=$work/mnt noswap=$work/noswap
# a third mount whose store lives on a small filesystem (mmap_full)
storefull=$work/storefull storefs=$work/storefs
mkdir -p "$mnt" "$noswap" "$storefull" "$storefs"
declare -A dpid=()	# mount point -> daemon pid

mounted() { grep -q " $1 " /proc/mounts; }

# Abort both mounts' connections (usmfs target only).
abort_all() {
	[ "$target" = usmfs ] && fuse_abort "$mnt" "$noswap" "$storefull"
	return 0
}

# run_for SECS CMD...: run CMD in the background and wait at most SECS
# seconds; past that, abort the FUSE connections (a process stuck in a
# request cannot be killed otherwise), kill it and give up on it.
# Returns CMD's status, or 124.
run_for() {
	local secs=$1 pid i
	shift
	"$@" &
	pid=$!
	for ((i = 0; i < secs * 5; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return
		fi
		sleep 0.2
	done
	echo "lane: '$*' still running after ${secs}s" >&2
	abort_all
	kill -KILL "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	return 124
}

# Wait up to $2 seconds for pid $1 to exit; 0 if it did.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

unmount() {
	local m=$1
	mounted "$m" || return 0
	if [ "$target" = usmfs ]; then
		run_for 20 fusermount3 -u "$m" 2>/dev/null || run_for 20 umount "$m"
	else
		run_for 20 umount "$m"
	fi
	! mounted "$m"
}

cleanup() {
	local m p
	for m in "$mnt" "$noswap" "$storefull"; do
		if mounted "$m" && ! unmount "$m"; then
			echo "cleanup: $m busy or hung; aborting the connection" >&2
			[ "$target" = usmfs ] && fuse_abort "$m"
			umount -l "$m" || true
		fi
	done
	for m in "${!dpid[@]}"; do
		p=${dpid[$m]}
		kill -0 "$p" 2>/dev/null || continue
		kill -TERM "$p" 2>/dev/null
		wait_gone "$p" 10 || { echo "cleanup: daemon $p killed" >&2; kill -KILL "$p"; }
	done
	mounted "$storefs" && { umount "$storefs" || umount -l "$storefs"; }
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# start MNT OPTIONS: a daemon in the foreground of a background job.
start() {
	local m=$1 opts=$2 i log=$work/daemon.$(basename "$1").log
	if [ "$target" = tmpfs ]; then
		mount -t tmpfs -o "$3,mode=1777" usmfs-lane "$m" && ok "tmpfs $m mounted" ||
			{ bad "mount tmpfs on $m"; return 1; }
		return 0
	fi
	"$daemon" "$m" -f -o "$opts${USMFS_LANE_OPTS:+,$USMFS_LANE_OPTS}" >"$log" 2>&1 &
	dpid[$m]=$!
	for ((i = 0; i < 100; i++)); do
		mounted "$m" && break
		kill -0 "${dpid[$m]}" 2>/dev/null || break
		sleep 0.1
	done
	if mounted "$m"; then
		ok "usmfs -o $opts mounted (pid ${dpid[$m]})"
	else
		bad "usmfs -o $opts did not mount within 10 s"
		sed 's/^/    /' "$log"
		return 1
	fi
}

# the daemon's log, shown when something went wrong
show_logs() {
	local f
	for f in "$work"/daemon.*.log; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f") (last 30 lines)"
		tail -n 30 "$f" | sed 's/^/    /'
	done
}

if [ "$target" = tmpfs ]; then
	fe=tmpfs
	export USMFS_SIZE= USMFS_SWAP=none
	start "$mnt" "" "size=512M" || finish
	start "$noswap" "" "size=$noswap_size" || finish
else
	fe=fuse
	# A swapin_timeout the module could not hold is refused here too,
	# with a message naming it, and nothing is mounted.
	for t in 4294967296ms 1194h; do
		if out=$(timeout 10 "$daemon" "$noswap" -f -o "swapin_timeout=$t" 2>&1); then
			bad "swapin_timeout=$t accepted"
		elif mounted "$noswap"; then
			bad "swapin_timeout=$t mounted"
			fusermount3 -u "$noswap" 2>/dev/null || umount -l "$noswap"
		elif [[ $out == *"'swapin_timeout'"* ]]; then
			ok "swapin_timeout=$t refused"
		else
			bad "swapin_timeout=$t: no message naming it: $out"
		fi
	done
	export USMFS_SIZE=$size USMFS_SWAP=file
	start "$mnt" "size=$size,swap=file:$work/swap,allow_other" || finish
	# the second mount is also the suite's noacl one (posix_acl case)
	start "$noswap" "size=$noswap_size,swap=none,allow_other,noacl" || finish
	export USMFS_NOACL_DIR=$noswap
	# its store's filesystem has about 24M of room for the store (a
	# store keeps max(256M, 5%) of its filesystem free)
	if mount -t tmpfs -o size=300M usmfs-lane-store "$storefs" &&
	   dd if=/dev/zero of="$storefs/other" bs=1M count=20 status=none; then
		start "$storefull" "size=$noswap_size,swap=file:$storefs/swap,allow_other" &&
			export USMFS_STOREFULL_DIR=$storefull
	else
		bad "tmpfs for the small store"
	fi
fi
export USMFS_NOSWAP_DIR=$noswap USMFS_NOSWAP_SIZE=$noswap_size
[ "$target" = usmfs ] && export USMFS_NOSWAP_PID=${dpid[$noswap]}

# --- swap=file: naming a file that is not a store (a typo, /etc/shadow):
# the mount is refused and the file keeps its bytes, mode and mtime
# (docs/stores.md).  The file is one we made, in our work directory.
if [ "$target" = usmfs ]; then
	victim=$work/not-a-store refused=$work/refused
	printf 'root:$6$precious:19000:0:99999:7:::\n' > "$victim"
	chmod 640 "$victim"
	touch -d 2001-01-01 "$victim"
	before="$(stat -c '%s %a %Y' "$victim") $(sha256sum < "$victim")"
	mkdir -p "$refused"
	# in the foreground and in the background, the same: exit status 1
	# (a crash on the way out, 139, was taken for a refusal)
	for fg in "" -f; do
		out=$(timeout -k 5 20 "$daemon" "$refused" $fg -o "size=16M,swap=file:$victim" 2>&1)
		rc=$?
		was_mounted=0
		if mounted "$refused"; then was_mounted=1; unmount "$refused"; fi
		after="$(stat -c '%s %a %Y' "$victim") $(sha256sum < "$victim")"
		if [ $rc -eq 1 ] && [ $was_mounted = 0 ] && [ "$after" = "$before" ] &&
		   [ "${out/not a usmfs store/}" != "$out" ]; then
			ok "swap=file: on a file that is not a store (${fg:-background}): refused with status 1, file unchanged"
		else
			bad "swap=file: on a non-store file (${fg:-background}): exit $rc, mounted $was_mounted, file '$before' -> '$after', said: $out"
		fi
	done
fi

# --- the suite, bounded as a whole too; a case stuck in a request makes
# the runner call us back to abort the connections
if [ "$target" = usmfs ]; then
	export FS_STUCK_HOOK="'$here/fuse-lane.sh' --abort '$mnt' '$noswap' '$storefull'"
fi
suite() { "$here/run-suite.sh" "$mnt" "$fe" | tee "$work/suite.log"; }
# add_counts TAG LOG: add LOG's last "TAG: N passed, N failed" to ours
add_counts() {
	local line p f
	line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n 1)
	[ -n "$line" ] || return 1
	p=$(echo "$line" | sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[^:]*: [0-9]+ passed, ([0-9]+) failed.*/\1/')
	passed=$((passed + p)) failed=$((failed + f))
}
run_for "${FS_SUITE_TIMEOUT:-1800}" suite || true
add_counts "fs-$fe" "$work/suite.log" || bad "the suite did not finish"

# --- fio verify jobs: a working set larger than size=
fio_job() {
	local name=$1; shift
	local out=$work/fio.$name.out rc wkb rkb err
	local start=$SECONDS
	run_for 30 mkdir -p "$mnt/fio"
	run_for 200 timeout -k 10 180 fio --name="$name" --directory="$mnt/fio" --size="$fio_size" \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--output-format=terse --terse-version=3 "$@" >"$out" 2>&1
	rc=$?
	# terse v3: 5 error, 6 read KiB, 47 write KiB
	line=$(grep '^3;' "$out" | tail -n 1)
	err=$(echo "$line" | cut -d';' -f5)
	rkb=$(echo "$line" | cut -d';' -f6)
	wkb=$(echo "$line" | cut -d';' -f47)
	# on usmfs the working set (> size=) must have been evicted and read back
	local ev=0 si=0 f st
	if [ "$target" = usmfs ]; then
		for f in "$mnt"/fio/*; do
			st=$(run_for 10 getfattr --only-values -n user.usm.stats "$f" 2>/dev/null) || continue
			ev=$((ev + $(echo "$st" | sed -n 's/.*evictions=\([0-9]*\).*/\1/p')))
			si=$((si + $(echo "$st" | sed -n 's/.*swapins=\([0-9]*\).*/\1/p')))
		done
	fi
	if [ $rc -eq 0 ] && [ "$err" = 0 ] && [ -n "$wkb" ] && [ "$wkb" -gt 0 ] &&
	   [ "$rkb" = "$wkb" ] && { [ "$target" != usmfs ] || { [ "$ev" -gt 0 ] && [ "$si" -gt 0 ]; }; }; then
		echo "PASS fio-$name (wrote and verified $((wkb / 1024)) MiB, $((SECONDS - start))s, evictions=$ev swapins=$si)"
		passed=$((passed + 1))
	else
		echo "FAIL fio-$name: exit $rc, err=${err:-?}, written ${wkb:-?} KiB, verified ${rkb:-?} KiB, evictions=$ev swapins=$si"
		grep -v '^3;' "$out" | head -n 20 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	run_for 60 rm -rf "$mnt/fio"
}

# a mount that hangs now would only make every fio job time out
if ! run_for 30 ls "$mnt" >/dev/null; then
	bad "$mnt does not answer after the suite; fio not run"
	abort_all
elif command -v fio >/dev/null; then
	fio_job psync-rand --ioengine=psync --rw=randwrite --bs=16k
	fio_job mmap-rand --ioengine=mmap --rw=randwrite --bs=64k
	fio_job psync-seq --ioengine=psync --rw=write --bs=1M
else
	bad "fio not installed"
fi

# --- copy tools: rsync -aX, cp -a --preserve=all, tar --xattrs both ways
# (tools-lane.sh; the guests test the same semantics with the suite's C
# cases, their initramfs has no such tools)
run_for 300 "$here/tools-lane.sh" "$mnt" >"$work/tools.log" 2>&1
grep -E '^(PASS|FAIL) ' "$work/tools.log"
if ! add_counts tools "$work/tools.log"; then
	bad "the copy tools checks did not finish"
	tail -n 5 "$work/tools.log"
fi

# --- the root's stats: the module's keys, with the daemon's values (its
# pool is its own anonymous memory, its policies run in it, it evicts), and
# the evictions the fio jobs caused
if [ "$target" = usmfs ]; then
	st=$(run_for 10 getfattr --only-values -n user.usm.stats "$mnt" 2>/dev/null)
	kv() { echo "$st" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	if [ "$(kv source)" = anon ] && [ "$(kv server)" = 1 ] && [ "$(kv evicting)" = 1 ] &&
	   [ "${st/evictions=0 /}" = "$st" ] && [ -n "$(kv evictions)" ]; then
		ok "root stats: source=anon server=1 evicting=1 evictions=$(kv evictions)"
	else
		bad "root stats: '$st'"
	fi
fi

# --- requests per operation (requests.sh: its own daemon, counts only)
if [ "$target" = usmfs ]; then
	run_for 120 "$here/requests.sh" "$daemon" "$work" >"$work/requests.log" 2>&1
	grep -E '^(ok|FAIL) ' "$work/requests.log"
	add_counts requests "$work/requests.log" ||
		{ bad "the request counts did not finish"; tail -n 5 "$work/requests.log"; }
fi

# --- the daemons survived, unmount cleanly, exit, and leave nothing behind
for m in "$mnt" "$noswap" "$storefull"; do
	[ "$m" != "$storefull" ] || [ -n "${dpid[$m]:-}" ] || continue
	if [ "$target" = usmfs ]; then
		if kill -0 "${dpid[$m]}" 2>/dev/null; then ok "daemon for $(basename "$m") alive after the tests"
		else bad "daemon for $(basename "$m") died during the tests"; fi
	fi
	if unmount "$m"; then ok "$(basename "$m") unmounted"; else bad "unmount $m"; fi
	if [ "$target" = usmfs ] && [ -n "${dpid[$m]:-}" ]; then
		if wait_gone "${dpid[$m]}" 15; then
			wait "${dpid[$m]}"
			st=$?
			if [ $st -eq 0 ]; then ok "daemon for $(basename "$m") exited 0"
			else bad "daemon for $(basename "$m") exited with status $st"; fi
		else
			bad "daemon for $(basename "$m") still running 15 s after unmount"
		fi
	fi
	if mounted "$m"; then bad "$m still in /proc/mounts"; else ok "no leaked mount at $(basename "$m")"; fi
done
# --- unmount, then mount again at once with the same swap file
if [ "$target" = usmfs ]; then
	if run_for 300 "$here/remount-cycle.sh" "$daemon" "$work" 6 >"$work/remount.out" 2>&1; then
		ok "$(tail -n 1 "$work/remount.out")"
	else
		bad "$(grep -m1 FAIL "$work/remount.out" || tail -n 1 "$work/remount.out")"
		sed 's/^/    /' "$work/remount.out" | tail -n 6
	fi
fi
# --- the daemon killed (SIGKILL) and upgraded under load: the mount and
# every byte stay (issue 17)
if [ "$target" = usmfs ]; then
	for rmode in quick fio supervisor gap limits; do
		if USMFS_BIN="$daemon" run_for 900 "$here/restart.sh" "$rmode" \
			>"$work/restart-$rmode.out" 2>&1; then
			ok "$(tail -n 1 "$work/restart-$rmode.out") ($rmode)"
		else
			bad "restart $rmode: $(grep -m1 FAIL "$work/restart-$rmode.out" || tail -n 1 "$work/restart-$rmode.out")"
			grep -v 'can take' "$work/restart-$rmode.out" | sed 's/^/    /' | tail -n 12
		fi
	done
fi
[ "$failed" -eq 0 ] || show_logs
finish
