#!/bin/bash
# bench/check.sh: the benchmarks' own code, cheaply (seconds; a stage of
# make test).  The scripts parse (bash, and POSIX sh for the guest's), the
# parsers of bench/lib.sh and fio-summary.py give the expected CSV rows
# and ratios for fixed input, plot.sh draws its PNGs; then the eviction
# tools build warning-free with gcc and clang and measure what they say on
# a small FUSE mount.  Checks only counts and consistency there (pages
# evicted, swap-ins agreeing with the reads that missed, one fault per
# timed touch, nothing taken from the hot file), never a time.  Needs root
# and /dev/fuse.  Ends "bench-check: N passed, N failed".
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

# same NAME EXPECTED ACTUAL
same() {
	if [ "$2" = "$3" ]; then ok "$1"; else ko "$1" "expected [$2], got [$3]"; fi
}

# ---- the scripts: syntax, and the parsers and plots on fixed input (no
# root, no mount: a change that breaks a CSV column or a ratio shows here).
bad=0
for f in "$top"/bench/*.sh; do
	bash -n "$f" 2>"$work/syntax.err" ||
		{ ko "syntax-$(basename "$f")" "$(head -n 3 "$work/syntax.err")"; bad=1; }
done
# the guest's PID 1 runs under busybox sh: POSIX sh
sh -n "$top/bench/vm-guest.sh" 2>"$work/syntax.err" ||
	{ ko "syntax-vm-guest.sh-posix" "$(head -n 3 "$work/syntax.err")"; bad=1; }
[ $bad = 0 ] && ok "syntax"
. "$top/bench/lib.sh"

# fio terse v3 lines as the guest prints them: FS READ_KIB READ_BWKIB
# READ_IOPS P50 P99 WRITE_KIB WRITE_BWKIB WRITE_IOPS WP50 WP99
terse() {
	awk -v fs="$1" -v rk="$2" -v rb="$3" -v ri="$4" -v r50="$5" -v r99="$6" \
	    -v wk="$7" -v wb="$8" -v wi="$9" -v w50="${10}" -v w99="${11}" 'BEGIN {
		for (i = 1; i <= 130; i++) t[i] = 0
		t[1] = 3; t[2] = "3.33"; t[3] = "job"
		t[6] = rk; t[7] = rb; t[8] = ri; t[47] = wk; t[48] = wb; t[49] = wi
		for (i = 0; i < 20; i++) { t[18 + i] = "1.000000%=1"; t[59 + i] = "1.000000%=1" }
		t[24] = "50.000000%=" r50; t[30] = "99.000000%=" r99
		t[65] = "50.000000%=" w50; t[71] = "99.000000%=" w99
		printf "vmb: fio,%s,psync,1,%s,", (wk > rk ? "seq-write" : "seq-rw70"), fs
		for (i = 1; i <= 130; i++) printf "%s%s", t[i], (i < 130 ? ";" : "\n")
	}'
}
{
	terse tmpfs 7000 204800 51200 10 20 3000 102400 25600 30 60
	terse usmfs 7000 102400 25600 12 40 3000 51200 12800 31 61
	terse usmfs 7000 153600 38400 14 60 3000 51200 12800 31 61	# a second run: means
	terse tmpfs 1000 10240 2560 5 9 9000 92160 23040 7 8		# more written: write percentiles
	echo "vmb: fio,short,psync,1,tmpfs,3;1;2"			# cut short: skipped
	echo "vmb: fault,tmpfs,first,2.0000,1024.00,100"
	echo "vmb: fault,tmpfs,refault,1.0000,512.00,100"
	echo "vmb: fault,hugetlbfs,first,0.2500,128.00,2"
	echo "vmb: fault,usmfs-contiguous,first,0.5000,256.00,100"
	echo "vmb: fault,usmfs-contiguous,refault,0.0000,0.00,0"
	echo "vmb: evlat,7,idle,1000,1.00,4000,4100,10000,50000,4200,0,0,4000,10000"
	echo "vmb: evlat,7,busy,900,1.00,4400,4600,15000,90000,5000,1234,0,4400,15000"
	echo "vmb: evlat,7,ratio,1.10,1.50,,"
} >"$work/guest.log"
parse_fio 7 "$work/guest.log" >"$work/fio.rows"
same "parse-fio" "7,seq-rw70,psync,1,tmpfs,300.0,76800,10.00,20.00
7,seq-rw70,psync,1,usmfs,175.0,44800,13.00,50.00
7,seq-write,psync,1,tmpfs,100.0,25600,7.00,8.00" "$(cat "$work/fio.rows")"
same "ratios-fio" "1.00 0.58 1.00" "$(ratios_fio "$work/fio.rows" | awk -F, '{ printf "%s%s", (NR > 1 ? " " : ""), $10 }')"
same "parse-faults" "7,tmpfs,first,2.0000,1024.00,100,1.00,0.12
7,tmpfs,refault,1.0000,512.00,100,1.00,nan
7,hugetlbfs,first,0.2500,128.00,2,8.00,1.00
7,usmfs-contiguous,first,0.5000,256.00,100,4.00,0.50
7,usmfs-contiguous,refault,0.0000,0.00,0,nan,nan" "$(parse_faults 7 "$work/guest.log")"
same "parse-evlat" "7,idle,1000,1.00,4000,4100,10000,50000,4200,0,0,4000,10000,1.00,1.00
7,busy,900,1.00,4400,4600,15000,90000,5000,1234,0,4400,15000,1.10,1.50" "$(parse_evlat "$work/guest.log")"

# metabench rounds: medians per filesystem and operation, ratio to tmpfs
same "meta-medians" "tmpfs,create,10,3,200.0,5.000,1.000,4.5
usmfs,create,10,3,20.0,50.000,0.100,4.5
usmfs,stat,10,1,7.0,1.000,nan,4.5" "$(printf '%s\n' tmpfs,create,10,0.1,100,10 usmfs,create,10,1,10,100 \
	tmpfs,create,10,0.1,300,3.3 usmfs,create,10,1,20,50 tmpfs,create,10,0.1,200,5 \
	usmfs,create,10,1,30,33 usmfs,stat,10,1,7,1 | meta_medians 4.5)"

# fio-summary.py on a JSON document as fio writes it (a warning first)
cat >"$work/fio.json" <<'JSON'
fio: a warning first
{ "jobs": [ { "read": { "bw": 2048, "iops": 512.4, "total_ios": 100,
    "clat_ns": { "percentile": { "50.000000": 3000, "99.000000": 9000 } } },
  "write": { "bw": 1024, "iops": 256.2, "total_ios": 300,
    "clat_ns": { "percentile": { "50.000000": 5000, "99.000000": 70000 } } } } ] }
JSON
same "fio-summary" "3.0,769,5.00,70.00" "$(python3 "$top/bench/fio-summary.py" "$work/fio.json" 2>&1)"

# plot.sh draws a PNG from each CSV (gnuplot, as make bench does)
mkdir -p "$work/res"
{
	echo "frontend,job,engine,numjobs,fs,bw_MiBps,iops,lat_p50_us,lat_p99_us,ratio"
	echo "fuse,seq-read,psync,1,tmpfs,100.0,100,1.00,2.00,1.00"
	echo "fuse,seq-read,psync,1,usmfs,80.0,80,1.00,2.00,0.80"
} >"$work/res/fio.csv"
{
	echo "fs,measure,us_per_4k,us_per_2m,faults,ratio_vs_tmpfs"
	echo "tmpfs,first,2.0,1024,100,1.00"
	echo "usmfs-fuse-firstfit,first,4.0,2048,100,0.50"
} >"$work/res/faults.csv"
{
	echo "trace,cache_pct,policy,miss_ratio"
	echo "zipf-0.8,10,lru,0.6"
	echo "zipf-0.8,10,s3fifo,0.5"
} >"$work/res/replay.csv"
{
	echo "fs,op,count,rounds,ops_per_s,us_per_op,ratio_vs_tmpfs,load1"
	echo "tmpfs,create,10,3,200.0,5.000,1.000,4.5"
	echo "usmfs,create,10,3,20.0,50.000,0.100,4.5"
} >"$work/res/meta.csv"
sed 's/seq-read,psync/rand-write,io_uring/' "$work/res/fio.csv" >"$work/res/smallw.csv"
if ! command -v gnuplot >/dev/null; then
	ko "plot" "no gnuplot (package gnuplot-nox)"
elif "$top/bench/plot.sh" "$work/res" >"$work/plot.err" 2>&1 &&
     [ -s "$work/res/fio.png" ] && [ -s "$work/res/faults.png" ] && [ -s "$work/res/replay.png" ] &&
     [ -s "$work/res/meta.png" ] && [ -s "$work/res/smallw.png" ]; then
	ok "plot"
else
	ko "plot" "$(head -n 5 "$work/plot.err")"
fi

# ---- the eviction tools on a small FUSE mount
[ -x "$usmfs" ] || { ko "usmfs" "no $usmfs (make build)"; echo "bench-check: $pass passed, $fail failed"; exit 1; }

flags="-std=gnu11 -O2 -Wall -Wextra -Werror"
for cc in gcc clang; do
	command -v $cc >/dev/null || { ko "build-$cc" "no $cc"; continue; }
	if $cc $flags -pthread -o "$work/evictbw.$cc" "$top/bench/evictbw.c" &&
	   $cc $flags -o "$work/evictlat.$cc" "$top/bench/evictlat.c" &&
	   $cc $flags -o "$work/swapinlat.$cc" "$top/bench/swapinlat.c" -lm &&
	   $cc $flags -o "$work/faultbench.$cc" "$top/bench/faultbench.c" &&
	   $cc $flags -o "$work/metabench.$cc" "$top/bench/metabench.c"; then
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

# metabench: a line per operation, every call checked by the tool itself
# (the appends' file size too); it leaves nothing behind
"$work/metabench.gcc" "$m" -n 50 -a 100 -l check >"$work/mb.out" 2>&1
same "metabench" "check,create,50 check,stat,50 check,chmod,50 check,rename,50 check,unlink,50 check,owc,50 check,append,100" \
	"$(cut -d, -f1-3 "$work/mb.out" | tr '\n' ' ' | sed 's/ $//')"
leftover=$(ls -d "$m"/mb.* 2>/dev/null)
[ -z "$leftover" ] && ok "metabench-cleans-up" || ko "metabench-cleans-up" "$leftover"

umount "$m"
mount_usmfs "$work/r" "size=256M,evict=lru,swap=file:$swapdir/r.swap" || { echo "bench-check: mount failed"; exit 1; }
line=$("$eb" reclaim "$work/r" -m 64 -S "$swapdir/r.swap" -l check)
check "evictbw-reclaim" '$2 == "reclaim" && $6 == 64 && $7 > 0' "$line"

echo "bench-check: $pass passed, $fail failed"
[ $fail -eq 0 ]
