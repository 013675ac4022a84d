#!/bin/bash
# tests/rados/run.sh - make test-rados: the "rados:" store against a real
# one-node Ceph cluster on 127.0.0.1 (cluster.sh), started in a temporary
# directory and stopped at the end, whatever happens.
#
#   1. the cluster starts (bounded: CLUSTER_TIMEOUT, 120 s)
#   2. the store's unit tests (test_rados.c: refusals, objects, KEEP
#      reopen, an OSD outage at the library level); usm-policyd's tests
#      (tests/unit/test_policyd.c, a fake /dev/usmfs) on a rados: store:
#      eviction, swap-in, a server restart finding its pages
#   3. fio verify=crc32c through a FUSE mount with swap=rados:..., working
#      set 3x the pool (size=); pages went to the cluster and came back;
#      after the files are removed and the mount is gone, no object is left
#   4. an OSD outage under a FUSE mount: a file written (evicted to the
#      cluster), the OSD stopped: reading it gives EIO within the timeout,
#      the mount's stats say why nothing is evicted; a buffered read from
#      a page the daemon holds into pages in the cluster gives that page,
#      then EIO, never zeroes (short-read.py); the OSD started again:
#      the mount resumes by itself and fio verifies every byte; a daemon
#      killed under its supervisor: the next one finds its pages
#   4c. a full pool (the OSD's full ratio lowered): the store says "full"
#      at once, not "unreachable" after the timeout; what it holds reads
#      back; it resumes by itself when the pool has room again
#   4d. the OSD stopped for 5 s under fio verify=crc32c: the writer
#      completes and verifies or is told (EIO/ENOSPC), never wrong data;
#      what was written before reads back
#   5. a daemon killed with pages in the cluster: usmctl rados lists its
#      store as left over (in use while it ran) and removes it
#
# Needs root (FUSE mounts), the packages of make deps.  Prints
# "rados: N passed, N failed"; exits 1 when something failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
daemon=$top/usmfs/build/usmfs
passed=0 failed=0
ok() { echo "PASS $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }

work=$(mktemp -d /tmp/usm-rados.XXXXXX)
cdir=$work/cluster
mnt=$work/mnt
dpid=

mounted() { grep -q " $1 " /proc/mounts; }

cleanup() {
	if mounted "$mnt"; then
		timeout 20 fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	if [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null; then
		kill -TERM "$dpid"; sleep 2; kill -KILL "$dpid" 2>/dev/null
	fi
	"$here/cluster.sh" stop "$cdir" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

finish() {
	echo "rados: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit $?
}

ceph_() { timeout 60 ceph --connect-timeout 15 -c "$cdir/ceph.conf" "$@"; }
# objects of the pool usm in namespace $1
objects() { timeout 60 rados -c "$cdir/ceph.conf" -p usm -N "$1" ls 2>/dev/null | wc -l; }

# --- 1. the cluster
t0=$SECONDS
if out=$("$here/cluster.sh" start "$cdir" 2>&1); then
	ok "cluster: mon + 1 OSD (BlueStore on a file) + pool usm up in $((SECONDS - t0)) s"
else
	bad "cluster did not start"
	echo "$out" | tail -n 30 | sed 's/^/    /'
	finish
fi

# cmocka NAME LOG RC: add up a cmocka binary's counts (a crash, or no test
# run, is a failure), say how it went
cmocka() {
	local name=$1 log=$2 rc=$3 p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0}
	{ [ "$rc" -ne 0 ] || [ "$p" -eq 0 ]; } && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)) failed=$((failed + f))
	if [ "$f" -ne 0 ]; then
		echo "FAIL $name (exit $rc)"; sed 's/^/    /' "$log"
	else
		echo "ok   $name: $p passed"
	fi
}

# --- 2. the store's unit tests
log=$work/unit.log
CLUSTER_DIR=$cdir RADOS_TESTS=$here timeout -k 10 600 "$here/build/test_rados" >"$log" 2>&1
cmocka test_rados "$log" $?

