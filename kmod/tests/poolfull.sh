# kmod/tests/poolfull.sh - sourced by guest.sh after server.sh (pool=32M,
# /mnt/u unmounted meanwhile): reads of evicted pages while the pool is
# full and usm-policyd is stopped (SIGSTOP) for a few seconds wait for it
# and succeed once it continues (SIGCONT): no EIO, no SIGBUS, data
# verified byte for byte (kmod/swapin.c, usmfs_take_frame); a reader
# killed meanwhile leaves the file intact.
PF_LOG=/tmp/pf.log
mkdir -p /mnt/f
dd if=/dev/urandom of=/tmp/pf bs=1M count=40 2>/dev/null
if mount -t usmfs -o swapin_timeout=60s none /mnt/f; then
	SRV_LOG=$PF_LOG
	: >$SRV_LOG
	if srv_start; then ok srv-full-start; else ko srv-full-start "$(tail -c 300 $SRV_LOG)"; fi
	check srv-full-write cp /tmp/pf /mnt/f/pf
	dmesg -c >/dev/null 2>&1
	kill -STOP $srv
	# Fill what eviction freed: the pool is full while the server sleeps,
	# and every swap-in needs room first.
	dd if=/dev/zero of=/mnt/f/fill bs=1M count=12 2>/tmp/pf.dd &
	fill=$!
	sleep 2
	free0=$(stat_of free)
	cmp /tmp/pf /mnt/f/pf >/tmp/pf.c1 2>&1 &
	r1=$!
	/kt/chantest mapcmp /mnt/f/pf /tmp/pf >/tmp/pf.c2 2>&1 &
	r2=$!
	# A reader killed while its swap-ins wait: their frames stay theirs
	# until the server answers (kmod/swapin.c).
	dd if=/mnt/f/pf of=/dev/null bs=64k skip=300 2>/dev/null &
	k=$!
	sleep 2
	kill -KILL $k
	sleep 3
	free1=$(stat_of free)
	kill -CONT $srv
	if wait $r1; then ok "srv-full-read-waits (free $free0 -> $free1 while stopped)"; else ko srv-full-read-waits "$(head -c 300 /tmp/pf.c1)"; fi
	if wait $r2; then ok srv-full-mmap-waits; else ko srv-full-mmap-waits "exit $? $(head -c 300 /tmp/pf.c2)"; fi
	if wait $fill; then ok srv-full-fill-waits; else ko srv-full-fill-waits "$(head -c 300 /tmp/pf.dd)"; fi
	wait $k 2>/dev/null
	check srv-full-killed-reader-intact cmp /tmp/pf /mnt/f/pf
	check srv-full-no-timeouts sh -c '! dmesg | grep "swap-in of page"'
	kill -TERM $srv
	wait $srv
	rm -f /mnt/f/pf /mnt/f/fill
	umount /mnt/f
else
	ko srv-full-mount "mount failed"
fi
rm -f /tmp/pf
