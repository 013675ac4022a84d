# kmod/tests/server.sh - sourced by guest.sh with the module loaded (pool=32M):
# eviction and swap-in through usm-policyd (kmod/chan.c, policy/server).
# A mount whose share (size=8M) is a quarter of what is written to it: the
# share fills, the module asks the server (PRESSURE), the server evicts to
# its file store (EVICT, COMMIT) and brings pages back on faults
# (SWAPIN_REQUEST, SWAPIN_DONE).  Then the server is killed and restarted.
SRV_LOG=/tmp/pds.log
SRV_STORE=/tmp/usm.swap
cat >/tmp/pds.conf <<EOT
[pool]
swap = disk
[store disk]
path = file:$SRV_STORE
EOT
srv=""
srv_start() {	# start usm-policyd, wait until it has attached (bounded)
	n0=$(grep -c "attached: protocol" $SRV_LOG 2>/dev/null)
	/kt/usm-policyd -v -c /tmp/pds.conf >>$SRV_LOG 2>&1 &
	srv=$!
	n=0
	while [ "$(grep -c "attached: protocol" $SRV_LOG)" = "${n0:-0}" ] && [ $n -lt 60 ]; do
		sleep 0.5
		n=$((n + 1))
	done
	[ "$(grep -c "attached: protocol" $SRV_LOG)" != "${n0:-0}" ]
}
mstat() {	# mstat KEY: KEY=N of the /mnt/s line of the stats file
	dev=$(awk '$5 == "/mnt/s" { print $3 }' /proc/self/mountinfo)
	awk -v d="dev=$dev" -v k="$1" '$1 == "mount" && $2 == d {
		for (i = 3; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' $STATS
}
swapped_is() {	# swapped_is FILE BYTES: the file's user.usm.stats says so
	/kt/chantest xattr "$1" user.usm.stats | grep -q " swapped=$2 "
}
pushed_out() {	# pushed_out FILE BYTES: usmctl evict FILE, wait (bounded) for BYTES swapped
	/kt/usmctl evict "$1" >/tmp/evict.out 2>&1
	n=0
	while ! swapped_is "$1" "$2" && [ $n -lt 50 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	swapped_is "$1" "$2"
}
mkdir -p /mnt/s
: >$SRV_LOG
if ! mount -t usmfs -o size=8M,swapin_timeout=20s none /mnt/s; then
	ko srv-mount "mount failed"
	return 0 2>/dev/null || exit 0
fi
if srv_start; then ok srv-start; else ko srv-start "$(tail -c 300 $SRV_LOG)"; fi
dd if=/dev/urandom of=/tmp/big bs=1M count=32 2>/dev/null
check srv-write-4x cp /tmp/big /mnt/s/big
check srv-readback-4x cmp /tmp/big /mnt/s/big
ev=$(mstat evictions)
si=$(mstat swapins)
if [ "${ev:-0}" -gt 0 ] && [ "${si:-0}" -gt 0 ]; then
	ok "srv-stats (evictions=$ev swapins=$si swapped=$(mstat swapped))"
else
	ko srv-stats "evictions=$ev swapins=$si: $(grep '^mount' $STATS | tail -n 1)"
fi
used=$(mstat used_frames)
check srv-used-within-share [ "${used:-9999}" -le 2048 ]
check srv-fio-psync fio --name=p --directory=/mnt/s --size=12M --bs=4k --rw=randwrite \
	--ioengine=psync --verify=crc32c --do_verify=1 --numjobs=2 --group_reporting
check srv-fio-mmap fio --name=m --directory=/mnt/s --size=12M --bs=4k --rw=randwrite \
	--ioengine=mmap --verify=crc32c --do_verify=1 --numjobs=2 --group_reporting
rm -f /mnt/s/p.* /mnt/s/m.*
cmp /tmp/big /mnt/s/big >/tmp/cmp.out 2>&1 &
reader=$!
check srv-policy-change-in-use sh -c '/kt/chantest xattr /mnt/s/big user.usm.evict lru &&
	[ "$(/kt/chantest xattr /mnt/s/big user.usm.evict)" = lru ]'
if wait $reader; then ok srv-policy-change-reader; else ko srv-policy-change-reader "$(cat /tmp/cmp.out)"; fi

# A small file pushed out whole (usmctl evict), for truncation into a
# swapped page while no server can bring it back (below).
dd if=/tmp/big of=/mnt/s/tz bs=4k count=8 2>/dev/null
check srv-tz-evicted pushed_out /mnt/s/tz 32768
# The server dies: resident pages keep being served at once; swapped ones
# wait for the next server (the server asked for USMFS_F_RECOVERY).
dd if=/tmp/big of=/tmp/tail bs=1M skip=31 count=1 2>/dev/null
dd if=/mnt/s/big of=/dev/null bs=1M skip=31 count=1 2>/dev/null
kill -9 $srv
wait $srv 2>/dev/null
check srv-dead-resident-served timeout 5 sh -c \
	'dd if=/mnt/s/big of=/tmp/tail2 bs=1M skip=31 count=1 2>/dev/null && cmp /tmp/tail /tmp/tail2'
sw=$(mstat swapped)
check srv-dead-slots-kept [ "${sw:-0}" -gt 0 ]
# Truncation into a swapped page that cannot come back now (swapin_timeout
# 1 s): the bytes past the new end must read zero once the page is back.
mount -o remount,swapin_timeout=1s /mnt/s
truncate -s 21480 /mnt/s/tz
mount -o remount,swapin_timeout=20s /mnt/s
# (that swap-in timed out on purpose; any other is a failure, checked last)
tz_timeouts=$(dmesg | grep -c "swap-in of page .* timed out")
# A reader of swapped pages waits; the restarted server serves it.
cmp /tmp/big /mnt/s/big >/tmp/cmp.out 2>&1 &
reader=$!
sleep 2
if srv_start; then ok srv-restart; else ko srv-restart "$(tail -c 300 $SRV_LOG)"; fi
if wait $reader; then ok srv-waiting-reader-served; else
	ko srv-waiting-reader-served "$(cat /tmp/cmp.out)"
	grep -E "error|warning" $SRV_LOG | tail -n 20
	dmesg | tail -n 20
fi
check srv-after-restart cmp /tmp/big /mnt/s/big
truncate -s 32768 /mnt/s/tz
dd if=/mnt/s/tz of=/tmp/tzt bs=1 skip=21480 count=11288 2>/dev/null
dd if=/dev/zero of=/tmp/tzz bs=1 count=11288 2>/dev/null
check srv-truncate-swapped-zeroed sh -c 'cmp -n 21480 /tmp/big /mnt/s/tz && cmp /tmp/tzt /tmp/tzz'
rm -f /mnt/s/tz /tmp/tzt /tmp/tzz
# kill -9 in the middle of a verify run, restart: the run still verifies.
fio --name=k --directory=/mnt/s --size=16M --bs=4k --rw=randwrite --ioengine=psync \
	--verify=crc32c --do_verify=1 --verify_backlog=0 >/tmp/fiok.out 2>&1 &
fk=$!
sleep 3
kill -9 $srv
wait $srv 2>/dev/null
sleep 1
srv_start || ko srv-restart-2 "$(tail -c 300 $SRV_LOG)"
if wait $fk; then ok srv-kill9-mid-verify; else ko srv-kill9-mid-verify "$(tail -c 300 /tmp/fiok.out)"; fi
rm -f /mnt/s/k.*
# Touch the file for a while: sampled pages report their next access.
for i in 1 2 3; do cat /mnt/s/big >/dev/null; sleep 0.5; done
rm -f /mnt/s/big
# A write of whole pages over swapped ones does not read them back (issue
# 16): a 64-page file pushed out whole, 32 pages overwritten by one write
# (whole pages), 3 bytes written into another page (that one is read back):
# one swap-in, 32 overwrites, and the file reads back as it should.
dd if=/dev/urandom of=/tmp/ow bs=4k count=64 2>/dev/null
dd if=/dev/urandom of=/tmp/ow2 bs=4k count=32 2>/dev/null
cp /tmp/ow /mnt/s/ow
pushed_out /mnt/s/ow 262144 || ko srv-overwrite-no-readback "not all evicted"
si0=$(mstat swapins)
ow0=$(mstat overwrites)
dd if=/tmp/ow2 of=/mnt/s/ow bs=128k count=1 seek=0 conv=notrunc 2>/dev/null
printf abc | dd of=/mnt/s/ow bs=1 seek=163940 conv=notrunc 2>/dev/null
si=$(( $(mstat swapins) - ${si0:-0} ))
ow=$(( $(mstat overwrites) - ${ow0:-0} ))
dd if=/tmp/ow2 of=/tmp/ow bs=128k count=1 conv=notrunc 2>/dev/null
printf abc | dd of=/tmp/ow bs=1 seek=163940 conv=notrunc 2>/dev/null
check "srv-overwrite-no-readback (swapins=$si overwrites=$ow)" sh -c "[ $si = 1 ] && [ $ow = 32 ]"
check srv-overwrite-data cmp /tmp/ow /mnt/s/ow
rm -f /mnt/s/ow /tmp/ow /tmp/ow2
# Read-ahead of swapped pages (issue 16): a 256-page file pushed out whole
# and read in order asks the pages ahead of its swap-ins (swapins_ahead);
# POSIX_FADV_WILLNEED and MADV_WILLNEED ask for a range, nobody waiting;
# MADV_SEQUENTIAL reads ahead from the first swap-in of the mapping.
ra_willneed() {	# ra_willneed NAME [madv]: the first 32 pages come back
	pushed_out /mnt/s/ra 1048576 || { ko "$1" "not all evicted"; return; }
	a0=$(mstat swapins_ahead)
	/kt/chantest willneed /mnt/s/ra 0 131072 $2 >/tmp/ra.out 2>&1 || { ko "$1" "$(cat /tmp/ra.out)"; return; }
	n=0
	while ! swapped_is /mnt/s/ra 917504 && [ $n -lt 50 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	a=$(( $(mstat swapins_ahead) - ${a0:-0} ))
	if [ "$a" = 32 ] && swapped_is /mnt/s/ra 917504; then ok "$1 ($a asked)"; else
		ko "$1" "$a asked, $(/kt/chantest xattr /mnt/s/ra user.usm.stats | grep -o "swapped=[0-9]*")"; fi
}
dd if=/dev/urandom of=/tmp/ra bs=4k count=256 2>/dev/null
cp /tmp/ra /mnt/s/ra
if pushed_out /mnt/s/ra 1048576; then
	a0=$(mstat swapins_ahead)
	si0=$(mstat swapins)
	check srv-readahead-data cmp /tmp/ra /mnt/s/ra
	a=$(( $(mstat swapins_ahead) - ${a0:-0} ))
	si=$(( $(mstat swapins) - ${si0:-0} ))
	check "srv-readahead-sequential ($a of $si swap-ins asked ahead)" [ "$a" -ge 128 ]
else
	ko srv-readahead-sequential "not all evicted: $(/kt/chantest xattr /mnt/s/ra user.usm.stats)"
fi
ra_willneed srv-fadvise-willneed
ra_willneed srv-madvise-willneed madv
# MADV_SEQUENTIAL: the first swap-in of the mapping reads ahead already.
if pushed_out /mnt/s/ra 1048576; then
	a0=$(mstat swapins_ahead)
	/kt/chantest willneed /mnt/s/ra 0 1048576 seq >/tmp/ra.out 2>&1
	a=$(( $(mstat swapins_ahead) - ${a0:-0} ))
	check "srv-madvise-sequential ($a asked on the first fault)" [ "$a" -gt 0 ]
else
	ko srv-madvise-sequential "not all evicted"
fi
check srv-willneed-data cmp /tmp/ra /mnt/s/ra
rm -f /mnt/s/ra /tmp/ra
# Contiguous placement, mapped shared (holes: fallocate=none), on the share
# emptied: each 2 MiB window maps whole at its first fault (6.12 and later)
# until the share is full, then eviction takes pages out one by one and the
# rest goes 4 KiB at a time; fio verifies every block.
mkdir /mnt/s/c
/kt/chantest xattr /mnt/s/c user.usm.alloc contiguous
pm0=$(mstat window_maps)
check srv-fio-mmap-contiguous fio --name=c --directory=/mnt/s/c --size=12M --bs=4k \
	--rw=randwrite --ioengine=mmap --fallocate=none --verify=crc32c --do_verify=1 --numjobs=1
pm=$(( $(mstat window_maps) - ${pm0:-0} ))
rm -f /mnt/s/c/*
if /kt/stress hugeevict /mnt/s $STATS 12 >/tmp/he.out 2>&1; then
	ok "srv-huge-evict ($(cat /tmp/he.out) window maps; fio's: $pm)"
	pm=$((pm + $(cat /tmp/he.out)))
else
	ko srv-huge-evict "$(head -c 300 /tmp/he.out)"
fi
if [ "$HUGE_MAP" = 1 ]; then
	check "srv-window-maps ($pm)" [ "$pm" -gt 0 ]
else
	check "srv-window-maps-none ($pm)" [ "$pm" -eq 0 ]
fi
rm -rf /mnt/s/c
# Access sampling, without eviction pressure: a small file read again and
# again for 3 s while the sampler (every access_interval_ms) marks and
# unmaps its pages; each sampled page read again is one ACCESS event.  (The
# fio runs above evict so much that a sampled page is often evicted before
# it is read again: their count went from 17836 to 0 between runs.)
dd if=/dev/urandom of=/mnt/s/hot bs=4k count=64 2>/dev/null
for i in $(seq 30); do cat /mnt/s/hot >/dev/null; sleep 0.1; done
rm -f /mnt/s/hot
kill -TERM $srv
wait $srv
rc=$?
check srv-exit-0 [ $rc = 0 ]
# Access sampling: the last server heard of pages touched after sampling.
acc=$(grep "detached:" $SRV_LOG | tail -n 1 | sed -n 's/.* \([0-9]*\) accesses.*/\1/p')
if [ "${acc:-0}" -gt 0 ]; then ok "srv-access-sampled ($acc ACCESS events)"; else ko srv-access-sampled "$(grep detached: $SRV_LOG | tail -n 1)"; fi
rm -f /mnt/s/big
check srv-umount umount /mnt/s
check srv-no-swapin-timeouts sh -c '[ "$(dmesg | grep -c "swap-in of page .* timed out")" = "'"${tz_timeouts:-0}"'" ]'
rm -f /tmp/big /tmp/tail /tmp/tail2 /tmp/evict.out $SRV_STORE
