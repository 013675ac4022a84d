#!/bin/sh
# tests/vm/torture-guest.sh - /init of a torture guest (busybox sh, PID 1;
# tests/vm/torture.sh builds the initramfs and boots it).
#
# Loads usmfs.ko with a small pool, mounts MNT with a share of it, and runs
# kmod/tests/torture.c for TORTURE_S seconds: writers, verifiers, readers
# killed with SIGKILL, usm-policyd stopped, continued, killed and restarted,
# truncation, hole punching, per-file policy changes, a second mount
# mounted and unmounted while the server evicts it (see torture.c).  Then
# the files are removed, MNT unmounted, the server stopped, every frame must
# be back in the pool, rmmod must succeed, and the kernel log must be clean
# (WARNING, BUG, Oops, Call Trace, KASAN, lockdep, "Busy inodes", the
# module's own leak reports, kmemleak).
#
# Prints "torture: PASS name (detail)" / "torture: FAIL name (detail)",
# then "torture: N passed, N failed", and hands the failure count to the
# host through isa-debug-exit.  Settings from /tt/conf: TORTURE_S, POOL,
# SIZE (MNT's size=), FILES, PAGES (per file), WRITERS, VERIFIERS,
# MNT2_OPTS, MODARGS (more module parameters), SKIP (actors left out,
# torture -x: killer,server,policy,remount).

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
set -o pipefail
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp

TORTURE_S=120
POOL=16M
SIZE=10M
FILES=8
PAGES=1024
WRITERS=3
VERIFIERS=2
MNT2_OPTS=size=4M,swap=guest,swapin_timeout=60s
MODARGS="access_interval_ms=50"
SKIP=
. /tt/conf

MNT=/mnt/t
MNT2=/mnt/t2
STATS=/sys/kernel/debug/usmfs/pool
PD_LOG=/var/log/usm-policyd.log
# the lane's patterns (lane.sh BAD_RE) and the debug kernel's reports
BAD_RE='WARNING:|BUG:|Oops|Call Trace|unreferenced object|Kernel panic|general protection fault|usmfs: .*(leak|still in use)|KASAN|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|Busy inodes|INFO: task .* blocked'

pass=0
fail=0
ok() { echo "torture: PASS $1${2:+ ($2)}"; pass=$((pass + 1)); }
ko() { echo "torture: FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }
stat_of() { awk -v k="$1" '$1 == k { print $2 }' $STATS 2>/dev/null; }

finish() {
	if [ -w /sys/kernel/debug/kmemleak ]; then
		# A debug kernel: an object counts once seen unreferenced twice.
		echo scan >/sys/kernel/debug/kmemleak
		sleep 1
		echo scan >/sys/kernel/debug/kmemleak
		if [ -s /sys/kernel/debug/kmemleak ]; then
			head -n 60 /sys/kernel/debug/kmemleak
			ko kmemleak "suspected leaks"
		else
			ok kmemleak
		fi
	fi
	n=$(dmesg | grep -c -E "$BAD_RE")
	if [ "$n" -eq 0 ]; then
		ok dmesg-clean
	else
		dmesg | grep -B 2 -A 25 -E "$BAD_RE" | head -n 150 | sed 's/^/torture: dmesg: /'
		ko dmesg-clean "$n bad lines"
	fi
	dmesg -n 1
	echo "torture: $pass passed, $fail failed"
	# no sync: after a BUG in an unmount it waits for that superblock
	# forever (the initramfs has nothing to write back anyway)
	sleep 2
	[ "$fail" -gt 127 ] && fail=127
	printf "\\$(printf %o "$fail")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
	poweroff -f
	sleep 5
}

# What is running in the kernel when something does not end.
dump_tasks() {
	echo w >/proc/sysrq-trigger 2>/dev/null
	dmesg | tail -n 120 | sed 's/^/torture: blocked: /'
}

echo "torture: $(uname -r), $(nproc) cpus, pool $POOL, $MNT size=$SIZE, ${TORTURE_S}s"
mkdir -p "$MNT" "$MNT2" /var/log /var/lib/usmfs /etc/usmfs
cp /usm/usmfs.conf /etc/usmfs/usmfs.conf
: >"$PD_LOG"
# kmemleak (debug kernel): forget what boot left unreferenced
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	echo clear >/sys/kernel/debug/kmemleak
fi

# shellcheck disable=SC2086 # MODARGS: several words
if insmod /tt/usmfs.ko pool="$POOL" $MODARGS; then
	ok insmod "pool=$POOL $MODARGS"
else
	ko insmod "$(dmesg | tail -n 3 | tr '\n' ' ')"
	finish
fi
if mount -t usmfs none "$MNT" -o "size=$SIZE,swap=guest,swapin_timeout=60s"; then
	ok mount "$(grep " $MNT " /proc/mounts | cut -d' ' -f4)"
else
	ko mount "$(dmesg | tail -n 2 | tr '\n' ' ')"
	finish
fi

# The run, bounded: a task stuck in the kernel must not hold the guest.
t0=$(date +%s)
timeout -s KILL $((TORTURE_S + 900)) /tt/torture -f "$FILES" -p "$PAGES" -w "$WRITERS" \
	-v "$VERIFIERS" -o "$MNT2_OPTS" -L "$PD_LOG" ${SKIP:+-x "$SKIP"} \
	"$MNT" "$MNT2" "$TORTURE_S" 2>&1 | tee /tmp/t.out
rc=$?
fig=$(grep '^torture: figures (end):' /tmp/t.out | tail -n 1 | sed 's/^torture: figures (end): //')
[ -n "$fig" ] || fig=$(grep '^torture: figures' /tmp/t.out | tail -n 1 | sed 's/^torture: figures //')
if [ $rc -eq 0 ]; then
	ok run "$(($(date +%s) - t0))s"
else
	[ $rc -eq 137 ] && dump_tasks
	ko run "exit $rc after $(($(date +%s) - t0))s: $(grep -c MISMATCH /tmp/t.out) mismatches shown, $(grep -c 'ERROR' /tmp/t.out) errors shown"
fi
echo "torture: figures: $fig"

# fig_of KEY: a number of the figures line
fig_of() { echo " $fig" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# The run drove what it is for: every kind of event happened.
miss=
for k in final_verified kills server_stops server_restarts remounts truncates punches policy_changes evictions swapins; do
	case ",$SKIP," in
	*,killer,*) [ $k = kills ] && continue ;;
	esac
	case ",$SKIP," in
	*,server,*) [ $k = server_stops ] || [ $k = server_restarts ] && continue ;;
	esac
	case ",$SKIP," in
	*,policy,*) [ $k = policy_changes ] && continue ;;
	esac
	case ",$SKIP," in
	*,remount,*) [ $k = remounts ] && continue ;;
	esac
	v=$(fig_of $k)
	[ "${v:-0}" -gt 0 ] || miss="$miss $k"
