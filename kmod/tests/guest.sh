#!/bin/sh
# kmod/tests/guest.sh - /init of a guest that checks what is particular to
# usmfs.ko (the filesystem suite, tests/fs, checks the POSIX surface):
# pool sources and parameters, the stats file, mount options and their
# errors, remount, size= and nr_inodes= limits, running a program from the
# mount, frames coming back, a clean unload.
#
# Settings from /kt/conf: SOURCES (pool sources to load with), PARTIAL
# ("SRC BYTES" that must give a partial pool, or empty), NOSRC (a source this
# kernel lacks, or empty), FAULT_AROUND (0 where the module does none),
# HUGE_MAP (0 where the module maps no 2 MiB window at one fault: before 6.12),
# RESYNC ("N BIG": the resync check compares N and 4N files, then times BIG).
# Prints "kt: PASS name" / "kt: FAIL name (why)",
# then "kt: N passed, N failed", and hands the failure count to the host
# through isa-debug-exit.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
mount -t tmpfs tmpfs /tmp
mkdir -p /mnt/u
SOURCES=auto
PARTIAL=
NOSRC=
FAULT_AROUND=1
HUGE_MAP=1
RESYNC="3000 100000"
. /kt/conf
KO=/kt/usmfs.ko
STATS=/sys/kernel/debug/usmfs/pool

pass=0
fail=0
ok() { echo "kt: PASS $1"; pass=$((pass + 1)); }
ko() { echo "kt: FAIL $1${2:+ ($2)}"; fail=$((fail + 1)); }
check() {	# check NAME CMD...: pass if CMD succeeds
	name=$1
	shift
	if "$@" >/tmp/out 2>&1; then ok "$name"; else ko "$name" "$(head -c 200 /tmp/out)"; fi
}
refuse() {	# refuse NAME CMD...: pass if CMD fails
	name=$1
	shift
	if "$@" >/tmp/out 2>&1; then ko "$name" "succeeded"; else ok "$name"; fi
}
stat_of() { awk -v k="$1" '$1 == k { print $2 }' $STATS; }
mounted_opts() { awk '$2 == "/mnt/u" { print $4 }' /proc/mounts; }

finish() {
	if [ -w /sys/kernel/debug/kmemleak ]; then
		# A debug kernel: an object counts once seen unreferenced twice.
		echo scan >/sys/kernel/debug/kmemleak
		sleep 1
		echo scan >/sys/kernel/debug/kmemleak
		if grep -q usmfs /sys/kernel/debug/kmemleak; then
			head -n 40 /sys/kernel/debug/kmemleak
			ko kmemleak
		else
			ok kmemleak
		fi
	fi
	if dmesg | grep -q -E 'WARNING:|BUG:|Oops|Call Trace|Bad page|Busy inodes'; then
		dmesg | grep -A 20 -E 'WARNING:|BUG:|Oops|Bad page|Busy inodes' | head -n 60
		ko dmesg-clean
	else
		ok dmesg-clean
	fi
	echo "kt: $pass passed, $fail failed"
	sync
	printf "\\$(printf %o "$fail")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
	poweroff -f
}

echo "kt: guest $(uname -r), sources: $SOURCES"

# --- parameters -------------------------------------------------------------
refuse param-bad-pool insmod $KO pool=12Q
refuse param-bad-source insmod $KO pool_source=nosuch
[ -n "$NOSRC" ] && refuse "param-absent-source-$NOSRC" insmod $KO pool=8M pool_source=$NOSRC

