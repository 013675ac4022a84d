#!/bin/sh
# /init of the kernel lane's guests (busybox sh, PID 1).
#
# Loads the module, mounts usmfs, runs the filesystem suite and fio verify
# jobs against it, unmounts, unloads; then the policy-server checks
# (/usm/server-guest.sh: the module again, usm-policyd, eviction); checks
# the kernel log, and hands an
# exit status to the host through QEMU's isa-debug-exit port (0xf4).
# Per-kernel settings come from /vm/conf (written by the host).
#
# Every line meant for the host starts with "vm: ":
#   vm: step NAME ok [(detail)]     vm: step NAME FAIL (detail)
#   vm: pool-source SRC             vm: status N
# The suite prints its own "fs-kmod: N passed, N failed, N skipped".

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
set -o pipefail

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tmpfs tmpfs /tmp
mkdir -p /mnt/usm /mnt/usm-noswap

# Defaults; /vm/conf overrides.
MODULE=usmfs
POOL=48M
SIZE=32M
NOSWAP_SIZE=8M
FS_TIMEOUT_MULT=1
MODARGS=
FIO_SIZE=8M
STEP_TIMEOUT=120
SUITE_TIMEOUT=600
SERVER=0
SRV_EVICT=0
QUICK=0
GUEST_TIMEOUT=900
BAD_RE='WARNING:|BUG:|Oops|Call Trace|unreferenced object|Kernel panic|general protection fault|Busy inodes|UBSAN:'
. /vm/conf
. /vm-lib.sh

fails=0
# Every result line is also kept in /tmp/results and printed again as one
# block at the end, with the console quiet, so that a kernel message written
# into the middle of a line cannot hide a result from the host.
: >/tmp/results
result() { echo "$*" | tee -a /tmp/results; }
step_ok() { result "vm: step $1 ok${2:+ ($2)}"; }
step_fail() { result "vm: step $1 FAIL${2:+ ($2)}"; fails=$((fails + 1)); }

# step NAME CMD...: run CMD bounded by STEP_TIMEOUT (bounded: on timeout
# the log says what ran, and CMD's processes are killed), report it.
step() {
	name=$1
	shift
	bounded "$STEP_TIMEOUT" "$name" "$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		step_ok "$name"
		return 0
	fi
	[ $rc -eq 124 ] && rc="timed out after ${STEP_TIMEOUT}s" || rc="exit $rc"
	step_fail "$name" "$rc"
	return 1
}

# Hand the status to the host: QEMU exits with (value << 1) | 1.
finish() {
	dmesg -n 1
	echo "vm: results:"
	cat /tmp/results
	echo "vm: status $1"
	sync
	# The console writes behind: let the last lines out before the port
	# write stops the machine (a long results block was cut short).
	sleep 2
	printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
	# Only reached if the port write did not stop the machine.
	echo "vm: isa-debug-exit did not stop the guest"
	poweroff -f
	sleep 5
}

# Print which source the pool came from, as the module reports it: its
# stats files if it has some, and its kernel log lines ("source X" first,
# else the first source name on a pool line).
pool_source() {
	: >/tmp/pool.txt
	for f in /sys/kernel/debug/$MODULE/pool /sys/kernel/debug/$MODULE/stats \
		/sys/fs/$MODULE/stats /proc/fs/$MODULE/stats; do
		[ -r "$f" ] || continue
		echo "vm: $f:"
		sed 's/^/vm:   /' "$f"
		cat "$f" >>/tmp/pool.txt
	done
	dmesg | grep -i "$MODULE" | grep -i pool >>/tmp/pool.txt
	src=$(grep -o -i -E 'source[=: ]+[a-z_]+' /tmp/pool.txt | head -n 1 |
		sed -E 's/.*[=: ]+//')
	if [ -z "$src" ]; then
		src=$(grep -o -i -w -E '(cma|dma|contig|pages)' /tmp/pool.txt | head -n 1)
	fi
	result "vm: pool-source ${src:-unknown}"
}

echo "vm: guest up: $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus," \
	"$(awk '/MemTotal/ {print $2 / 1024 " MiB"}' /proc/meminfo)"
echo "vm: cmdline: $(cat /proc/cmdline)"

