#!/bin/bash
# bench/check.sh: the eviction benchmarks' tools build warning-free with gcc
# and clang, and measure what they say on a small FUSE mount.  Checks only
# counts and consistency (pages evicted, swap-ins agreeing with the reads
# that missed, one fault per timed touch, nothing taken from the hot file),
# never a time.  Needs root and /dev/fuse.  Ends "bench-check: N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
usmfs=$top/usmfs/build/usmfs
work=$(mktemp -d /tmp/usmfs-bench-check.XXXXXX)
swapdir=$(mktemp -d "${BENCH_SWAPDIR:-/var/tmp}/usmfs-bench-check.XXXXXX")
pass=0
fail=0
mounts=()
pids=()

cleanup() {
	local m p
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$work" "$swapdir"
}
trap cleanup EXIT

ok() { echo "ok   $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# check NAME AWK-CONDITION LINE: the condition over the CSV line's fields
check() {
	if [ -n "$3" ] && echo "$3" | awk -F, "{ exit !($2) }"; then ok "$1"; else ko "$1" "${3:-no output}"; fi
}

mount_usmfs() {	# DIR OPTIONS
	local i
	mkdir -p "$1"
	"$usmfs" "$1" -f -o "$2" 2>"$work/usmfs.log" &
	pids+=($!)
	for i in $(seq 1 100); do
		mountpoint -q "$1" && { mounts+=("$1"); return 0; }
		sleep 0.1
	done
	cat "$work/usmfs.log" >&2
	return 1
}

[ -x "$usmfs" ] || { echo "bench-check: no $usmfs (make build)"; exit 1; }

flags="-std=gnu11 -O2 -Wall -Wextra -Werror"
for cc in gcc clang; do
	command -v $cc >/dev/null || { ko "build-$cc" "no $cc"; continue; }
	if $cc $flags -pthread -o "$work/evictbw.$cc" "$top/bench/evictbw.c" &&
	   $cc $flags -o "$work/evictlat.$cc" "$top/bench/evictlat.c" &&
	   $cc $flags -o "$work/swapinlat.$cc" "$top/bench/swapinlat.c" -lm &&
	   $cc $flags -o "$work/faultbench.$cc" "$top/bench/faultbench.c"; then
		ok "build-$cc"
	else
		ko "build-$cc" "warnings or errors above"
	fi
done
eb=$work/evictbw.gcc
el=$work/evictlat.gcc
sl=$work/swapinlat.gcc
[ -x "$eb" ] && [ -x "$el" ] && [ -x "$sl" ] || { echo "bench-check: $pass passed, $((fail + 1)) failed"; exit 1; }

m=$work/m
mount_usmfs "$m" "size=64M,evict=lru,swap=file:$swapdir/s.swap" || { echo "bench-check: mount failed"; exit 1; }

# 256 MiB through a 64 MiB mount: at least 256 - 64 MiB must have gone out
# (field 6 = evicted MiB, 7 = window s, 8 = MiB/s)
line=$("$eb" evict "$m" -w 128 -p 2 -S "$swapdir/s.swap" -l check)
check "evictbw-evict" '$2 == "evict" && $6 >= 192 && $6 <= 256 && $7 > 0 && $8 > 0' "$line"
line=$("$eb" base "$swapdir/base" -m 64 -l check)
check "evictbw-base" '$2 == "base" && $4 == 64 && $8 > 0 && $10 > 0 && $10 <= $8' "$line"

# hot-file faults: one fault per timed touch, evictions only in the busy
# phase, none from the hot file (fields: 3 touches, 4 faults/touch,
# 10 evictions, 11 hot evictions)
mount_usmfs "$work/ctl" "size=256M" || { echo "bench-check: mount failed"; exit 1; }
"$el" "$m" -d 1 -C "$work/ctl" -l check >"$work/el.out" 2>"$work/el.err"
check "evictlat-idle" '$2 == "idle" && $3 > 0 && $4 >= 0.9 && $4 <= 1.2 && $11 == 0' "$(grep ',idle,' "$work/el.out")"
check "evictlat-busy-evicts" '$2 == "busy" && $3 > 0 && $4 >= 0.9 && $4 <= 1.2 && $10 > 0 && $11 == 0' "$(grep ',busy,' "$work/el.out")"
check "evictlat-control" '$2 == "control" && $3 > 0 && $11 == 0' "$(grep ',control,' "$work/el.out")"
check "evictlat-ratio" '$2 == "ratio" && $3 > 0 && $4 > 0' "$(grep ',ratio,' "$work/el.out")"
[ -s "$work/el.err" ] && sed 's/^/     /' "$work/el.err"
leftover=$(ls "$m")
[ -z "$leftover" ] && ok "evictlat-cleans-up" || ko "evictlat-cleans-up" "$leftover"

# swap-ins: every read that missed the page cache is one swap-in
# (fields: 3 reads, 4 swapin %, 13 swapins / misses)
line=$("$sl" "$m" -w 128 -d 2 -l check)
check "swapinlat" '$3 > 0 && $4 > 0 && $13 >= 0.9 && $13 <= 1.1' "$line"

umount "$m"
mount_usmfs "$work/r" "size=256M,evict=lru,swap=file:$swapdir/r.swap" || { echo "bench-check: mount failed"; exit 1; }
line=$("$eb" reclaim "$work/r" -m 64 -S "$swapdir/r.swap" -l check)
check "evictbw-reclaim" '$2 == "reclaim" && $6 == 64 && $7 > 0' "$line"

echo "bench-check: $pass passed, $fail failed"
[ $fail -eq 0 ]
