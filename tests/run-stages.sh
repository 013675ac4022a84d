#!/bin/bash
# Run test stages given as "NAME:COMMAND", each to the end even when an
# earlier one failed.  A stage reports its own count with a line
# "NAME: N passed, N failed"; a stage without one counts as 1 passed or 1
# failed by its exit status, and a non-zero exit always counts a failure.
# Ends with the total "N passed, N failed" and exits 1 on any failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
logdir=${TEST_LOGDIR:-$top/build/test-logs}
mkdir -p "$logdir"
total_p=0 total_f=0
summary=""
for spec in "$@"; do
	name=${spec%%:*}
	cmd=${spec#*:}
	log=$logdir/$name.log
	echo "=== stage $name: $cmd"
	start=$(date +%s)
	bash -c "$cmd" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	secs=$(( $(date +%s) - start ))
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
	summary+=$(printf '%-10s %4d passed, %3d failed  (%ss, exit %d)' "$name" "$p" "$f" "$secs" "$rc")$'\n'
done
echo
echo "=== summary"
printf '%s' "$summary"
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