# Timeouts follow the guest's speed (a loaded host makes TCG slower): the
# settings are for a quiet host; calibrate multiplies them by SCALE (also
# again before the server part, where SCALE can only grow).
scale_timeouts() {
	STEP_TIMEOUT=$((STEP_TIMEOUT_BASE * SCALE))
	SUITE_TIMEOUT=$((SUITE_TIMEOUT_BASE * SCALE))
	SRV_TIMEOUT=$((SRV_TIMEOUT_BASE * SCALE))
	FS_TIMEOUT_MULT=$((FS_TIMEOUT_MULT_BASE * SCALE))
	export STEP_TIMEOUT SUITE_TIMEOUT SRV_TIMEOUT FS_TIMEOUT_MULT SCALE
	# The guest's own deadline, before the host's (GUEST_TIMEOUT x
	# SCALE_MAX + a margin): the watchdog below reports what was running.
	echo $((GUEST_TIMEOUT * SCALE * 100)) >/tmp/lane.deadline
	# (server-guest.sh and conform-guest.sh read them from here)
	echo "SCALE=$SCALE STEP_TIMEOUT=$STEP_TIMEOUT SRV_TIMEOUT=$SRV_TIMEOUT FS_TIMEOUT_MULT=$FS_TIMEOUT_MULT" >/tmp/lane.timeouts
	echo "vm: timeouts: step ${STEP_TIMEOUT}s, suite ${SUITE_TIMEOUT}s, server ${SRV_TIMEOUT}s, fs x$FS_TIMEOUT_MULT, guest $((GUEST_TIMEOUT * SCALE))s"
}
STEP_TIMEOUT_BASE=$STEP_TIMEOUT SUITE_TIMEOUT_BASE=$SUITE_TIMEOUT
SRV_TIMEOUT_BASE=${SRV_TIMEOUT:-300} FS_TIMEOUT_MULT_BASE=$FS_TIMEOUT_MULT
calibrate
scale_timeouts

# The watchdog: at the deadline, say what was running (the step, its
# processes' stacks, the blocked tasks, the server's log) and hand the
# results over, rather than leaving the host to kill a silent guest.
(
	while [ "$(uptime_cs)" -lt "$(cat /tmp/lane.deadline)" ]; do
		sleep 5
	done
	cur=$(cat /tmp/lane.current 2>/dev/null)
	echo "vm: DEADLINE: the guest ran out of its $(($(cat /tmp/lane.deadline) / 100))s while running '${cur:--}'"
	diag "guest deadline, running ${cur:--}" "$(pidof fio cp cmp stress-ng fsx rmmod umount mount 2>/dev/null)"
	result "vm: step guest-deadline FAIL (ran out of time in '${cur:--}')"
	finish 1
) &

# kmemleak (debug kernel): forget what boot left unreferenced, so that the
# scan after rmmod reports only what happened since.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	echo clear >/sys/kernel/debug/kmemleak
	echo "vm: kmemleak: baseline taken"
fi

if ! step insmod insmod "/vm/$MODULE.ko" pool="$POOL" $MODARGS; then
	dmesg | tail -n 20
	finish 1
fi
dmesg | grep -i "$MODULE" | sed 's/^/vm: dmesg: /'
pool_source

