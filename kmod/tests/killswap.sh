# kmod/tests/killswap.sh - sourced by guest.sh after server.sh (pool=32M,
# srv_start from there): usm-policyd killed with SIGKILL again and again
# while readers bring swapped pages back.  A slot stays its page's until
# the module has accepted SWAPIN_DONE, so a server killed between reading a
# slot and that answer leaves the page whole for the next one (with
# USMFS_F_RECOVERY the module asks it again): every byte read back is the
# byte written.
KS_LOG=/tmp/ks.log
KS_KILLS=${KS_KILLS:-12}
mkdir -p /mnt/k
dd if=/dev/urandom of=/tmp/ks bs=1M count=24 2>/dev/null
if mount -t usmfs -o size=6M,swapin_timeout=60s none /mnt/k; then
	SRV_LOG=$KS_LOG
	: >$SRV_LOG
	if srv_start; then ok srv-kill-start; else ko srv-kill-start "$(tail -c 300 $SRV_LOG)"; fi
	check srv-kill-write cp /tmp/ks /mnt/k/ks
	kills=0
	round=0
	# Rounds of two readers (read and mmap) with kills in between, at
	# moments that drift against the server's work.
	while [ $kills -lt "$KS_KILLS" ] && [ $round -lt 4 ]; do
		round=$((round + 1))
		cmp /tmp/ks /mnt/k/ks >/tmp/ks.c1 2>&1 &
		r1=$!
		/kt/chantest mapcmp /mnt/k/ks /tmp/ks >/tmp/ks.c2 2>&1 &
		r2=$!
		ks_n=0		# (srv_start uses n)
		while [ $ks_n -lt 3 ] && kill -0 $r1 2>/dev/null; do
			usleep $((200000 + (kills * 137000) % 700000)) 2>/dev/null || sleep 1
			kill -9 $srv
			wait $srv 2>/dev/null
			kills=$((kills + 1))
			ks_n=$((ks_n + 1))
			srv_start || { ko srv-kill-restart "$(tail -c 300 $SRV_LOG)"; break; }
		done
		wait $r1 || { ko srv-kill-read "round $round: $(head -c 300 /tmp/ks.c1)"; break; }
		wait $r2 || { ko srv-kill-mmap "round $round: exit $? $(head -c 300 /tmp/ks.c2)"; break; }
	done
	check "srv-kill-loop-intact ($kills kills, $round rounds)" cmp /tmp/ks /mnt/k/ks
	kill -TERM $srv
	wait $srv
	rm -f /mnt/k/ks
	umount /mnt/k
else
	ko srv-kill-mount "mount failed"
fi
rm -f /tmp/ks
