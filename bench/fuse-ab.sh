#!/bin/bash
# bench/fuse-ab.sh - one or more usmfs FUSE daemons against tmpfs, in one run.
#
#   bench/fuse-ab.sh [-j "JOBS"] [-e "ENGINES"] [-n "NJOBS"] [-o OPTS] [-c] DAEMON...
#
# Mounts a tmpfs (2G) and each DAEMON (usmfs binaries, e.g. main's and a
# branch's) with -o OPTS (default size=2G, as bench/run.sh), then runs each
# fio job of bench/fio/ on tmpfs and on every daemon's mount in turn, so the
# ratios of one line come from the same minute.  Read and mixed jobs get
# --pre_read=1 (fio's layout drops the page cache; see bench/README.md)
# unless -c (cold: what the daemon's read path gives).  SIZE (256M) and
# RUNTIME (4) from the environment.  Needs root.  Prints MiB/s(ratio).
set -u
jobs="seq-write seq-read rand-read" engines="psync mmap" njobs="1 2"
opts=size=2G cold=0
while getopts "j:e:n:o:c" o; do
	case $o in
	j) jobs=$OPTARG ;; e) engines=$OPTARG ;; n) njobs=$OPTARG ;;
	o) opts=$OPTARG ;; c) cold=1 ;;
	*) sed -n '2,13p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
w=$(mktemp -d /tmp/usmfs-ab.XXXXXX)
mounts=()
cleanup() {
	local m
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
	wait
	rm -rf "$w"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$w/tmpfs"
mount -t tmpfs -o size=2G none "$w/tmpfs" && mounts+=("$w/tmpfs") || exit 1
names=(tmpfs)
i=0
for b in "$@"; do
	i=$((i + 1))
	mkdir -p "$w/u$i"
	"$b" "$w/u$i" -f -o "$opts" 2>"$w/u$i.log" &
	for t in $(seq 50); do mountpoint -q "$w/u$i" && break; sleep 0.1; done
	mountpoint -q "$w/u$i" || { echo "fuse-ab: $b did not mount" >&2; cat "$w/u$i.log" >&2; exit 1; }
	mounts+=("$w/u$i")
	names+=("u$i")
	echo "u$i = $b -o $opts"
done
printf '%-10s %-6s %2s' job engine nj
for n in "${names[@]}"; do printf ' %16s' "$n"; done
echo
for j in $jobs; do
	pre=
	[ $cold = 0 ] && case $j in *-write) ;; *) pre=--pre_read=1 ;; esac
	for e in $engines; do
		for n in $njobs; do
			printf '%-10s %-6s %2s' "$j" "$e" "$n"
			base=
			for fs in "${names[@]}"; do
				DIR=$w/$fs SIZE=${SIZE:-256M} ENGINE=$e NUMJOBS=$n RUNTIME=${RUNTIME:-4} \
					fio $pre --output-format=json --output="$w/o.json" \
					"$top/bench/fio/$j.fio" >/dev/null 2>&1
				bw=$(python3 "$top/bench/fio-summary.py" "$w/o.json" 2>/dev/null | cut -d, -f1)
				bw=${bw:-0}
				rm -f "$w/$fs/$j"* "$w/o.json"
				[ -z "$base" ] && base=$bw
				printf ' %16s' "$bw($(awk -v a="$bw" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'))"
			done
			echo
		done
	done
done
