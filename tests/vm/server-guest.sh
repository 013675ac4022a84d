#!/bin/sh
# server-guest.sh run RESULTS | restart
#
# The policy-server checks of the kernel lane's guests (busybox sh; init.sh
# calls "run" after the module's first load/unload cycle): usmfs.ko loaded
# again with a pool of SRV_POOL, mounted through mount(8) -> mount.usmfs
# (util-linux mount, the helper in /sbin), which starts usm-policyd; then
# fio verify jobs, a file of 4x the pool, user.usm.evict changed while a
# file is in use, tests/fs's eviction cases, kill -9 of the server in the
# middle of a verify run, the mount serving resident pages while the server
# is dead, a restart, umount, every frame back, rmmod.
#
# "restart" is the suite's USMFS_RESTART_CMD: kill -9 the server, start a
# new one, wait until it has attached.
#
# Each check is a guest step ("vm: step srv-NAME ok|FAIL (...)", also
# appended to RESULTS, the block init.sh prints at the end); the suite's
# count is "fs-kmod-evict: N passed, N failed, N skipped".  The checks that
# need the module to evict (USMFS_F_EVICT) run only with SRV_EVICT=1.
# Exits 1 on any failure.
#
# Settings (from /vm/conf, defaults below): SRV_POOL, SRV_SIZE (the main
# mount's size=), SRV_SUITE_SIZE (the suite's mount), SRV_FIO_SIZE (per fio
# job, 2 jobs), SRV_KILL_SIZE (per job of the kill -9 run), SRV_EVICT,
# SRV_TIMEOUT (the long steps), STEP_TIMEOUT, FS_TIMEOUT_MULT.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
set -o pipefail

MODULE=usmfs
SRV_POOL=64M
SRV_SIZE=64M
SRV_SUITE_SIZE=8M
SRV_FIO_SIZE=128M
SRV_KILL_SIZE=64M
SRV_EVICT=0
SRV_TIMEOUT=300
STEP_TIMEOUT=180
FS_TIMEOUT_MULT=4
[ -r /vm/conf ] && . /vm/conf
# bounded, diag (guest-lib.sh); the timeouts init.sh scaled to the guest's
# speed
. /vm-lib.sh
# shellcheck disable=SC2046 # "A=1 B=2"
[ -r /tmp/lane.timeouts ] && export $(cat /tmp/lane.timeouts)

# util-linux's mount, which runs /sbin/mount.TYPE (busybox's runs it only
# when the kernel refused the mount), by its path: busybox sh runs its own
# applets whatever PATH says.  mount.usmfs itself then mounts with
# "mount -i" (busybox's: no helper).
MOUNT=/usm/bin/mount
UMOUNT=/usm/bin/umount
MNT=/mnt/s
MNT2=/mnt/s2
PD_LOG=/var/log/usm-policyd.log	# where mount.usmfs has the server log
POOL_FILE=/sys/kernel/debug/$MODULE/pool
STORE=/var/lib/usmfs/guest.swap
RESULTS=/dev/null
fails=0

r_line() { echo "$*"; echo "$*" >>"$RESULTS"; }
# (for sizing the lane: where a guest's time goes, since begin)
STEP_T0=$(uptime_cs)
took() { echo "vm: time: $1 $((($(uptime_cs) - STEP_T0) / 100))s"; }
ok() { r_line "vm: step $1 ok${2:+ ($2)}"; took "$1"; }
# A failed step shows the server's log since the step began (or its last
# 40 lines), whatever the failure.
PD_MARK=0
ko() {
	r_line "vm: step $1 FAIL${2:+ ($2)}"
	took "$1"
	fails=$((fails + 1))
	if [ -s "$PD_LOG" ]; then
		n=$(wc -l <"$PD_LOG")
		from=$((PD_MARK + 1))
		# (nothing new: the last lines; too much: the last 40)
		[ "$from" -gt "$n" ] && from=$((n - 9))
		[ $((n - from)) -ge 40 ] && from=$((n - 39))
		[ "$from" -ge 1 ] || from=1
		echo "vm: srv: usm-policyd's log, lines $from-$n (for $1):"
		sed -n "$from,\$p" "$PD_LOG" | sed 's/^/vm: srv: log: /'
	fi
	return 0
}
# begin NAME: a step starts (the server's log from here is its).
begin() {
	echo "$1" >/tmp/lane.current
	STEP_T0=$(uptime_cs)
	PD_MARK=$(wc -l <"$PD_LOG" 2>/dev/null || echo 0)
}
say() { echo "vm: srv: $*"; }

# Bytes of a size with a K/M/G suffix.
bytes() {
	case $1 in
	*[kK]) echo $((${1%?} << 10)) ;;
	*[mM]) echo $((${1%?} << 20)) ;;
	*[gG]) echo $((${1%?} << 30)) ;;
	*) echo "$1" ;;
	esac
}

# ---- the server ---------------------------------------------------------