# --- usm-policyd's own tests (tests/unit/test_policyd.c: the server's
# sources with a fake /dev/usmfs) on a rados: store: eviction, swap-in,
# and a server stopped and started again finding its pages in the cluster
log=$work/policyd.log
USM_TEST_STORE="rados:usm/policyd:conf=$cdir/ceph.conf:user=usm" \
	timeout -k 10 600 "$top/tests/unit/build-san/test_policyd" >"$log" 2>&1
cmocka "test_policyd on a rados: store (test_restart among them)" "$log" $?
# usm-policyd keeps its pages when it stops (for its next start): its store
# is left over now, and usmctl removes it
pspec="rados:usm/policyd:conf=$cdir/ceph.conf:user=usm"
out=$("$top/policy/build/usmctl" rados "$pspec" 2>&1)
if echo "$out" | grep -Eq "^fast .* left over"; then
	ok "usmctl rados: the stopped server's store is left over"
else
	bad "usmctl rados after usm-policyd's tests"; echo "$out" | sed 's/^/    /'
fi
"$top/policy/build/usmctl" rados "$pspec" --remove fast >/dev/null 2>&1
n=$(objects policyd)
[ "$n" -eq 0 ] && ok "removed: no object left in namespace policyd" ||
	bad "$n objects left in namespace policyd"

# --- the FUSE mount
# no timeout= in the spec: a third of swapin_timeout (9 s) bounds each
# cluster operation, 3 s
spec="rados:usm/fuse:conf=$cdir/ceph.conf:user=usm"
mkdir -p "$mnt"
"$daemon" "$mnt" -f -o "size=64M,swapin_timeout=9s,swap=$spec" >"$work/daemon.log" 2>&1 &
dpid=$!
for _ in $(seq 150); do mounted "$mnt" && break; kill -0 $dpid 2>/dev/null || break; sleep 0.2; done
if mounted "$mnt"; then
	ok "usmfs -o size=64M,swapin_timeout=9s,swap=$spec mounted"
else
	bad "usmfs with swap=rados did not mount"; sed 's/^/    /' "$work/daemon.log"; finish
