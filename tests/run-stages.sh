#!/bin/bash
# Run test stages given as "NAME:COMMAND", each to the end even when an
# earlier one failed.  A stage reports its own count with a line
# "NAME: N passed, N failed"; a stage without one counts as 1 passed or 1
# failed by its exit status, and a non-zero exit always counts a failure.
# Ends with the total "N passed, N failed" and exits 1 on any failure.
#
# No stage may hang the run: each runs under timeout(1), which ends its
# whole process group (a FUSE daemon among them: what blocked on its mount
# then fails with ENOTCONN).  A stage's limit is STAGE_TIMEOUT seconds
# (default 1800) or its own, written "NAME@SECONDS:COMMAND".  With
# TEST_DEADLINE (seconds since the epoch: .ci/run sets it from CI's 90
# minutes) no stage runs past it: one that would is cut short, and one
# that can no longer start is counted failed ("not run"), so the summary
# is always printed, after the first failure lines of each failed stage.
#
# A limit is there to end a hang, not a slow run: on a host busy with other
# work (a 1-minute load average of at least twice its CPUs when the stage
# starts) it is multiplied by 1 + load / (2 x CPUs), at most 4 (the guests
# derive their own bounds from their measured speed the same way); the
# deadline still bounds it.  On a host running make test alone the load of
# its own guests stays under that and the limits are as written.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=${TEST_LOGDIR:-$top/build/test-logs}
mkdir -p "$logdir"
total_p=0 total_f=0
summary=""
failed_stages=""
# end_leftovers TAG NAME: kill what stage NAME left running.  timeout(1)
# ends its own process group only, and a guest runs under a timeout of its
# own (another group): a stage stopped at its limit left its QEMU guest
# running for up to the guest's own bound, slowing every later stage.
# Every process a stage starts inherits USMFS_STAGE=TAG.
# Sets left to what it killed ("PID NAME ...").
end_leftovers() {
	local pids
	left=
	pids=$(grep -l -s -z -x "USMFS_STAGE=$1" /proc/[0-9]*/environ | cut -d/ -f3)
	[ -n "$pids" ] || return 0
	left=$(ps -o pid=,comm= -p "$(echo $pids | tr ' ' ,)" | tr -s ' \n' ' ')
	kill -9 $pids 2>/dev/null
}
# busy_factor: what a stage's limit is multiplied by now (1 to 4)
busy_factor() {
	awk -v n="$(nproc)" '{ f = 1 + int($1 / (2 * n)); print (f > 4 ? 4 : f) }' /proc/loadavg
}
for spec in "$@"; do
	name=${spec%%:*}
	cmd=${spec#*:}
	limit=${STAGE_TIMEOUT:-1800}
	case $name in *@*) limit=${name#*@} name=${name%%@*} ;; esac
	busy=$(busy_factor)
	stretched=
	if [ "$busy" -gt 1 ]; then
		limit=$((limit * busy))
		stretched=", x$busy: load $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs"
	fi
	log=$logdir/$name.log
	start=$(date +%s)
	if [ -n "${TEST_DEADLINE:-}" ]; then
		left=$(( TEST_DEADLINE - start ))
		if [ "$left" -lt 60 ]; then
			echo "=== stage $name: not run, the deadline has passed"
			echo "$name: 0 passed, 1 failed (not run: the deadline passed)" | tee "$log"
			total_f=$((total_f + 1))
			summary+=$(printf '%-10s %4d passed, %3d failed  (not run: deadline)' "$name" 0 1)$'\n'
			continue
		fi
		[ "$left" -lt "$limit" ] && limit=$left
	fi
	echo "=== stage $name (at most ${limit}s$stretched): $cmd"
	tag=$name.$$.$start
	# (through a FIFO, not a pipe: tee would wait for every process that
	# holds the pipe, leftovers too; end_leftovers runs first)
	fifo=$logdir/.$name.fifo
	rm -f "$fifo" && mkfifo "$fifo"
	tee "$log" <"$fifo" &
	teepid=$!
	USMFS_STAGE=$tag timeout -k 30 "$limit" bash -c "$cmd" >"$fifo" 2>&1
	rc=$?
	end_leftovers "$tag" "$name"
	wait "$teepid"
	rm -f "$fifo"
	secs=$(( $(date +%s) - start ))
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "=== stage $name: stopped after ${secs}s (its limit ${limit}s)" | tee -a "$log"
	fi
	[ -n "$left" ] && echo "=== stage $name: ended what it left running: $left" | tee -a "$log"
	line=$(grep -E '^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^[^:]*: ([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[^:]*: [0-9]+ passed, ([0-9]+) failed.*/\1/')
	elif [ "$rc" -eq 0 ]; then
		p=1 f=0
	else
		p=0 f=1
	fi
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	total_p=$((total_p + p)) total_f=$((total_f + f))
	[ "$f" -ne 0 ] && failed_stages+=" $name"
	summary+=$(printf '%-10s %4d passed, %3d failed  (%ss, exit %d)' "$name" "$p" "$f" "$secs" "$rc")$'\n'
done
# What failed, near the end of the output where a truncated log still
# shows it: each failed stage's first failure lines.
for name in $failed_stages; do
	echo
	echo "=== why $name failed (first lines that say so; all in $logdir/$name.log)"
	grep -E 'FAIL|ERROR|error:|LINE  |MISMATCH|Sanitizer|runtime error|timed out|stopped after' \
		"$logdir/$name.log" | grep -vE '^ok |, 0 failed' | head -n 25
done
echo
echo "=== summary"
printf '%s' "$summary"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