if step mount mount -t "$MODULE" none /mnt/usm -o size="$SIZE"; then
	grep " /mnt/usm " /proc/mounts | sed 's/^/vm: mounted: /'
	noswap=
	# also the suite's noacl mount (posix_acl case)
	if step mount-noswap mount -t "$MODULE" none /mnt/usm-noswap -o size="$NOSWAP_SIZE",swap=none,noacl; then
		noswap=/mnt/usm-noswap
	fi

	if [ "$QUICK" = 1 ]; then
		echo "vm: QUICK=1: no suite, fio or conformance check in the first part"
	elif [ -f /fs/run-suite.sh ]; then
		echo "vm: suite: start"
		# overlayfs for overlay_upper (the case skips without it)
		[ -f /vm/overlay.ko ] && insmod /vm/overlay.ko 2>/dev/null &&
			echo "vm: overlay.ko loaded"
		bounded "$SUITE_TIMEOUT" suite env USMFS_SIZE="$SIZE" USMFS_SWAP=none \
			USMFS_NOSWAP_DIR="$noswap" USMFS_NOACL_DIR="$noswap" \
			USMFS_NOSWAP_SIZE="$NOSWAP_SIZE" \
			FS_TIMEOUT_MULT="$FS_TIMEOUT_MULT" FS_ONLY="${FS_ONLY:-}" \
			sh -c 'set -o pipefail; sh /fs/run-suite.sh /mnt/usm kmod $FS_ONLY 2>&1 | tee /tmp/suite.out'
		rc=$?	# the suite's: pipefail is on
		grep -E '^fs-kmod: [0-9]+ passed' /tmp/suite.out | tail -n 1 >>/tmp/results
		echo "vm: suite: exit $rc"
		[ $rc -eq 124 ] && echo "vm: suite: timed out after ${SUITE_TIMEOUT}s"
		[ $rc -ne 0 ] && fails=$((fails + 1))
		# A case may have left files behind; fio wants room.
		rm -rf /mnt/usm/* /mnt/usm/.[!.]* 2>/dev/null
	else
		echo "vm: suite: absent"
	fi

	[ "$QUICK" = 1 ] || for engine in psync mmap; do
		bounded "$STEP_TIMEOUT" "fio-$engine" sh -c 'exec "$@" >/tmp/fio.out 2>&1' sh \
			fio --name="verify-$engine" --directory=/mnt/usm \
			--ioengine="$engine" --rw=randwrite --bs=4k --size="$FIO_SIZE" \
			--numjobs=2 --verify=crc32c --do_verify=1 --verify_fatal=1 \
			--group_reporting --output-format=terse --terse-version=3
		rc=$?
		# terse v3: field 3 is the job name, 5 the error, 47/48 write KiB, KiB/s
		awk -F';' '/^3;/ { print "vm: fio " $3 ": wrote " $47 " KiB at " $48 " KiB/s, error " $5 }' /tmp/fio.out
		grep -v '^3;' /tmp/fio.out | head -n 20 | sed 's/^/vm: fio: /'
		if [ $rc -eq 0 ]; then
			step_ok "fio-$engine"
		elif [ $rc -eq 124 ]; then
			step_fail "fio-$engine" "timed out after ${STEP_TIMEOUT}s"
		else
			step_fail "fio-$engine" "exit $rc"
		fi
		rm -f /mnt/usm/verify-*
	done

	# tests/conform's stressors and fsx, tmpfs vs usmfs (conform-guest.sh)
	[ "$QUICK" = 1 ] ||
		sh /conform/conform-guest.sh /mnt/usm /tmp/results || fails=$((fails + 1))

	[ -n "$noswap" ] && step umount-noswap umount /mnt/usm-noswap
	step umount umount /mnt/usm
fi

# tmpfs's mount options (issue 14): accepted, and a remount of the flags
# (a script: step runs its command under timeout, not a shell function)
mkdir -p /mnt/usm-opts
step tmpfs-opts sh -c '
	mount -t "$1" none /mnt/usm-opts \
		-o size=8M,noacl,inode64,huge=never,relatime,lazytime &&
	mount -o remount,ro,noatime /mnt/usm-opts &&
	grep " /mnt/usm-opts " /proc/mounts | grep -q " ro,.*noatime" &&
	! mount -t "$1" none /mnt/usm-noswap -o size=8M,huge=always 2>/dev/null &&
	umount /mnt/usm-opts' sh "$MODULE" || umount /mnt/usm-opts 2>/dev/null

# Every frame back in the pool once nothing is mounted (where the module
# has a pool stats file with a "used" line; frees may lag a moment).
pool_file=/sys/kernel/debug/$MODULE/pool
if [ -r "$pool_file" ] && grep -q '^used ' "$pool_file"; then
	for i in 1 2 3 4 5; do
		used=$(awk '$1 == "used" { print $2 }' "$pool_file")
		[ "$used" = 0 ] && break
		sleep 1
	done
	if [ "$used" = 0 ]; then
		step_ok pool-empty
	else
		sed 's/^/vm:   /' "$pool_file"
		step_fail pool-empty "$used frames still used after umount"
	fi
fi

step rmmod rmmod "$MODULE"

# The policy server (server-guest.sh): the module loaded again with its
# own pool, mounted through mount.usmfs, which starts usm-policyd; its
# steps are srv-*.
if [ "$SERVER" = 1 ]; then
	if [ -f /usm/server-guest.sh ]; then
		echo "vm: server checks: start (eviction checks: $([ "$SRV_EVICT" = 1 ] && echo on || echo off))"
		calibrate
		scale_timeouts
		sh /usm/server-guest.sh run /tmp/results || fails=$((fails + 1))
	else
		step_fail srv "no /usm/server-guest.sh in the initramfs"
	fi
fi

echo "-" >/tmp/lane.current
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo kmemleak >/tmp/lane.current
	# An object is reported once unreferenced and older than 5 s.
	sleep 6
	if echo scan >/sys/kernel/debug/kmemleak && echo scan >/sys/kernel/debug/kmemleak; then
		# (debugfs files have no size: read it)
		cat /sys/kernel/debug/kmemleak >/tmp/kmemleak.txt
		n=$(grep -c 'unreferenced object' /tmp/kmemleak.txt)
		if [ -s /tmp/kmemleak.txt ]; then
			head -n 60 /tmp/kmemleak.txt
			step_fail kmemleak "$n suspected leak(s)"
		else
			step_ok kmemleak "scanned, nothing unreferenced"
		fi
	else
		# (kmemleak turns itself off, e.g. when its pool runs out)
		dmesg | grep -i kmemleak | tail -n 5
		step_fail kmemleak "the scan did not run"
	fi
fi

# The same patterns as the host's (lane.sh BAD_RE, passed in /vm/conf), on
# the whole kernel log (the console may have missed quiet messages), less
# the sysrq dumps the guest asked for on a timeout.
dmesg_judged >/tmp/dmesg.txt
bad=$(grep -c -E "$BAD_RE" /tmp/dmesg.txt)
if [ "$bad" -eq 0 ]; then
	step_ok dmesg-clean
else
	grep -B 2 -A 20 -E "$BAD_RE" /tmp/dmesg.txt | head -n 80
	step_fail dmesg-clean "$bad bad lines"
fi

[ $fails -eq 0 ] && finish 0
finish 1