fi
stats() { timeout 20 getfattr --only-values -n user.usm.stats "$mnt" 2>/dev/null; }
stat_of() { stats | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# --- 3. fio verify=crc32c, working set 192M = 3x size=64M
fio_run() {	# name, extra args
	local name=$1; shift
	timeout -k 10 300 fio --name="$name" --directory="$mnt" --size=192M \
		--ioengine=psync --bs=64k --verify=crc32c --verify_fatal=1 \
		--verify_state_save=0 --output-format=terse --terse-version=3 "$@" \
		>"$work/fio.$name.out" 2>&1
}
ev0=$(stat_of evictions) si0=$(stat_of swapins)
if fio_run rand --rw=randwrite --do_verify=1; then
	ev=$(( $(stat_of evictions) - ev0 )) si=$(( $(stat_of swapins) - si0 ))
	if [ "$ev" -gt 0 ] && [ "$si" -gt 0 ]; then
		ok "fio randwrite 192M through a 64M mount, crc32c verified ($ev evictions, $si swap-ins)"
	else
		bad "fio passed but evictions=$ev swapins=$si"
	fi
else
	bad "fio randwrite verify"; head -n 20 "$work/fio.rand.out" | sed 's/^/    /'
fi
n=$(objects fuse)
[ "$n" -gt 1 ] && ok "pages in the cluster: $n objects in pool usm, namespace fuse" ||
	bad "no object in namespace fuse ($n)"
rm -f "$mnt"/rand.*
sleep 1
n=$(objects fuse)
# the header stays while mounted; a few objects may wait for their batch
[ "$n" -le 2 ] && ok "files removed: $n object(s) left (the store's header)" ||
	bad "files removed but $n objects left in namespace fuse"

# --- 4. an OSD outage under the mount
if fio_run pre --rw=write --do_verify=0; then
	ok "wrote 192M for the outage (evicted to the cluster)"
else
	bad "fio write before the outage"; head -n 20 "$work/fio.pre.out" | sed 's/^/    /'
fi
# a page 1M into the file (evicted) read back alone: the daemon holds it,
# the kernel does not; the pages after it stay in the cluster
"$here/short-read.py" prep "$mnt/pre.0.0" 1048576 || bad "O_DIRECT read of one page"
"$here/cluster.sh" osd-stop "$cdir"
# a buffered read from that page on: the page, then EIO; never a short
# reply that the kernel fills up with zeroes
if out=$(timeout 120 "$here/short-read.py" check "$mnt/pre.0.0" 1048576); then
	ok "outage: a read from a resident page into evicted ones: $out"
else
	bad "outage: a read from a resident page into evicted ones: $out"
fi
t0=$SECONDS
# reading the evicted start of the file: EIO, not zeroes, within the bound
if timeout 120 dd if="$mnt/pre.0.0" of=/dev/null bs=1M count=32 2>"$work/dd.err"; then
	bad "read during the outage succeeded (zeroes or resident pages?)"
elif grep -q "Input/output error" "$work/dd.err"; then
	ok "read during the outage: EIO after $((SECONDS - t0)) s"
else
	bad "read during the outage: $(cat "$work/dd.err")"
fi
# eviction stopped, and the stats say why
timeout 60 dd if=/dev/zero of="$mnt/fill" bs=1M count=128 2>/dev/null
why=$(stat_of store_state)
case "$why" in
*unreachable*within\\0403s*) ok "stats during the outage: store_state=$why" ;;
*) bad "stats during the outage: store_state='$why'" ;;
esac
# usmctl status --json stays JSON with that reason in it (its spaces are
# escaped \040 in the stats: printed raw, that was an invalid escape)
if "$top/policy/build/usmctl" --json status >"$work/status.json" 2>&1 &&
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); m = [m for m in d["mounts"] if m["dir"] == sys.argv[2]][0]; assert "unreachable" in m["stats"]["store_state"], m' "$work/status.json" "$mnt"; then
	ok "usmctl status --json during the outage: valid JSON with store_state"
else
	bad "usmctl status --json during the outage: $(head -c 300 "$work/status.json")"
fi
rm -f "$mnt/fill"
"$here/cluster.sh" osd-start "$cdir" >/dev/null 2>&1 || bad "OSD did not start again"
# resumes by itself
for _ in $(seq 60); do [ -z "$(stat_of store_state)" ] && break; sleep 1; done
[ -z "$(stat_of store_state)" ] && ok "the store resumed by itself after the OSD came back" ||
	bad "still down: $(stat_of store_state)"
if fio_run pre --rw=write --verify_only=1; then
	ok "after the outage: all 192M verified (crc32c), nothing lost"
else
	bad "verify after the outage"; head -n 20 "$work/fio.pre.out" | sed 's/^/    /'
fi
# --- 4b. the serving daemon killed (the supervisor holds the store's lock,
# the daemon it starts again reopens the store unlocked and keeps its pages)
child=$(pgrep -P "$dpid" -x usmfs | head -n 1)
if [ -z "$child" ]; then
	bad "no daemon under the supervisor $dpid"
else
	kill -KILL "$child"
	if fio_run pre --rw=write --verify_only=1; then
		ok "daemon $child killed: the next one verified all 192M from the cluster"
	else
		bad "verify after the daemon was killed"
		head -n 20 "$work/fio.pre.out" | sed 's/^/    /'
		tail -n 5 "$work/daemon.log" | sed 's/^/    /'
	fi
fi
rm -f "$mnt"/pre.*