# --- each pool source: load, use, unload --------------------------------------
for src in $SOURCES; do
	if ! insmod $KO pool=16M pool_source=$src; then
		ko "load-$src" "insmod failed: $(dmesg | tail -n 3)"
		continue
	fi
	got=$(stat_of source)
	if [ "$src" = auto ] || [ "$got" = "$src" ]; then ok "load-$src ($got)"; else ko "load-$src" "source $got"; fi
	[ "$(stat_of frames)" = 4096 ] && [ "$(stat_of free)" = 4096 ] && ok "frames-$src" ||
		ko "frames-$src" "frames $(stat_of frames) free $(stat_of free)"
	mount -t usmfs none /mnt/u -o size=8M
	dd if=/dev/urandom of=/tmp/r bs=64k count=16 2>/dev/null
	cp /tmp/r /mnt/u/r
	check "data-$src" cmp /tmp/r /mnt/u/r
	[ "$(stat_of used)" = 256 ] && ok "used-$src" || ko "used-$src" "used $(stat_of used)"
	rm /mnt/u/r
	[ "$(stat_of used)" = 0 ] && ok "freed-$src" || ko "freed-$src" "used $(stat_of used) deferred $(stat_of deferred)"
	umount /mnt/u
	check "unload-$src" rmmod usmfs
	dmesg | grep -q "usmfs: pool: returned" && ok "returned-$src" || ko "returned-$src"
	dmesg -c >/dev/null 2>&1 || true
done

if [ -n "$PARTIAL" ]; then
	set -- $PARTIAL
	if insmod $KO pool_source=$1 pool=$2; then
		dmesg | grep -q "usmfs: pool: partial" && ok "partial-$1" || ko "partial-$1" "no partial report"
		[ "$(stat_of pool_bytes)" -lt "$(stat_of requested_bytes)" ] && ok "partial-stats-$1" ||
			ko "partial-stats-$1" "$(stat_of pool_bytes) of $(stat_of requested_bytes)"
		rmmod usmfs
	else
		ko "partial-$1" "insmod failed"
	fi
fi

# --- mount options ------------------------------------------------------------
insmod $KO pool=32M || { ko load "insmod pool=32M"; finish; }
for bad in size=12Q size=0% size=101% nr_inodes=x nr_inodes=1P mode=9 uid=-1 \
	alloc=nosuch evict=LRU swap=file:relative swap=BAD! swapin_timeout=5y \
	swapin_timeout=4294967296ms swapin_timeout=1194h nosuch=1; do
	key=${bad%%=*}
	dmesg -c >/dev/null 2>&1
	if mount -t usmfs none /mnt/u -o "$bad" 2>/dev/null; then
		ko "opt-refused-$bad" "mounted"
		umount /mnt/u
	elif dmesg | grep -q -E "usmfs: (Bad value for|Unknown parameter) '$key'"; then
		ok "opt-refused-$bad"
	elif [ "$key" = mode ] || [ "$key" = uid ]; then
		ok "opt-refused-$bad"	# refused by the u32 parser itself
	else
		ko "opt-refused-$bad" "no message naming '$key': $(dmesg | tail -n 1)"
	fi
done
# The longest swapin_timeout the module can wait (32-bit ms) is taken whole.
if mount -t usmfs none /mnt/u -o swapin_timeout=4294967295ms; then
	case $(mounted_opts) in
	*swapin_timeout=4294967295ms*) ok opt-swapin_timeout-max ;;
	*) ko opt-swapin_timeout-max "$(mounted_opts)" ;;
	esac
	umount /mnt/u
else
	ko opt-swapin_timeout-max "refused"
fi

mount -t usmfs none /mnt/u -o size=50%,nr_inodes=1000,mode=700,uid=5,gid=6,alloc=spread,evict=lru,swap=none,swapin_timeout=500ms
o=$(mounted_opts)
case "$o" in
*size=50%,nr_inodes=1000,mode=700,uid=5,gid=6,alloc=spread,evict=lru,swapin_timeout=500ms*) ok "show-options" ;;
*) ko show-options "$o" ;;
esac
case "$o" in *swap=*) ko show-defaults-hidden "$o" ;; *) ok show-defaults-hidden ;; esac
check root-owner sh -c '[ "$(stat -c %u:%g:%a /mnt/u)" = 5:6:700 ]'
check statfs-size sh -c '[ "$(stat -f -c %b /mnt/u)" = 4096 ]'

mount -o remount,size=8M /mnt/u
o=$(mounted_opts)
case "$o" in *size=8M,nr_inodes=1000,*alloc=spread*) ok remount-only-given ;; *) ko remount-only-given "$o" ;; esac
check statfs-remount sh -c '[ "$(stat -f -c %b /mnt/u)" = 2048 ]'
refuse size-enforced dd if=/dev/zero of=/mnt/u/big bs=1M count=9
check size-full sh -c '[ "$(stat -f -c %f /mnt/u)" = 0 ]'
refuse remount-too-small mount -o remount,size=1M /mnt/u
rm -f /mnt/u/big
check size-freed sh -c '[ "$(stat -f -c %f /mnt/u)" = 2048 ]'
umount /mnt/u

