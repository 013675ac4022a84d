#!/bin/bash
# restart.sh [quick|fio] - the FUSE daemon survives SIGKILL and an upgrade
# (issue 17).  As root, on the host.
#
#   quick  a size=8M mount with a swap file (created here, in our own
#          temporary directory), three 8M files written (3x the pool, so
#          most of it is in the store), their checksums taken; then the
#          serving daemon (daemon_pid of usmctl status --json) is killed
#          with SIGKILL KILLS times (default 3), with a file read and one
#          written between kills, and once replaced with usmctl restart.
#          After each: no ENOTCONN, every file reads back as written,
#          usmctl status counts the restarts.
#   fio    fio verify=crc32c, psync and mmap engines, working set 3x the
#          pool, while a killer SIGKILLs the daemon at random moments
#          (KILLS times) and runs usmctl restart once; fio must end with
#          no error and the files of "quick" still read back.
#
# Environment: USMFS_BIN, USMCTL_BIN (default: the build trees), KILLS.
# Every wait is bounded; the mount, the supervisor and the temporary
# directory are removed on any exit.  Ends with "restart: N passed, N
# failed" and exits 1 on any failure.
set -u
mode=${1:-quick}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
daemon=${USMFS_BIN:-$top/usmfs/build/usmfs}
usmctl=${USMCTL_BIN:-$top/policy/build/usmctl}
kills=${KILLS:-3}
work=$(mktemp -d /tmp/usmfs-restart.XXXXXX)
m=$work/mnt swap=$work/store
passed=0 failed=0 spid=
SECONDS=0
ok()  { echo "ok   restart: $* (+${SECONDS}s)"; passed=$((passed + 1)); }
bad() { echo "FAIL restart: $*"; failed=$((failed + 1)); }
mounted() { grep -q " $m " /proc/mounts; }
cleanup() {
	local i
	if mounted; then
		timeout 20 umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	fi
	if [ -n "$spid" ]; then
		for ((i = 0; i < 100; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$spid" 2>/dev/null
	fi
	# a daemon left over (its supervisor killed) goes with the mount
	pkill_daemon
	rm -rf "$work"
}
# kill only a daemon serving our own mount point (its command line names it)
pkill_daemon() {
	local p
	for p in $(pgrep -x usmfs 2>/dev/null); do
		tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -qF " $m " && kill -9 "$p" 2>/dev/null
	done
}
finish() {
	[ "$failed" -eq 0 ] || { echo "--- daemon log"; tail -n 20 "$work/log" 2>/dev/null; }
	echo "restart: $passed passed, $failed failed (${SECONDS}s)"
	cleanup
	trap - EXIT
	[ "$failed" -eq 0 ]
	exit
}
trap finish EXIT INT TERM

[ "$(id -u)" = 0 ] || { bad "needs root (mounts)"; finish; }
[ -x "$daemon" ] || { bad "no daemon at $daemon"; finish; }
[ -x "$usmctl" ] || { bad "no usmctl at $usmctl"; finish; }
mkdir -p "$m"

# status field $1 of our mount (usmctl status --json), or ""
st_field() {
	timeout 20 "$usmctl" --json status 2>/dev/null | python3 -c '
import json, sys
for x in json.load(sys.stdin)["mounts"]:
    if x.get("dir") == sys.argv[1]:
        print(x.get(sys.argv[2], x.get("stats", {}).get(sys.argv[2], "")))' "$m" "$1"
}

"$daemon" "$m" -f -o size=8M,swap=file:"$swap" >"$work/log" 2>&1 &
spid=$!
for ((i = 0; i < 100; i++)); do
	mounted && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
done
mounted || { bad "the daemon did not mount"; finish; }
ok "mounted size=8M with a swap file"

for f in a b c; do
	timeout 120 dd if=/dev/urandom of="$m/$f" bs=1M count=8 status=none ||
		bad "writing $f"
done
mkdir -p "$m/d/e" && echo hello > "$m/d/e/x" && ln -s d/e/x "$m/l" &&
	setfattr -n user.k -v v "$m/d/e/x" 2>/dev/null
(cd "$m" && timeout 120 md5sum a b c d/e/x) > "$work/sums" || bad "first checksums"
ok "24M written (3x the pool), checksums taken"

# check $1: every file reads back (O_DIRECT: from the daemon, not the
# kernel's page cache), no ENOTCONN, the namespace is there
verify() {
	local sum f got
	while read -r sum f; do
		got=$(timeout 120 dd if="$m/$f" iflag=direct bs=1M status=none 2>&1 | md5sum)
		if [ "${got%% *}" != "$sum" ]; then
			bad "$1: $f does not read back: $(timeout 10 dd if="$m/$f" iflag=direct bs=1M count=1 2>&1 >/dev/null | head -n 1)"
			return 1
		fi
	done < "$work/sums"
	if [ "$(readlink "$m/l" 2>&1)" != d/e/x ] ||
	   [ "$(getfattr --only-values -n user.k "$m/d/e/x" 2>/dev/null)" != v ]; then
		bad "$1: symlink or xattr lost"
		return 1
	fi
	ok "$1: all files read back intact"
}

# kill the serving daemon; $1 = how (kill | restart)
hit() {
	local pid r0
	pid=$(st_field daemon_pid)
	r0=$(st_field restarts)
	if [ -z "$pid" ] || [ "$pid" = "$spid" ]; then
		bad "usmctl status gives no daemon_pid apart from the supervisor ('$pid')"
		# today's daemon: kill it anyway to show what clients get
		[ -z "$pid" ] && pid=$spid
		kill -9 "$pid" 2>/dev/null
		return 1
	fi
	if [ "$1" = kill ]; then
		kill -9 "$pid" || { bad "kill -9 $pid"; return 1; }
	else
		timeout 60 "$usmctl" restart "$m" || { bad "usmctl restart $m"; return 1; }
	fi
	echo "    ($1 of daemon $pid, restarts was $r0)"
}

case $mode in
quick)
	for ((k = 1; k <= kills + 1; k++)); do
		how=kill
		((k == kills + 1)) && how=restart
		hit $how
		# a client during the gap: must wait, not get ENOTCONN
		if ! out=$(timeout 120 stat "$m/a" 2>&1 >/dev/null); then
			bad "$how $k: stat during the gap: $out"
			break
		fi
		verify "$how $k" || break
		timeout 120 dd if=/dev/urandom of="$m/n$k" bs=1M count=4 status=none &&
			(cd "$m" && md5sum "n$k") >> "$work/sums" ||
			{ bad "$how $k: writing after the restart"; break; }
		r=$(st_field restarts)
		if [ "$r" = "$k" ]; then ok "$how $k: usmctl status says restarts=$r"
		else bad "$how $k: usmctl status says restarts='$r', expected $k"; fi
	done
	;;
fio)
	# killer: random moments, KILLS SIGKILLs then one usmctl restart
	(
		for ((k = 1; k <= kills + 1; k++)); do
			sleep "$((RANDOM % 6 + 2)).$((RANDOM % 10))"
			how=kill
			((k == kills + 1)) && how=restart
			hit $how
		done
	) > "$work/killer" 2>&1 &
	killer=$!
	for eng in psync mmap; do
		if timeout 900 fio --name=rs-$eng --directory="$m" --ioengine=$eng \
			--rw=randrw --bs=4k --size=24M --numjobs=1 --verify=crc32c \
			--do_verify=1 --verify_fatal=1 --time_based=0 --loops=3 \
			--output="$work/fio-$eng" >/dev/null 2>&1 &&
		   grep -q "err= 0" "$work/fio-$eng"; then
			ok "fio $eng (24M = 3x the pool) with kills: no error"
		else
			bad "fio $eng: $(grep -m2 -i 'err\|verify' "$work/fio-$eng" 2>/dev/null | tr '\n' ' ')"
		fi
	done
	wait "$killer"
	sed 's/^/    /' "$work/killer"
	grep -q FAIL "$work/killer" && bad "killer: $(grep -m1 FAIL "$work/killer")"
	r=$(st_field restarts)
	if [ "$r" = "$((kills + 1))" ]; then ok "usmctl status says restarts=$r"
	else bad "usmctl status says restarts='$r', expected $((kills + 1))"; fi
	verify "after fio"
	;;
*) bad "mode must be quick or fio" ;;
esac

if timeout 30 umount "$m"; then ok "unmounted"; else bad "umount"; fi
for ((i = 0; i < 150; i++)); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$spid" 2>/dev/null; then bad "supervisor still running 15 s after umount"
else wait "$spid"; r=$?; [ $r -eq 0 ] && ok "supervisor exited 0" || bad "supervisor exited $r"; fi
spid=
finish