# --- 4c. a full pool: the OSD's full ratio lowered below what it uses (a
# pool quota is never enforced here: the monitors learn a pool's usage
# from a manager, which this cluster lacks); the store must say "full"
# within a few seconds, not "unreachable" after the timeout, keep its
# pages readable, and resume by itself when the pool has room again
ratios() {	# full backfillfull nearfull, in an order the monitor takes
	if [ "$1" = low ]; then
		ceph_ osd set-nearfull-ratio 0.001 && ceph_ osd set-backfillfull-ratio 0.002 &&
			ceph_ osd set-full-ratio 0.003
	else
		ceph_ osd set-full-ratio 0.95 && ceph_ osd set-backfillfull-ratio 0.90 &&
			ceph_ osd set-nearfull-ratio 0.85
	fi >/dev/null 2>&1
}
pool_full() { ceph_ osd pool ls detail 2>/dev/null | grep -q "^pool .* 'usm' .*flags [a-z_,]*full"; }
fio_keep() {	# extra args: 96M of crc32c-tagged blocks, more than size=64M
	timeout -k 10 300 fio --name=keep --directory="$mnt" --size=96M \
		--ioengine=psync --bs=64k --rw=write --verify=crc32c --verify_fatal=1 \
		--verify_state_save=0 "$@" >"$work/fio.keep.out" 2>&1
}
fio_keep --do_verify=0 || bad "fio write before the full pool"
ratios low
for _ in $(seq 60); do pool_full && break; sleep 1; done
sleep 3	# the monitors' map says full: the OSD's too, a moment later
if pool_full; then
	ev0=$(stat_of evictions) t0=$SECONDS
	timeout 120 dd if=/dev/urandom of="$mnt/fill" bs=1M count=128 conv=fsync 2>"$work/dd.err"
	rc=$? took=$((SECONDS - t0)) why=$(stat_of store_state)
	echo "    full pool: dd rc=$rc after ${took}s ($(tail -n 1 "$work/dd.err")), store_state=$why"
	case "$why" in
	*full*) ok "full pool: store_state=$why (dd: $(grep -o 'No space left on device' "$work/dd.err" | head -n 1) after ${took}s)" ;;
	*) bad "full pool: store_state='$why', expected full (dd rc=$rc after ${took}s)" ;;
	esac
	"$top/policy/build/usmctl" status >"$work/status.txt" 2>&1
	if grep -q "store takes nothing now: the pool usm is full" "$work/status.txt"; then
		ok "usmctl status: the pool usm is full"
	else
		bad "usmctl status during the full pool"; sed 's/^/    /' "$work/status.txt" | head -n 20
	fi
	# a new store on the full pool: refused at once, saying why (its
	# lock is a write: it waited out the timeout and said "timed out")
	mkdir -p "$work/mnt2"
	t0=$SECONDS
	timeout 60 "$daemon" "$work/mnt2" -f -o "size=16M,swapin_timeout=9s,swap=rados:usm/full2:conf=$cdir/ceph.conf:user=usm" \
		>"$work/full2.log" 2>&1
	rc=$? took=$((SECONDS - t0))
	if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "the pool usm is full" "$work/full2.log" && [ $took -lt 8 ]; then
		ok "a new store on the full pool: refused after ${took}s: $(grep -o 'the pool usm is full[^;]*' "$work/full2.log" | head -n 1)"
	else
		bad "a new store on the full pool: rc=$rc after ${took}s"; sed 's/^/    /' "$work/full2.log" | head -n 5
		mountpoint -q "$work/mnt2" && umount "$work/mnt2"
	fi
	# read back while still full, the fill gone (its frames free): every
	# page read is right; a swap-in that finds no frame (the store takes
	# nothing to make one) may be told ENOSPC, never given wrong data
	rm -f "$mnt/fill"
	if fio_keep --verify_only=1; then
		ok "full pool: the 96M written before it verify (crc32c)"
	elif grep -Eqi "verify|bad magic|bad header|crc32c" "$work/fio.keep.out"; then
		bad "full pool: wrong data read back"; grep -Ei "verify|bad|crc" "$work/fio.keep.out" | head -n 10 | sed 's/^/    /'
	elif grep -q "No space left on device" "$work/fio.keep.out"; then
		ok "full pool: reading back gave ENOSPC at $(grep -o 'offset=[0-9]*' "$work/fio.keep.out" | head -n 1) (no frame), no wrong data"
	else
		bad "verify while the pool is full"; head -n 20 "$work/fio.keep.out" | sed 's/^/    /'
	fi