mount -t usmfs none /mnt/u -o nr_inodes=3
check inodes-1 touch /mnt/u/a
check inodes-2 mkdir /mnt/u/d
refuse inodes-limit touch /mnt/u/c
rm /mnt/u/a
check inodes-back touch /mnt/u/c
umount /mnt/u

# --- a program from the mount (MAP_PRIVATE of an ELF), two mounts in stats ----
mount -t usmfs none /mnt/u -o size=16M
mkdir -p /mnt/v
mount -t usmfs none /mnt/v -o size=4M
cp /usr/bin/busybox /mnt/u/busybox
check exec-from-mount sh -c '[ "$(/mnt/u/busybox echo hello)" = hello ]'
# Fault-around: the same run of a program from the mount takes fewer faults
# with it than without (the mount's fault counter in the stats file).
mount_faults() { awk '$1 == "mount" && /size_frames=4096 / { sub(/.*faults=/, ""); print $1 + 0 }' $STATS; }
P=/sys/module/usmfs/parameters/fault_around
echo 0 >$P
f0=$(mount_faults)
/mnt/u/busybox true
f1=$(mount_faults)
echo 16 >$P
/mnt/u/busybox true
f2=$(mount_faults)
without=$((f1 - f0))
with=$((f2 - f1))
if [ "$FAULT_AROUND" = 0 ]; then
	[ "$with" -eq "$without" ] && ok "fault-around-off ($without faults either way)" ||
		ko fault-around-off "$without faults without, $with with"
elif [ "$with" -gt 0 ] && [ "$with" -lt "$without" ]; then
	ok "fault-around ($without faults without, $with with)"
else
	ko fault-around "$without faults without, $with with"
fi
check exec-fault-around sh -c '[ "$(/mnt/u/busybox echo again)" = again ]'
check stats-two-mounts sh -c '[ "$(grep -c "^mount " '$STATS')" = 2 ]'
umount /mnt/v
rm /mnt/u/busybox

# --- races and references -------------------------------------------------------
check stress-race /kt/stress race /mnt/u 15
check stress-race-no-leak sh -c '[ "$(/kt/stress settle '$STATS')" = 0 ]'
check stress-pin /kt/stress pin /mnt/u $STATS

# --- the policy-server channel, /dev/usmfs (kmod/chan.c; tests/chantest.c) ---
checkv() {	# checkv NAME CMD...: as check, and show the last line of output
	name=$1
	shift
	if "$@" >/tmp/out 2>&1; then ok "$name ($(tail -n 1 /tmp/out))"; else ko "$name" "$(head -c 300 /tmp/out)"; fi
}
# --- 2 MiB windows of a contiguous file (file.c usmfs_map_around) ----------
checkv "stress-huge ($(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null))" \
	/kt/stress huge /mnt/u $STATS $HUGE_MAP
check stress-hugerace /kt/stress hugerace /mnt/u 10
check stress-hugerace-no-leak sh -c '[ "$(/kt/stress settle '$STATS')" = 0 ]'
if [ "$HUGE_MAP" = 1 ]; then
	P=/sys/module/usmfs/parameters/pmd_map
	echo 0 >$P
	check stress-huge-pmd_map-off /kt/stress huge /mnt/u $STATS 0
	echo 1 >$P
fi
# get_user_pages on a mapped contiguous file (issue 19): vmsplice,
# process_vm_readv/writev, /proc/self/mem and, where the kernel's image has
# brd.ko (run.sh copies it), O_DIRECT to a ramdisk from and into the mapping.
# 0: no PMD expected (FilePmdMapped): no kernel of the matrix gets one yet.
DEV=
if [ -f /kt/brd.ko ] && insmod /kt/brd.ko rd_nr=1 rd_size=4096 && [ -b /dev/ram0 ]; then
	DEV=/dev/ram0