# Live usm-policyd processes (a killed one may linger as a zombie until
# PID 1 reaps it).
pd_pids() {
	for p in $(pidof usm-policyd 2>/dev/null); do
		st=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)
		[ -n "$st" ] && [ "$st" != Z ] && echo "$p"
	done
}
pd_count() { pd_pids | wc -l; }
attached() { grep -c 'info: attached:' "$PD_LOG" 2>/dev/null || true; }

# wait_attached N SECS: until the log has more than N "attached" lines and
# a server runs; returns 1 when SECS pass first.
wait_attached() {
	i=0
	while [ "$i" -lt $(($2 * 5)) ]; do
		[ "$(attached)" -gt "$1" ] && [ "$(pd_count)" -ge 1 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# wait_gone SECS: until no server runs.
wait_gone() {
	i=0
	while [ "$i" -lt $(($1 * 5)) ]; do
		[ "$(pd_count)" -eq 0 ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# Start a server as mount.usmfs does (its default config, its log), from
# / and with no descriptor but 0-2: the suite's USMFS_RESTART_CMD runs in
# a directory of the mount, from a process holding a file of it open, and
# a server keeping either would keep the mount busy.
pd_start() {
	(
		cd / || exit 1
		for fd in 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			eval "exec $fd>&-"
		done
		exec setsid usm-policyd </dev/null >>"$PD_LOG" 2>&1
	) &
}

pd_kill9() {
	p=$(pd_pids)
	[ -n "$p" ] || return 1
	# shellcheck disable=SC2086 # a list of pids
	kill -9 $p
	wait_gone 10
}

# restart: kill -9, start, wait for the new one to attach (the suite's
# USMFS_RESTART_CMD).
pd_restart() {
	n=$(attached)
	pd_kill9 || { echo "restart: no server was running" >&2; return 1; }
	sleep 1
	pd_start
	wait_attached "$n" 30 || { echo "restart: the new server did not attach" >&2; tail -n 5 "$PD_LOG" >&2; return 1; }
}

# ---- stats --------------------------------------------------------------

# fstat FILE KEY: a number of the file's user.usm.stats (empty if none).
fstat() {
	getfattr --only-values -n user.usm.stats "$1" 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^$2=//p" | head -n 1
}

# sum_stat KEY FILE...: the sum over the files.
sum_stat() {
	key=$1
	shift
	s=0
	for f in "$@"; do
		v=$(fstat "$f" "$key")
		s=$((s + ${v:-0}))
	done
	echo "$s"
}

# mstat DIR KEY: a mount-wide counter, the larger of the debugfs pool
# file's line for the mount ("mount dev=MAJ:MIN ... KEY=N") and the root's
# user.usm.stats (0 where neither has it).
mstat() {
	m_dev=$(awk -v d="$1" '$5 == d { print $3 }' /proc/self/mountinfo | tail -n 1)
	m_a=$(awk -v d="dev=$m_dev" -v k="$2=" '$1 == "mount" && $2 == d {
		for (i = 3; i <= NF; i++) if (index($i, k) == 1) print substr($i, length(k) + 1) }' \
		"$POOL_FILE" 2>/dev/null | head -n 1)
	m_b=$(fstat "$1" "$2")
	m_a=${m_a:-0} m_b=${m_b:-0}
	if [ "$m_a" -ge "$m_b" ]; then echo "$m_a"; else echo "$m_b"; fi
}

# snap: remember the main mount's eviction counters.  evsi FILE...: ev and
# si, the larger of the files' own counters (user.usm.stats) and what the
# mount's grew by since snap (the module may count in one place only).
snap() {
	s_ev=$(mstat "$MNT" evictions)
	s_si=$(mstat "$MNT" swapins)
}
evsi() {
	ev=$(sum_stat evictions "$@")
	si=$(sum_stat swapins "$@")
	x=$(($(mstat "$MNT" evictions) - s_ev))
	[ "$x" -gt "$ev" ] && ev=$x
	x=$(($(mstat "$MNT" swapins) - s_si))
	[ "$x" -gt "$si" ] && si=$x
	return 0
}

# What the module says pool- and mount-wide, for the log.
show_stats() {
	if [ -r "$POOL_FILE" ]; then
		grep -E '^(used|free|reserved|swapped|evict|swapin|pressure)' "$POOL_FILE" | tr '\n' ' ' |
			sed "s/^/vm: srv: pool: /"
		echo
		grep '^mount ' "$POOL_FILE" | sed 's/^/vm: srv: pool: /'
	fi
	[ -f "$STORE" ] && say "store: $(du -k "$STORE" | cut -f1) KiB allocated of $(($(stat -c %s "$STORE") >> 10)) KiB"
	v=$(getfattr --only-values -n user.usm.stats "$MNT" 2>/dev/null)
	[ -n "$v" ] && say "$MNT user.usm.stats: $v"
	return 0
}

# ---- fio ----------------------------------------------------------------

# srv_fio NAME ENGINE SIZE [FIO-ARGS...]: random 4 KiB writes by 2 jobs of
# SIZE each in $MNT, crc32c headers; status of fio, output in /tmp/NAME.fio.
srv_fio() {
	f_name=$1 f_engine=$2 f_size=$3
	shift 3
	bounded "$SRV_TIMEOUT" "$f_name" sh -c 'o=$1; shift; exec "$@" >"$o" 2>&1' sh \
		"/tmp/$f_name.fio" fio --name="$f_name" --directory="$MNT" \
		--ioengine="$f_engine" --rw=randwrite --bs=4k --size="$f_size" \
		--numjobs=2 --fallocate=none --verify=crc32c --verify_fatal=1 \
		--group_reporting --output-format=terse --terse-version=3 "$@"
	f_rc=$?
	awk -F';' '/^3;/ { print "vm: srv: fio " $3 ": wrote " $47 " KiB at " $48 " KiB/s, read " $7 " KiB, error " $5 }' "/tmp/$f_name.fio"
	grep -v '^3;' "/tmp/$f_name.fio" | head -n 20 | sed 's/^/vm: srv: fio: /'
	return $f_rc
}

# fio_check STEP ENGINE: a verify run over 2 x SRV_FIO_SIZE; passes when
# fio verified and the files had evictions and swap-ins.
fio_check() {
	begin "$1"
	t0=$(date +%s)
	snap
	srv_fio "srv-$2" "$2" "$SRV_FIO_SIZE" --do_verify=1
	rc=$?
	evsi "$MNT/srv-$2".*
	show_stats
	d="2x$SRV_FIO_SIZE, evictions $ev, swapins $si, $(($(date +%s) - t0))s"
	if [ $rc -ne 0 ]; then
		[ $rc -eq 124 ] && d="timed out after ${SRV_TIMEOUT}s; $d"
		ko "$1" "fio exit $rc; $d"
	elif [ "$ev" -eq 0 ] || [ "$si" -eq 0 ]; then
		ko "$1" "verified, but no eviction or no swap-in: $d"
	else
		ok "$1" "$d"
	fi
	timeout 60 rm -f "$MNT/srv-$2".*
}

# ---- the checks ---------------------------------------------------------

# mount.usmfs, util-linux mount/umount and the guest config in place.
setup() {
	mkdir -p "$MNT" "$MNT2" /var/log /var/lib/usmfs /etc/usmfs
	# (busybox has no install)
	if ! { cp /usm/mount.usmfs /usr/sbin/mount.usmfs && chmod 0755 /usr/sbin/mount.usmfs &&
		cp /usm/usmfs.conf /etc/usmfs/usmfs.conf; }; then
		say "setup: could not install mount.usmfs or usmfs.conf"
	fi
	: >"$PD_LOG"
}

c_config() {
	if usm-policyd --check /etc/usmfs/usmfs.conf >/tmp/check.out 2>&1; then
		ok srv-config-check
	else
		ko srv-config-check "$(head -c 200 /tmp/check.out)"
	fi
}

# A store path naming a file that is not a store (here one we make): --check
# refuses it with its line, and the file keeps its bytes, mode and mtime
# (docs/stores.md).
c_config_nonstore() {
	printf 'root:$6$precious:19000:0:99999:7:::\n' >/tmp/victim
	chmod 640 /tmp/victim
	touch -d 2001-01-01 /tmp/victim
	before="$(stat -c '%s %a %Y' /tmp/victim) $(sha256sum </tmp/victim)"
	printf '[store typo]\npath = file:/tmp/victim\n' >/tmp/victim.conf
	usm-policyd --check /tmp/victim.conf >/tmp/victim.out 2>&1
	rc=$?
	after="$(stat -c '%s %a %Y' /tmp/victim) $(sha256sum </tmp/victim)"
	if [ $rc -eq 1 ] && grep -q '^/tmp/victim.conf:2: .*not a usmfs store' /tmp/victim.out &&
		[ "$after" = "$before" ]; then
		ok srv-config-nonstore "$(cut -c1-100 /tmp/victim.out)"
	else
		ko srv-config-nonstore "exit $rc, file '$before' -> '$after': $(head -c 200 /tmp/victim.out)"
	fi
	rm -f /tmp/victim /tmp/victim.conf
}

# A bad option: mount.usmfs refuses it (exit 32, naming it) before
# anything is mounted or started.
c_helper_bad() {
	timeout 30 "$MOUNT" -t usmfs none "$MNT" -o size=12Q,swap=guest >/tmp/bad.out 2>&1
	rc=$?
	if [ $rc -ne 32 ]; then
		ko srv-helper-bad "exit $rc, not 32: $(head -c 200 /tmp/bad.out)"
	elif ! grep -q "'size'" /tmp/bad.out; then
		ko srv-helper-bad "message does not name 'size': $(head -c 200 /tmp/bad.out)"
	elif grep -q " $MNT " /proc/mounts; then
		ko srv-helper-bad "mounted anyway"
	elif [ "$(pd_count)" -ne 0 ]; then
		ko srv-helper-bad "usm-policyd started anyway"
	else
		ok srv-helper-bad "$(head -n 1 /tmp/bad.out | cut -c1-100)"
	fi
}

# mount -t usmfs through mount.usmfs: the kernel mount, and usm-policyd
# started and attached.
c_mount() {
	if ! timeout 60 "$MOUNT" -t usmfs none "$MNT" -o "size=$SRV_SIZE,swap=guest" >/tmp/mount.out 2>&1; then
		ko srv-mount "$(head -c 200 /tmp/mount.out)"
		return 1
	fi
	line=$(grep " $MNT " /proc/mounts)
	case $line in
	"none $MNT usmfs "*) ok srv-mount "$(echo "$line" | cut -d' ' -f4)" ;;
	*) ko srv-mount "not a usmfs mount: $line"; return 1 ;;
	esac
	if wait_attached 0 30 && [ "$(pd_count)" -eq 1 ]; then
		ok srv-policyd "pid $(pd_pids); $(grep -m1 'info: attached:' "$PD_LOG" | sed 's/.*attached: //' | cut -c1-120)"
	else
		ko srv-policyd "$(pd_count) server(s), log: $(tail -n 3 "$PD_LOG" | tr '\n' ' ' | cut -c1-200)"
		return 1
	fi
}

# usmctl status (--json and text): the mount, with the root stats' source,
# server and evicting keys as on the FUSE frontend (a string, 0 or 1), and
# whether eviction is possible (a server that evicts, a store) and going on
# now.
c_usmctl() {
	usmctl status >/tmp/st.txt 2>&1
	if usmctl --json status >/tmp/st.json 2>&1 &&
		grep -q "\"dir\": \"$MNT\"" /tmp/st.json && grep -q '"frontend": "kmod"' /tmp/st.json &&
		grep -q '"source": "[a-z+]*"' /tmp/st.json && grep -q '"server": 1' /tmp/st.json &&
		grep -q '"evicting": [01]' /tmp/st.json &&
		grep -q '"eviction_possible": true, "evicting_now": \(true\|false\)' /tmp/st.json &&
		grep -q '^  source     [a-z+]*$' /tmp/st.txt &&
		grep -q '^  server     attached (usm-policyd)$' /tmp/st.txt &&
		grep -q '^  eviction   possible$' /tmp/st.txt &&
		grep -q '^  evicting   \(now (.*)\|no\)$' /tmp/st.txt; then
		ok srv-usmctl "$(grep -E '^  (source|server|eviction|evicting) ' /tmp/st.txt | tr -s ' ' | tr '\n' ';')"
	else
		ko srv-usmctl "$(head -c 300 /tmp/st.json)"
	fi
	usmctl status 2>&1 | head -n 6 | sed 's/^/vm: srv: usmctl: /'
}

# mount -o remount through the helper changes size= on the module.
c_remount() {
	half=$(($(bytes "$SRV_SIZE") / 2 >> 20))M
	if timeout 30 "$MOUNT" -o "remount,size=$half" "$MNT" >/tmp/rm.out 2>&1 &&
		grep " $MNT " /proc/mounts | grep -q "size=$half" &&
		timeout 30 "$MOUNT" -o "remount,size=$SRV_SIZE" "$MNT" >>/tmp/rm.out 2>&1 &&
		grep " $MNT " /proc/mounts | grep -q "size=$SRV_SIZE"; then
		ok srv-remount "size=$half, then $SRV_SIZE"
	else
		ko srv-remount "$(grep " $MNT " /proc/mounts | cut -d' ' -f4); $(head -c 200 /tmp/rm.out)"
	fi
}

c_evict_granted() {
	feat=$(grep -m1 'info: attached:' "$PD_LOG" | sed -n 's/.*features \(0x[0-9a-f]*\).*/\1/p')
	if [ -n "$feat" ] && [ $((feat & 2)) -ne 0 ]; then
		ok srv-evict-granted "features $feat"
	else
		ko srv-evict-granted "features ${feat:-unknown}: no USMFS_F_EVICT"
	fi
}

# 4x the pool into a file and back, byte for byte.
c_copy4x() {
	begin srv-copy4x
	t0=$(date +%s)
	mib=$(($(bytes "$SRV_POOL") >> 20))
	dd if=/dev/urandom of=/tmp/src bs=1M count=$((4 * mib)) 2>/dev/null
	snap
	t1=$(date +%s)
	if ! bounded "$SRV_TIMEOUT" srv-copy4x-cp sh -c 'exec cp /tmp/src "$1" 2>/tmp/cp.out' sh "$MNT/copy4x"; then
		ko srv-copy4x "cp of $((4 * mib)) MiB: $(head -c 200 /tmp/cp.out)"
	elif t2=$(date +%s) && ! bounded "$SRV_TIMEOUT" srv-copy4x-cmp sh -c 'exec cmp /tmp/src "$1" >/tmp/cp.out 2>&1' sh "$MNT/copy4x"; then
		ko srv-copy4x "cmp: $(head -c 200 /tmp/cp.out)"
	else
		evsi "$MNT/copy4x"
		d="$((4 * mib)) MiB, evictions $ev, swapins $si, cp $((t2 - t1))s, cmp $(($(date +%s) - t2))s"
		if [ "${ev:-0}" -gt 0 ] && [ "${si:-0}" -gt 0 ]; then
			ok srv-copy4x "$d"
		else
			ko srv-copy4x "identical, but no eviction or no swap-in: $d"
		fi
	fi
	show_stats
	rm -f /tmp/src
	timeout 60 rm -f "$MNT/copy4x"
}

# user.usm.evict changed XATTR_CHANGES times (setfattr and usmctl policy,
# in turns) while fio writes and verifies the file, over and over
# (--overwrite: the same file) until the changes are done; with eviction,
# the file is 1.5x the mount (it cannot fit without evictions), else half
# of it.
XATTR_CHANGES=10
c_xattr_evict() {
	begin srv-xattr-evict
	t0=$(date +%s)
	if [ "$SRV_EVICT" = 1 ]; then
		sz=$(($(bytes "$SRV_SIZE") * 3 / 2 >> 20))M
	else
		sz=$(($(bytes "$SRV_SIZE") / 2 >> 20))M
	fi
	f=$MNT/busy.0.0
	rm -f /tmp/busy.stop /tmp/busy.fio
	snap
	(
		while [ ! -e /tmp/busy.stop ]; do
			bounded "$SRV_TIMEOUT" srv-xattr-evict-fio sh -c 'exec "$@" >>/tmp/busy.fio 2>&1' sh \
				fio --name=busy --directory="$MNT" \
				--rw=randwrite --bs=4k --size="$sz" --overwrite=1 \
				--fallocate=none --verify=crc32c --do_verify=1 --verify_fatal=1 \
				--output-format=terse --terse-version=3 || exit $?
		done
	) &
	fpid=$!
	i=0
	while [ ! -e "$f" ] && [ $i -lt 150 ] && kill -0 "$fpid" 2>/dev/null; do
		sleep 0.2
		i=$((i + 1))
	done
	n=0 bad=0 why='' last=''
	while [ $n -lt $XATTR_CHANGES ] && kill -0 "$fpid" 2>/dev/null; do
		set -- lru fifo clock sieve s3fifo
		shift $((n % 5))
		pol=$1
		if [ $((n % 2)) -eq 0 ]; then
			setfattr -n user.usm.evict -v "$pol" "$f" 2>/tmp/sx.out
		else
			usmctl policy "$f" "evict=$pol" >/tmp/sx.out 2>&1
		fi || { bad=$((bad + 1)); why="$pol: $(head -c 100 /tmp/sx.out)"; }
		got=$(getfattr --only-values -n user.usm.evict "$f" 2>/dev/null)
		[ "$got" = "$pol" ] || { bad=$((bad + 1)); why="set $pol, reads '$got'"; }
		n=$((n + 1))
		last=$pol
		sleep 0.1
	done
	: >/tmp/busy.stop
	wait "$fpid"
	rc=$?
	runs=$(grep -c '^3;' /tmp/busy.fio)
	evsi "$f"
	st=$(getfattr --only-values -n user.usm.stats "$f" 2>/dev/null)
	d="$n changes during $runs fio run(s) on $sz, evictions $ev, $(($(date +%s) - t0))s"
	if [ $rc -ne 0 ]; then
		ko srv-xattr-evict "fio exit $rc ($(grep -v '^3;' /tmp/busy.fio | head -n 3 | tr '\n' ' ' | cut -c1-150)); $d"
	elif [ $bad -ne 0 ]; then
		ko srv-xattr-evict "$bad change(s) failed, last: $why; $d"
	elif [ $n -lt $XATTR_CHANGES ]; then
		ko srv-xattr-evict "the writer stopped before $XATTR_CHANGES changes; $d"
	elif ! echo "$st" | grep -q "evict=$last"; then
		ko srv-xattr-evict "user.usm.stats does not show evict=$last: $st"
	elif [ "$SRV_EVICT" = 1 ] && [ "$ev" -eq 0 ]; then
		ko srv-xattr-evict "no evictions: $d"
	else
		ok srv-xattr-evict "$d"
	fi
	timeout 60 rm -f "$MNT"/busy.*
}

# tests/fs's eviction cases on a second mount (mount.usmfs: the server
# already runs, no second one).
c_suite() {
	if ! timeout 60 "$MOUNT" -t usmfs none "$MNT2" -o "size=$SRV_SUITE_SIZE,swap=guest" >/tmp/m2.out 2>&1; then
		ko srv-mount2 "$(head -c 200 /tmp/m2.out)"
		return
	fi
	if [ "$(pd_count)" -eq 1 ]; then
		ok srv-mount2 "size=$SRV_SUITE_SIZE, still one server"
	else
		ko srv-mount2 "$(pd_count) servers after a second mount"
	fi
	t0=$(date +%s)
	begin srv-suite
	bounded "$SRV_TIMEOUT" srv-suite env USMFS_SIZE="$SRV_SUITE_SIZE" USMFS_SWAP=file \
		USMFS_NOSWAP_DIR='' USMFS_RESTART_CMD="sh /usm/server-guest.sh restart" \
		FS_TIMEOUT_MULT="$FS_TIMEOUT_MULT" sh -c 'set -o pipefail
		sh /fs/run-suite.sh "$1" kmod evict_verify evict_mmap evict_policy_change server_restart 2>&1 |
		awk '\''{ sub(/^fs-kmod: /, "fs-kmod-evict: "); print; fflush() }'\'' | tee /tmp/srv-suite.out' sh "$MNT2"
	rc=$?	# the suite's: pipefail is on
	line=$(grep -E '^fs-kmod-evict: [0-9]+ passed' /tmp/srv-suite.out | tail -n 1)
	[ -n "$line" ] && echo "$line" >>"$RESULTS"
	d="$(($(date +%s) - t0))s"
	if [ $rc -eq 0 ] && [ -n "$line" ] && ! echo "$line" | grep -q ' 0 passed'; then
		ok srv-suite "${line#fs-kmod-evict: }; $d"
	else
		[ $rc -eq 124 ] && d="timed out after ${SRV_TIMEOUT}s; $d"
		ko srv-suite "exit $rc: ${line:-no count}; $d"
	fi
	if [ "$(pd_count)" -ne 1 ]; then
		# server_restart restarted it: one must run for what follows.
		say "after the suite: $(pd_count) server(s); starting one"
		n=$(attached)
		pd_start
		wait_attached "$n" 30
	fi
	timeout 60 rm -rf "${MNT2:?}"/* 2>/dev/null
	if timeout 60 "$UMOUNT" "$MNT2" 2>/tmp/u2.out && ! grep -q " $MNT2 " /proc/mounts; then
		ok srv-umount2
	else
		ko srv-umount2 "$(head -c 200 /tmp/u2.out)"
	fi
}

# kill -9 of the server while fio verifies (verify_only: the data written
# by a first run) once it is swapping in, 3 s without a server, a restart,
# and the run still verifies.
c_kill_fio() {
	begin srv-kill-fio
	t0=$(date +%s)
	if ! srv_fio srv-kill psync "$SRV_KILL_SIZE" --do_verify=0; then
		ko srv-kill-fio "the write phase failed"
		return
	fi
	snap
	srv_fio srv-kill psync "$SRV_KILL_SIZE" --verify_only=1 &
	fpid=$!
	# The kill comes once the run is swapping in (at most 15 s in).
	i=0
	while [ $i -lt 75 ] && kill -0 "$fpid" 2>/dev/null; do
		evsi "$MNT"/srv-kill.*
		[ "$si" -gt 0 ] && break
		sleep 0.2
		i=$((i + 1))
	done
	if ! kill -0 "$fpid" 2>/dev/null; then
		wait "$fpid"
		ko srv-kill-fio "the verify run ended (exit $?) before the server could be killed"
		return
	fi
	evsi "$MNT"/srv-kill.*
	si0=$si
	n=$(attached)
	pd_kill9 || { ko srv-kill-fio "kill -9 of usm-policyd: it did not go"; wait "$fpid"; return; }
	say "killed usm-policyd in the verify run (swapins so far $si0)"
	sleep 3
	alive=0
	kill -0 "$fpid" 2>/dev/null && alive=1
	pd_start
	wait_attached "$n" 30 || say "the new server did not attach: $(tail -n 3 "$PD_LOG" | tr '\n' ' ')"
	grep 'info: ' "$PD_LOG" | tail -n 3 | sed 's/^/vm: srv: /'
	wait "$fpid"
	rc=$?
	evsi "$MNT"/srv-kill.*
	si1=$si
	d="2x$SRV_KILL_SIZE, swapins $si0 before the kill, $si1 after; $(($(date +%s) - t0))s"
	if [ $rc -ne 0 ]; then
		ko srv-kill-fio "fio exit $rc; $d"
	elif [ $alive = 0 ]; then
		ko srv-kill-fio "fio ended while the server was dead: the kill proved nothing; $d"
	elif [ "$si1" -le "$si0" ]; then
		ko srv-kill-fio "no swap-in after the restart; $d"
	else
		ok srv-kill-fio "$d"
	fi
	# The files stay: their swapped pages are read back after the next
	# restart (srv-restart-swapped).
}

# kill -9 the server: resident pages keep being served (read, overwrite,
# read again) without waiting for it; then a restart.
c_dead() {
	dd if=/dev/urandom of=/tmp/res bs=1M count=4 2>/dev/null
	f=$MNT/resident
	: >"$f"
	# pinned: the policy that never evicts, so that every page is resident
	setfattr -n user.usm.evict -v pinned "$f"
	cp /tmp/res "$f"
	res=$(fstat "$f" resident)
	if [ "${res:-0}" -ne 4194304 ]; then
		ko srv-dead-resident "resident ${res:-?} of 4194304 before the kill"
	fi
	n=$(attached)
	if ! pd_kill9; then
		ko srv-dead-resident "kill -9 of usm-policyd: none ran, or it did not go"
	elif [ "${res:-0}" -eq 4194304 ]; then
		t0=$(date +%s)
		dd if=/dev/urandom of=/tmp/blk bs=4k count=1 2>/dev/null
		dd if=/tmp/blk of=/tmp/res bs=4k seek=100 conv=notrunc 2>/dev/null
		if timeout 20 dd if="$f" of=/dev/null bs=1M 2>/tmp/dead.out &&
			timeout 20 dd if=/tmp/blk of="$f" bs=4k seek=100 conv=notrunc 2>>/tmp/dead.out &&
			timeout 20 cmp /tmp/res "$f" >>/tmp/dead.out 2>&1 &&
			timeout 20 sh -c "echo new >$MNT/hole && [ \"\$(cat $MNT/hole)\" = new ]" 2>>/tmp/dead.out; then
			ok srv-dead-resident "4 MiB read, a page overwritten, a new file, $(($(date +%s) - t0))s without a server"
		else
			ko srv-dead-resident "$(head -c 200 /tmp/dead.out); $(($(date +%s) - t0))s"
		fi
	fi
	# a restart, as a user would: the server alone
	pd_start
	if wait_attached "$n" 30 && [ "$(pd_count)" -eq 1 ]; then
		ok srv-restart "$(grep 'info: ' "$PD_LOG" | tail -n 2 | sed 's/.*info: //' | tr '\n' ';' | cut -c1-160)"
	else
		ko srv-restart "$(pd_count) server(s): $(tail -n 3 "$PD_LOG" | tr '\n' ' ' | cut -c1-200)"
	fi
	rm -f "$f" "$MNT/hole" /tmp/res /tmp/blk
}

# After the restart, the pages the dead server had swapped out come back.
c_restart_swapped() {
	begin srv-restart-swapped
	t0=$(date +%s)
	sw=$(sum_stat swapped "$MNT"/srv-kill.*)
	x=$(mstat "$MNT" swapped)
	[ "$x" -gt "$sw" ] && sw=$x
	snap
	srv_fio srv-kill psync "$SRV_KILL_SIZE" --verify_only=1
	rc=$?
	evsi "$MNT"/srv-kill.*
	d="swapped $sw before, $si swap-ins, $(($(date +%s) - t0))s"
	if [ $rc -ne 0 ]; then
		ko srv-restart-swapped "fio exit $rc; $d"
	elif [ "$sw" -eq 0 ] || [ "$si" -eq 0 ]; then
		ko srv-restart-swapped "nothing was swapped or swapped in; $d"
	else
		ok srv-restart-swapped "$d"
	fi
	timeout 60 rm -f "$MNT"/srv-kill.*
}

c_umount() {
	timeout 60 rm -rf "${MNT:?}"/* 2>/dev/null
	if timeout 60 "$UMOUNT" "$MNT" 2>/tmp/u.out && ! grep -q " $MNT " /proc/mounts; then
		ok srv-umount
	else
		ko srv-umount "$(head -c 200 /tmp/u.out)"
	fi
	# SIGTERM: the server detaches and exits.
	p=$(pd_pids)
	if [ -z "$p" ]; then
		ko srv-policyd-term "no server running"
	else
		# shellcheck disable=SC2086
		kill -TERM $p
		if wait_gone 15 && grep -q 'info: detached:' "$PD_LOG"; then
			ok srv-policyd-term "$(grep 'info: detached:' "$PD_LOG" | tail -n 1 | sed 's/.*detached: //' | cut -c1-150)"
		else
			ko srv-policyd-term "$(pd_count) left; $(tail -n 2 "$PD_LOG" | tr '\n' ' ' | cut -c1-200)"
			pd_kill9
		fi
	fi
	# every frame back in the pool
	used=
	for i in 1 2 3 4 5 6 7 8 9 10; do
		used=$(awk '$1 == "used" { print $2 }' "$POOL_FILE" 2>/dev/null)
		[ "$used" = 0 ] && break
		sleep 1
	done
	if [ "$used" = 0 ]; then
		ok srv-pool-empty
	else
		sed 's/^/vm:   /' "$POOL_FILE" 2>/dev/null
		ko srv-pool-empty "${used:-no 'used' line}: frames still used after umount"
	fi
}

# An fstab line and "mount -a", as a user would: util-linux mount reads
# /etc/fstab and runs /sbin/mount.usmfs, which mounts with the module and
# starts usm-policyd.  mount -a runs from a directory of a scratch tmpfs:
# the server must not keep that mount busy (mount.usmfs starts it from /).
# findmnt shows the mount; usmctl status shows it with an attached server;
# umount; the server is stopped again.
FSTAB_MNT=/mnt/fstab
c_fstab() {
	mkdir -p "$FSTAB_MNT" /mnt/cwd
	n=$(attached)
	[ -f /etc/fstab ] && cp /etc/fstab /tmp/fstab.saved
	printf '# usmfs lane\nnone %s usmfs size=16M,evict=lru,nofail 0 0\nnone /mnt/never usmfs size=8M,noauto 0 0\n' \
		"$FSTAB_MNT" >/etc/fstab
	d=
	if ! timeout 30 "$MOUNT" -t tmpfs -o size=1M cwd /mnt/cwd 2>/tmp/fstab.out; then
		d="scratch tmpfs: $(head -c 100 /tmp/fstab.out)"
	elif ! timeout 60 sh -c 'cd /mnt/cwd && exec "$1" -a' sh "$MOUNT" >/tmp/fstab.out 2>&1; then
		# (timeout outside the cwd: busybox's keeps a watcher process in
		# its own cwd for up to a second after the command ended)
		d="mount -a: $(head -c 150 /tmp/fstab.out)"
	fi
	fm=$(/usm/bin/findmnt -rn -o FSTYPE,SOURCE,OPTIONS --mountpoint "$FSTAB_MNT" 2>&1)
	if [ -z "$d" ]; then
		case $fm in
		"usmfs none "*size=16M*evict=lru*) ;;
		*) d="findmnt: '$fm'" ;;
		esac
	fi
	if [ -z "$d" ] && /usm/bin/findmnt -n --mountpoint /mnt/never >/dev/null 2>&1; then
		d="the noauto line was mounted"
	fi
	if [ -z "$d" ] && ! { wait_attached "$n" 30 && [ "$(pd_count)" -eq 1 ]; }; then
		d="usm-policyd: $(pd_count) running, log: $(tail -n 2 "$PD_LOG" | tr '\n' ' ' | cut -c1-120)"
	fi
	if [ -z "$d" ]; then
		p=$(pd_pids)
		cwd=$(readlink "/proc/$p/cwd")
		[ "$cwd" = / ] || d="usm-policyd (pid $p) runs in '$cwd', not /"
	fi
	if [ -z "$d" ] && ! timeout 30 "$UMOUNT" /mnt/cwd 2>/tmp/fstab.out; then
		held=
		for c in /proc/[0-9]*/cwd; do
			case $(readlink "$c" 2>/dev/null) in /mnt/cwd | /mnt/cwd/*)
				p=${c#/proc/}; p=${p%/cwd}
				held="$held $p:$(cat "/proc/$p/comm" 2>/dev/null)" ;;
			esac
		done
		d="the tmpfs mount -a ran from stayed busy ($(head -c 60 /tmp/fstab.out)); cwd there:${held:- none}"
	fi
	if [ -z "$d" ]; then
		usmctl status >/tmp/fstab.st 2>&1
		grep -q "^$FSTAB_MNT (kernel module)" /tmp/fstab.st &&
			grep -q '^  server     attached (usm-policyd)' /tmp/fstab.st ||
			d="usmctl status: $(head -c 200 /tmp/fstab.st | tr '\n' ' ')"
	fi
	if [ -z "$d" ] && ! { echo fstab >"$FSTAB_MNT/f" && [ "$(cat "$FSTAB_MNT/f")" = fstab ]; }; then
		d="write/read on $FSTAB_MNT failed"
	fi
	if [ -z "$d" ]; then
		rm -f "$FSTAB_MNT/f"
		if ! timeout 60 "$UMOUNT" "$FSTAB_MNT" 2>/tmp/fstab.out || grep -q " $FSTAB_MNT " /proc/mounts; then
			d="umount: $(head -c 150 /tmp/fstab.out)"
		fi
	fi
	if [ -z "$d" ]; then
		ok srv-fstab "mount -a from a busy cwd; findmnt: $fm; server cwd /; umount"
	else
		ko srv-fstab "$d"
	fi
	grep -q " $FSTAB_MNT " /proc/mounts && timeout 60 "$UMOUNT" "$FSTAB_MNT"
	grep -q " /mnt/cwd " /proc/mounts && { cd / && timeout 30 "$UMOUNT" -l /mnt/cwd; }
	if [ -f /tmp/fstab.saved ]; then cp /tmp/fstab.saved /etc/fstab; else rm -f /etc/fstab; fi
	p=$(pd_pids)
	if [ -n "$p" ]; then
		# shellcheck disable=SC2086
		kill -TERM $p
		wait_gone 15 || pd_kill9
	fi
}

run() {
	RESULTS=${1:-/dev/null}
	t_all=$(date +%s)
	setup
	c_config
	c_config_nonstore
	if ! timeout "$STEP_TIMEOUT" insmod "/vm/$MODULE.ko" pool="$SRV_POOL"; then
		ko srv-insmod "pool=$SRV_POOL"
		return 1
	fi
	ok srv-insmod "pool=$SRV_POOL"
	c_helper_bad
	if c_mount; then
		c_usmctl
		c_remount
		if [ "$SRV_EVICT" = 1 ]; then
			c_evict_granted
			fio_check srv-fio-psync psync
			fio_check srv-fio-mmap mmap
			c_copy4x
		fi
		c_xattr_evict
		if [ "$SRV_EVICT" = 1 ]; then
			c_suite
			c_kill_fio
		fi
		c_dead
		[ "$SRV_EVICT" = 1 ] && c_restart_swapped
		show_stats
		c_umount
		c_fstab
	else
		pd_kill9
		grep -q " $MNT " /proc/mounts && timeout 60 "$UMOUNT" "$MNT"
	fi
	say "server log (last lines):"
	tail -n 15 "$PD_LOG" | sed 's/^/vm: srv: log: /'
	if timeout "$STEP_TIMEOUT" rmmod "$MODULE"; then
		ok srv-rmmod
	else
		ko srv-rmmod
	fi
	say "took $(($(date +%s) - t_all))s"
	[ $fails -eq 0 ]
}

case ${1:-} in
run) shift; run "$@" ;;
restart) pd_restart ;;
*) echo "usage: $0 run RESULTS | restart" >&2; exit 2 ;;
esac