else
	bad "the pool did not become full with a full ratio of 0.003"
fi
ratios high
t0=$SECONDS
for _ in $(seq 60); do [ -z "$(stat_of store_state)" ] && break; sleep 1; done
if [ -z "$(stat_of store_state)" ]; then
	ok "full pool: the store resumed by itself $((SECONDS - t0)) s after the ratio went back"
else
	bad "full pool: still down: $(stat_of store_state)"
fi
ev0=$(stat_of evictions)
if timeout 120 dd if=/dev/urandom of="$mnt/fill" bs=1M count=128 conv=fsync 2>"$work/dd.err" &&
	[ "$(stat_of evictions)" -gt "$ev0" ] && fio_keep --verify_only=1; then
	ok "after the full pool: 128M written, $(( $(stat_of evictions) - ev0 )) evictions, the 96M verify"
else
	bad "after the full pool: $(cat "$work/dd.err") evictions $ev0 -> $(stat_of evictions)"
	head -n 20 "$work/fio.keep.out" | sed 's/^/    /'
fi
rm -f "$mnt/fill" "$mnt"/keep.*

# --- 4d. the OSD stopped under an active writer (fio verify=crc32c, 192M
# through the 64M mount) and started again 5 s later: the writer completes
# and verifies, or is told (EIO, ENOSPC); it never verifies wrong data; and
# what was written before the outage reads back whole
fio_keep --do_verify=0 || bad "fio write before the outage under a writer"
timeout -k 10 300 fio --name=live --directory="$mnt" --size=192M --ioengine=psync \
	--bs=64k --rw=randwrite --do_verify=1 --verify=crc32c --verify_fatal=1 \
	--verify_state_save=0 >"$work/fio.live.out" 2>&1 &
fpid=$!
sleep 8
"$here/cluster.sh" osd-stop "$cdir"
sleep 5
t0=$SECONDS
"$here/cluster.sh" osd-start "$cdir" >/dev/null 2>&1 || bad "OSD did not start again"
wait $fpid
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "OSD stopped under fio: it completed and verified (OSD back in $((SECONDS - t0)) s)"
elif grep -Eqi "verify|bad magic|bad header|crc32c" "$work/fio.live.out"; then
	bad "OSD stopped under fio: wrong data verified"; grep -Ei "verify|bad|crc" "$work/fio.live.out" | head -n 10 | sed 's/^/    /'
elif grep -Eq "Input/output error|No space left on device" "$work/fio.live.out"; then
	ok "OSD stopped under fio: the writer was told ($(grep -Eo 'Input/output error|No space left on device' "$work/fio.live.out" | head -n 1)), no wrong data"
else
	bad "OSD stopped under fio: rc=$rc"; tail -n 10 "$work/fio.live.out" | sed 's/^/    /'
fi
for _ in $(seq 60); do [ -z "$(stat_of store_state)" ] && break; sleep 1; done
if fio_keep --verify_only=1; then
	ok "after the outage under a writer: the 96M written before it verify (crc32c)"
else
	bad "after the outage under a writer: verify"; head -n 20 "$work/fio.keep.out" | sed 's/^/    /'
fi
rm -f "$mnt"/live.* "$mnt"/keep.*

# --- unmount: the store's objects go
timeout 30 fusermount3 -u "$mnt"
for _ in $(seq 100); do kill -0 $dpid 2>/dev/null || break; sleep 0.2; done
n=$(objects fuse)
[ "$n" -eq 0 ] && ok "unmounted: no object left in namespace fuse" ||
	bad "unmounted: $n objects left in namespace fuse"
if grep -q "unreachable" "$work/daemon.log" && grep -q "answers again" "$work/daemon.log"; then
	ok "the daemon's log says when eviction stopped and resumed"
else
	bad "the daemon's log does not tell the outage"; tail -n 20 "$work/daemon.log" | sed 's/^/    /'
fi

