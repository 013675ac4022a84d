#!/bin/bash
# Run every unit test binary in $1 (optionally under the runner $2) and add
# up cmocka's counts.  Prints "unit: N passed, N failed"; exits 1 on failure.
set -u
dir=$1
runner=${2:-}
passed=0 failed=0
for t in "$dir"/test_*; do
	[ -x "$t" ] || continue
	log=$(mktemp)
	(cd "$dir" && $runner "$t") >"$log" 2>&1
	rc=$?
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed, sanitizer or valgrind error: count it
	fi
	if [ "$f" -ne 0 ]; then
		echo "FAIL $(basename "$t") (exit $rc)"
		sed 's/^/    /' "$log"
	else
		echo "ok   $(basename "$t"): $p passed"
	fi
	passed=$((passed + p)) failed=$((failed + f))
	rm -f "$log"
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