done
if [ -z "$miss" ]; then
	ok coverage "pages verified $(fig_of verified) + $(fig_of final_verified) at the end, kills $(fig_of kills), server stops $(fig_of server_stops), restarts $(fig_of server_restarts), remounts $(fig_of remounts), evictions $(fig_of evictions), swap-ins $(fig_of swapins)"
else
	ko coverage "none of:$miss"
fi

if [ $rc -eq 137 ]; then
	# a task may be stuck in the kernel: unmounting could hang too
	finish
fi
grep ' /mnt/t2 ' /proc/mounts >/dev/null && { ko mnt2-left "still mounted"; umount -l "$MNT2"; }

# Clean up the way a user would: remove, unmount, stop the server.
pd=$(sed -n 's/^torture: server pid //p' /tmp/t.out | tail -n 1)
grep '^mount ' $STATS | sed 's/^/torture: pool: /'
if timeout 120 rm -f "$MNT"/t.* && timeout 120 umount "$MNT"; then
	ok umount
else
	ko umount "$(grep " $MNT " /proc/mounts)"
fi
if [ -n "$pd" ] && kill -TERM "$pd" 2>/dev/null; then
	i=0
	while [ -d "/proc/$pd" ] && [ "$(awk '{ print $3 }' "/proc/$pd/stat" 2>/dev/null)" != Z ] && [ $i -lt 150 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	if [ $i -lt 150 ]; then
		ok server-term
	else
		ko server-term "pid $pd still running"
		kill -9 "$pd"
	fi
else
	ko server-term "no server (pid '${pd}')"
fi
# the server's first errors (what went wrong first) and its last warnings
grep -E 'error|: swap-in of|failed' "$PD_LOG" | grep -v 'rejected: no such file' |
	head -n 20 | sed 's/^/torture: policyd (first): /'
grep -E 'error|warn' "$PD_LOG" | tail -n 15 | sed 's/^/torture: policyd: /'
# and what the server did just before its first error (debug level is not
# logged: its info and warning lines)
first=$(grep -n ': error: ' "$PD_LOG" | grep -v 'rejected: no such file' | head -n 1 | cut -d: -f1)
if [ -n "$first" ]; then
	sed -n "$((first > 40 ? first - 40 : 1)),${first}p" "$PD_LOG" |
		grep -v 'rejected: no such file' | sed 's/^/torture: policyd (before): /'
fi
# every frame back: deferred frames come back within a rescan or two
used=
for i in 1 2 3 4 5 6 7 8 9 10; do
	used=$(stat_of used)
	[ "$used" = 0 ] && [ "$(stat_of reserved)" = 0 ] && [ "$(stat_of deferred)" = 0 ] && break
	sleep 1
done
if [ "$used" = 0 ] && [ "$(stat_of reserved)" = 0 ] && [ "$(stat_of deferred)" = 0 ]; then
	ok pool-empty "frames $(stat_of frames), allocs $(stat_of allocs), frees $(stat_of frees)"
else
	sed 's/^/torture: pool: /' $STATS
	ko pool-empty "used ${used:-?}, reserved $(stat_of reserved), deferred $(stat_of deferred) after unmount"
fi
if timeout 120 rmmod usmfs; then
	ok rmmod
else
	ko rmmod
fi
finish