# --- 5. leftovers: a daemon killed with pages in the cluster (norestart:
# the daemon is the process killed; under a supervisor its daemon would
# outlive a killed supervisor and clean up at the unmount)
usmctl=$top/policy/build/usmctl
lspec="rados:usm/fuse:conf=$cdir/ceph.conf:user=usm"
"$daemon" "$mnt" -f -o "norestart,size=16M,swap=$spec:id=killed" >"$work/daemon2.log" 2>&1 &
dpid=$!
for _ in $(seq 150); do mounted "$mnt" && break; sleep 0.2; done
timeout 120 dd if=/dev/urandom of="$mnt/f" bs=1M count=48 2>/dev/null
out=$("$usmctl" rados "$lspec" 2>&1)
echo "$out" | grep -q "^killed .* in use" && ok "usmctl rados: the live mount's store is in use" ||
	{ bad "usmctl rados while mounted"; echo "$out" | sed 's/^/    /'; }
"$usmctl" rados "$lspec" --remove killed >/dev/null 2>&1 &&
	bad "usmctl rados --remove removed a store in use" ||
	ok "usmctl rados --remove refuses a store in use"
kill -KILL $dpid; wait $dpid 2>/dev/null
timeout 20 fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
out=$("$usmctl" rados "$lspec" 2>&1)
if echo "$out" | grep -Eq "^killed .* [1-9][0-9]* +left over"; then
	ok "after kill -9: usmctl rados lists the store as left over"
else
	bad "usmctl rados after kill -9"; echo "$out" | sed 's/^/    /'
fi
out=$("$usmctl" rados "$lspec" --remove killed 2>&1) && ok "usmctl rados --remove: $out" ||
	{ bad "usmctl rados --remove"; echo "$out" | sed 's/^/    /'; }
n=$(objects fuse)
[ "$n" -eq 0 ] && ok "no object left after the removal" || bad "$n objects left after the removal"

# --- 6. in the background (no -f, as mount(8) starts it): the process
# that holds the store's lock is the one that stays (it forked after the
# lock was taken, and the lock named a process that had exited: a second
# mount of the same store took it for a dead holder's, broke it, and
# removed the first one's pages as an earlier run's)
mkdir -p "$work/mnt2"
if timeout 60 "$daemon" "$mnt" -o "size=16M,swap=$spec:id=bg" >"$work/daemon3.log" 2>&1; then
	timeout 120 dd if=/dev/urandom of="$mnt/f" bs=1M count=48 2>/dev/null
	sum=$(md5sum <"$mnt/f")
	if timeout 60 "$daemon" "$work/mnt2" -o "size=16M,swap=$spec:id=bg" >"$work/daemon4.log" 2>&1; then
		bad "a second mount of a background mount's store was let in"
		timeout 20 fusermount3 -u "$work/mnt2"
	elif grep -q "in use by another store" "$work/daemon4.log"; then
		ok "a second mount of a background mount's store: $(grep -o 'in use by another store[^;]*' "$work/daemon4.log")"
	else
		bad "a second mount of a background mount's store: $(head -c 300 "$work/daemon4.log")"
	fi
	python3 -c "import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$mnt/f"
	[ "$(md5sum <"$mnt/f")" = "$sum" ] && ok "the background mount reads its 48M back ($(stat_of evictions) evictions)" ||
		bad "the background mount's file changed"
	bgpid=$(stat_of supervisor_pid)
	timeout 30 fusermount3 -u "$mnt"
	for _ in $(seq 100); do kill -0 "$bgpid" 2>/dev/null || break; sleep 0.2; done
	if kill -0 "$bgpid" 2>/dev/null; then
		bad "the background supervisor $bgpid did not exit after the unmount"
		kill -KILL "$bgpid"
	else
		n=$(objects fuse)
		[ "$n" -eq 0 ] && ok "the background supervisor exited at the unmount, no object left" ||
			bad "the background supervisor left $n objects"
	fi
else
	bad "usmfs without -f did not mount: $(head -c 300 "$work/daemon3.log")"
fi
finish