fi
checkv "gup${DEV:+-odirect}" /kt/gup /mnt/u $STATS 0 $DEV
[ -z "$DEV" ] || rmmod brd

check chan-dev-0600 sh -c '[ "$(stat -c %a:%u:%g /dev/usmfs)" = 600:0:0 ]'
check chan-open-ebusy /kt/chantest open
check chan-noroot-eperm /kt/chantest noroot
checkv chan-hello /kt/chantest hello
check chan-events /kt/chantest events /mnt/u
checkv chan-grant /kt/chantest grant /mnt/u
checkv chan-evict-stale /kt/chantest stale /mnt/u
# a punch into a page the server holds for an eviction, past a short
# swapin_timeout: the bytes are zero once the page is back
mkdir -p /mnt/pb
if mount -t usmfs -o size=4M,swapin_timeout=1s none /mnt/pb; then
	checkv chan-punch-busy /kt/chantest punchbusy /mnt/pb
	umount /mnt/pb
else
	ko chan-punch-busy "mount -o swapin_timeout=1s"
fi
checkv chan-overflow /kt/chantest overflow /mnt/u 5000
dd if=/dev/urandom of=/tmp/cf bs=64k count=8 2>/dev/null
cp /tmp/cf /mnt/u/cf
# Random and mutated batches, and commands on the real pages of a scratch
# file (EVICT, COMMIT with made-up slots, CANCEL, SWAPIN_DONE right and
# wrong) while a child writes, reads and maps it.
checkv chan-fuzz /kt/chantest fuzz 20 30000 /mnt/u/fz
check chan-fuzz-mount-intact cmp /tmp/cf /mnt/u/cf
# A swap-in whose reader was killed, timed out, lost its server or its
# mount keeps its frame until the server answers (kmod/swapin.c).
checkv chan-swapin-owned /kt/chantest swapin /mnt/si
# Reads of a swapped page racing hole punches over it: no SWAPIN_REQUEST
# comes after the TRUNCATED that gave its slot back.  The module reported
# TRUNCATED before erasing the entries, and a request could go out in
# between (4 in 1000 rounds on 6.1 before the fix, 0 in 1000 after: the
# range is marked truncating from the report until the entries are gone).
checkv chan-swapin-trunc-order /kt/chantest swaprace /mnt/sr 600
rm -f /mnt/u/cf /mnt/u/fz
# Unmounting while the server evicts, grants and lists and sampling runs
# (lifetest.c: the kernel log stays free of "Busy inodes" and warnings);
# then the cost of a resync: LIST_PAGES and the root's stats with N files
# and 4 times as many (ratios, not times), then 10^5 files (its time).
mkdir -p /mnt/l
checkv life-umount-race /kt/lifetest umount /mnt/l 20
checkv life-resync /kt/lifetest resync /mnt/l $RESYNC
# --- usmctl on the module: status, stat, policy, evict, top, --json ---------
# (policy/usmctl/usmctl.c reads user.usm.* and the root's user.usm.stats.)
U=/kt/usmctl
kv() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
code() {	# code NAME EXIT CMD...: pass if CMD exits with EXIT
	name=$1
	want=$2
	shift 2
	"$@" >/tmp/out 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else ko "$name" "exit $rc, wanted $want: $(head -c 200 /tmp/out)"; fi
}
if [ -x $U ] && [ -x /kt/getfattr ] && [ -x /kt/jsoncheck ]; then
	mkdir -p /mnt/u/ctl
	dd if=/dev/urandom of=/tmp/ctlf bs=64k count=16 2>/dev/null
	cp /tmp/ctlf /mnt/u/ctl/f
	rs=$(/kt/getfattr --only-values -n user.usm.stats /mnt/u 2>/dev/null)
	nfiles=$(find /mnt/u -type f | wc -l)
	if [ "$(kv "$rs" frames)" = 8192 ] && [ "$(kv "$rs" limit)" = 4096 ] &&
	   [ "$(kv "$rs" files)" = "$nfiles" ] && [ "$(kv "$rs" server)" = 0 ] &&
	   [ "$(kv "$rs" evicting)" = 0 ] && [ "$(kv "$rs" swapped)" = 0 ] &&
	   [ "$(kv "$rs" resident)" -ge 1048576 ] &&
	   [ "$(kv "$rs" used)" = $(($(kv "$rs" frames) - $(kv "$rs" free))) ] &&
	   [ -n "$(kv "$rs" source)" ] && [ -n "$(kv "$rs" low)" ]; then
		ok "ctl-root-stats"
	else
		ko ctl-root-stats "$rs (files: $nfiles)"
	fi
	refuse ctl-dir-stats-enodata /kt/getfattr -n user.usm.stats /mnt/u/ctl
	check ctl-status sh -c "$U status >/tmp/st && grep -q '^/mnt/u (kernel module)' /tmp/st &&
		grep -q 'limit *4096' /tmp/st && grep -q 'server *none attached' /tmp/st"
	check ctl-status-json sh -c "$U --json status >/tmp/j && /kt/jsoncheck </tmp/j &&
		grep -q '\"dir\": \"/mnt/u\", \"frontend\": \"kmod\"' /tmp/j &&
		grep -q '\"server\": 0' /tmp/j && grep -q '\"frames\": 8192' /tmp/j"
	check ctl-stat sh -c "$U stat /mnt/u/ctl/f >/tmp/st && grep -q 'resident   1M (1048576 bytes)' /tmp/st &&
		grep -q 'swapped    0 (0 bytes)' /tmp/st"
	check ctl-stat-json sh -c "$U --json stat /mnt/u/ctl/f >/tmp/j && /kt/jsoncheck </tmp/j &&
		grep -q '\"resident\": 1048576' /tmp/j"
	code ctl-stat-not-usmfs 3 $U stat /kt/conf
	code ctl-stat-missing 1 $U stat /mnt/u/ctl/nope
	code ctl-policy-set 0 $U policy /mnt/u/ctl/f evict=lru prio=6 limit=4M
	check ctl-policy-applied sh -c "[ \"\$(/kt/getfattr --only-values -n user.usm.evict /mnt/u/ctl/f)\" = lru ] &&
		[ \"\$(/kt/getfattr --only-values -n user.usm.prio /mnt/u/ctl/f)\" = 6 ] &&
		[ \"\$(/kt/getfattr --only-values -n user.usm.limit /mnt/u/ctl/f)\" = 4M ]"
	code ctl-policy-bad-value 2 $U policy /mnt/u/ctl/f prio=9
	# prio=2 is applied, then the module refuses the store: prio goes back
	code ctl-policy-refused 1 $U policy /mnt/u/ctl/f prio=2 swap=nosuch
	check ctl-policy-rolled-back sh -c "[ \"\$(/kt/getfattr --only-values -n user.usm.prio /mnt/u/ctl/f)\" = 6 ] &&
		! /kt/getfattr -n user.usm.swap /mnt/u/ctl/f"
	code ctl-evict-no-server 1 $U evict /mnt/u/ctl/f
	grep -q 'no policy server that evicts is attached' /tmp/out && ok ctl-evict-no-server-message ||
		ko ctl-evict-no-server-message "$(cat /tmp/out)"
	code ctl-evict-bad-size 2 $U evict /mnt/u/ctl/f 12Q
	code ctl-evict-dir 1 $U evict /mnt/u/ctl
	refuse ctl-reclaim-bad-value /kt/setfattr -n user.usm.reclaim -v 12Q /mnt/u/ctl/f
	refuse ctl-reclaim-zero /kt/setfattr -n user.usm.reclaim -v 0 /mnt/u/ctl/f
	refuse ctl-reclaim-not-listed sh -c "/kt/getfattr -d -m - /mnt/u/ctl/f | grep -q reclaim"
	check ctl-top sh -c "$U top -n 1 /mnt/u | grep -q '1M .*lru *  */mnt/u/ctl/f'"
	check ctl-top-json sh -c "$U --json top -n 1 /mnt/u >/tmp/j && /kt/jsoncheck </tmp/j &&
		grep -q '\"file\": \"/mnt/u/ctl/f\", \"resident\": 1048576' /tmp/j"
	check ctl-jsoncheck-can-fail sh -c "! echo '{\"a\": 1,}' | /kt/jsoncheck"
else
	ko usmctl "no /kt/usmctl, /kt/getfattr or /kt/jsoncheck"
fi
if [ -x /kt/usm-policyd ]; then
	# a store, so that a server that evicts has somewhere to put pages
	printf '[pool]\nswap = fast\n\n[store fast]\npath = file:/tmp/fast.swap\n' >/tmp/pd.conf
	/kt/usm-policyd -v -c /tmp/pd.conf >/tmp/pd.log 2>&1 &
	pd=$!
	n=0
	while ! grep -q attached /tmp/pd.log && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
	touch /mnt/u/pdfile
	sleep 1
	if [ -x $U ] && [ -f /mnt/u/ctl/f ]; then
		rs=$(/kt/getfattr --only-values -n user.usm.stats /mnt/u 2>/dev/null)
		[ "$(kv "$rs" server)" = 1 ] && ok ctl-root-stats-server || ko ctl-root-stats-server "$rs"
		check ctl-status-server sh -c "$U status | grep -q 'server *attached (usm-policyd)'"
		if [ "$(kv "$rs" evicting)" = 1 ]; then
			# the server evicts: the request reaches it, the file's pages
			# go to the store, and come back intact
			code ctl-evict-server 0 $U evict /mnt/u/ctl/f
			n=0
			while ! grep -q "reclaim of" /tmp/pd.log && [ $n -lt 20 ]; do sleep 1; n=$((n + 1)); done
			grep -q "reclaim of" /tmp/pd.log && ok "ctl-evict-server-asked ($(grep -m1 'reclaim of' /tmp/pd.log | head -c 100))" ||
				ko ctl-evict-server-asked "$(tail -c 300 /tmp/pd.log)"
			fs=$(/kt/getfattr --only-values -n user.usm.stats /mnt/u/ctl/f 2>/dev/null)
			[ "$(kv "$fs" swapped)" -gt 0 ] && [ "$(kv "$fs" resident)" -lt 1048576 ] &&
			[ $(($(kv "$fs" swapped) + $(kv "$fs" resident))) = 1048576 ] &&
				ok "ctl-evict-server-swapped ($fs)" || ko ctl-evict-server-swapped "$fs"
			rs=$(/kt/getfattr --only-values -n user.usm.stats /mnt/u 2>/dev/null)
			[ "$(kv "$rs" swapped)" -gt 0 ] && [ "$(kv "$rs" evictions)" -gt 0 ] &&
				ok ctl-root-stats-swapped || ko ctl-root-stats-swapped "$rs"
			check ctl-evicted-data-back cmp /tmp/ctlf /mnt/u/ctl/f
		else
			# attached but not evicting (no USMFS_F_EVICT): still refused
			code ctl-evict-server-not-evicting 1 $U evict /mnt/u/ctl/f
			grep -q 'no policy server that evicts is attached' /tmp/out &&
				ok ctl-evict-server-not-evicting-message ||
				ko ctl-evict-server-not-evicting-message "$(cat /tmp/out)"
		fi
	fi
	kill -TERM $pd
	wait $pd
	rc=$?
	if [ $rc = 0 ] && grep -q "attached: protocol 1\." /tmp/pd.log; then
		ok "chan-policyd ($(grep -m1 attached /tmp/pd.log | head -c 160))"
	else
		ko chan-policyd "exit $rc: $(tail -c 300 /tmp/pd.log)"
	fi
	rm -f /mnt/u/pdfile
	check chan-reopen-after-policyd /kt/chantest open
	dmesg | grep -q "usmfs: chan: server detached" && ok chan-detach-logged || ko chan-detach-logged
	# --- eviction and swap-in through the server ---
	. /kt/server.sh
	# --- reads of evicted pages with the pool full and the server stopped ---
	. /kt/poolfull.sh
	# --- usm-policyd killed again and again during swap-ins ---
	. /kt/killswap.sh
else
	ko chan-policyd "no /kt/usm-policyd"
fi
rm -rf /mnt/u/ctl
umount /mnt/u
check frames-all-back sh -c '[ "$(awk "\$1==\"used\" {print \$2}" '$STATS')" = 0 ]'
check unload rmmod usmfs
finish
