#!/bin/bash
# bench/swapcmp.sh [--quick]: usmfs's FUSE daemon against what a user would
# do instead, at the same memory budget (issue 16): tmpfs in a memory cgroup
# limited to the budget, with a swap file on the same disk as usmfs's store
# (the kernel's reclaim as it ships).  Called by bench/run.sh (part
# swapcmp); writes $BENCH_RES/swapcmp.csv and prints a table.
#
# Configurations, each workload in a fresh memory cgroup of its own:
#   tmpfs-swap     tmpfs; the cgroup's limit is the budget (tmpfs pages and
#                  the program's own memory), swap: a file this script makes
#                  in $BENCH_SWAPDIR (swapon, swapoff and removed at the end)
#   usmfs-default  usmfs size=POOL (SC_POOL_PCT % of the budget, default
#                  75), evict=s3fifo (the default), store file:... in the
#                  same directory; the cgroup's limit is the rest of the
#                  budget: the kernel's page cache in front of the FUSE
#                  mount and the program's own memory count against the
#                  budget there (the daemon's pool is its anonymous memory,
#                  outside the cgroup, bounded by size=)
#   usmfs-best     as usmfs-default, with the policy or the hint that suits
#                  the workload (the "best" column says which)
# Workloads (the budget B): fio random reads Zipf(1.1) over 2B; a sequential
# scan of 4B mixed with random reads of a hot file of B/4; sqlite3 in WAL
# mode (rows of 1 KiB, about 1.4B of database and WAL: insert, update,
# delete, checkpoint, VACUUM, integrity_check, row counts checked); numpy
# memmap (python3-numpy; skipped without it): an array of 2B filled, two
# summing passes, random gathers from its first eighth, checked.
# Figures per run: runtime (setup of the files not counted), major faults
# of the cgroup, swap-ins (tmpfs: pswpin of /proc/vmstat; usmfs: the
# mount's swapins), pages evicted (pswpout; evictions), bytes the store got
# (tmpfs: pswpout pages; usmfs: the mount's store_written, what the daemon
# handed its store; not /proc/PID/io's write_bytes, which counts a whole
# large folio of the store file's page cache each time a 4 KiB page of it
# is dirtied: 2.5-3.9x the bytes written on ext4 with large folios, 6.18),
# store bytes per byte evicted, and the runtime as a ratio of tmpfs-swap.
# Each figure is the run of median runtime of SC_REPS (quick 1, else 3).
# SC_BUDGET_MIB (quick 64, else 256), SC_POOL_PCT, SC_WORKLOADS (names).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
res=${BENCH_RES:-$top/bench/results}
quick=0
[ "${1:-}" = --quick ] && quick=1
budget=$([ $quick = 1 ] && echo 64 || echo 256)	# MiB
budget=${SC_BUDGET_MIB:-$budget}
pool=$((budget * ${SC_POOL_PCT:-75} / 100))
reps=${SC_REPS:-$([ $quick = 1 ] && echo 1 || echo 3)}	# runs per figure, median kept
usmfs=${BENCH_USMFS:-$top/usmfs/build/usmfs}
cgv1=/sys/fs/cgroup/memory
work=$(mktemp -d /tmp/usmfs-swapcmp.XXXXXX)
swapdir=$(mktemp -d "${BENCH_SWAPDIR:-/var/tmp}/usmfs-swapcmp.XXXXXX") || exit 1
swapfile=
mnt=
dpid=
cg=

progress() { printf '[%s] swapcmp: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
cg_rm() {
	[ -n "$cg" ] && [ -d "$cg" ] || return 0
	while read -r p; do kill -9 "$p" 2>/dev/null; done <"$cg/cgroup.procs"
	sleep 0.2
	rmdir "$cg" 2>/dev/null
	cg=
}
unmount() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
		[ -n "$dpid" ] && wait "$dpid" 2>/dev/null
	fi
	mnt= dpid=
}
cleanup() {
	cg_rm
	unmount
	[ -n "$swapfile" ] && swapoff "$swapfile" 2>/dev/null
	rm -rf "$work" "$swapdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -d "$cgv1" ] && [ -w "$cgv1" ] ||
	{ echo "swapcmp: needs the cgroup v1 memory controller at $cgv1 (writable)" >&2; exit 1; }
[ -x "$usmfs" ] || { echo "swapcmp: $usmfs not built (make build)" >&2; exit 1; }
for p in fio sqlite3 python3; do
	command -v $p >/dev/null || { echo "swapcmp: $p missing" >&2; exit 1; }
done
# python3 with numpy (Debian's python3-numpy is /usr/bin/python3's)
numpy=0 py=python3
for p in python3 /usr/bin/python3; do
	"$p" -c 'import numpy' 2>/dev/null && { numpy=1 py=$p; break; }
done

# The swap file: 8x the budget, on the disk of the store.
swapfile=$swapdir/swapcmp.swap
dd if=/dev/zero of="$swapfile" bs=1M count=$((budget * 8)) status=none &&
	chmod 600 "$swapfile" && mkswap "$swapfile" >/dev/null && swapon "$swapfile" ||
	{ echo "swapcmp: swapon $swapfile failed" >&2; swapfile=; exit 1; }

vmstat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/vmstat; }
cg_new() {	# cg_new LIMIT_MIB: a fresh memory cgroup, in $cg
	cg=$cgv1/usmfs-swapcmp-$$
	mkdir "$cg" || exit 1
	echo $(($1 << 20)) >"$cg/memory.limit_in_bytes"
	# swap as far as the machine has it (the limit is on memory only)
	echo -1 >"$cg/memory.memsw.limit_in_bytes" 2>/dev/null
}
cg_majflt() { awk '$1 == "total_pgmajfault" || $1 == "pgmajfault" { print $2; exit }' "$cg/memory.stat"; }
# in_cg CMD...: run CMD in the cgroup; its status
in_cg() { bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$cg" "$@"; }
mstat() { getfattr --only-values -n user.usm.stats "$mnt" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ---- workloads: WL_setup DIR (not timed), WL_run DIR (timed), in the cgroup
fio_common() { echo --ioengine=psync --bs=4k --direct=0 --thread=0 --group_reporting; }
zipf_setup() { in_cg fio --name=z --directory="$1" --size=$((budget * 2))M --rw=write --bs=1M $(fio_common | sed 's/--bs=4k//') >/dev/null; }
zipf_run() {
	in_cg fio --name=z --directory="$1" --size=$((budget * 2))M --rw=randread \
		--random_distribution=zipf:1.1 --io_size=$((budget * 2))M $(fio_common) >/dev/null
}
scan_setup() {
	[ -n "${hint:-}" ] && touch "$1/hot" && setfattr -n "${hint%%=*}" -v "${hint#*=}" "$1/hot"
	in_cg dd if=/dev/urandom of="$1/hot" bs=1M count=$((budget / 4)) status=none &&
		in_cg dd if=/dev/zero of="$1/scan" bs=1M count=$((budget * 4)) status=none
}
scan_run() {
	in_cg fio --name=hot --filename="$1/hot" --size=$((budget / 4))M --rw=randread \
		--io_size=$((budget * 2))M $(fio_common) --name=scan --filename="$1/scan" \
		--size=$((budget * 4))M --rw=read --bs=64k --ioengine=psync >/dev/null
}
sql_rows() { echo $((budget * 625)); }
sqlite_setup() { sh "$top/tests/vm/sql-work.sh" "$(sql_rows)" >"$work/w.sql"; }
sqlite_run() {
	in_cg sqlite3 "$1/db" <"$work/w.sql" >"$work/sq.out" 2>&1 || return 1
	sh "$top/tests/vm/sql-work.sh" "$(sql_rows)" --want | cmp -s - "$work/sq.out" ||
		{ echo "swapcmp: sqlite3 said: $(tr '\n' ' ' <"$work/sq.out" | head -c 200)" >&2; return 1; }
}
numpy_setup() { :; }
numpy_run() { in_cg "$py" "$top/bench/swapcmp-numpy.py" "$1/arr" $((budget * 2)); }

# one CONFIG WORKLOAD: a row of the CSV
one() {
	local conf=$1 wl=$2 d=$work/mnt lim best="" t0 t1 mf si ev wb rc=0 w0
	hint=
	mkdir -p "$d"
	case $conf in
	tmpfs-swap)
		mount -t tmpfs -o size=$((budget * 8))M none "$d" || return 1
		mnt=$d
		lim=$budget ;;
	usmfs-*)
		local evict=s3fifo
		if [ "$conf" = usmfs-best ]; then
			case $wl in
			zipf) best="s3fifo (the default; no hot set to hint)" ;;
			scan) hint=user.usm.prio=7; best="hot file user.usm.prio=7" ;;
			sqlite) evict=lru; best="evict=lru" ;;
			numpy) evict=lru; best="evict=lru" ;;
			esac
		fi
		"$usmfs" "$d" -f -o "size=${pool}M,evict=$evict,swap=file:$swapdir/store" \
			2>"$work/usmfs.log" &
		dpid=$!
		for _ in $(seq 100); do mountpoint -q "$d" && break; sleep 0.1; done
		mountpoint -q "$d" || { echo "swapcmp: usmfs did not mount" >&2; cat "$work/usmfs.log" >&2; return 1; }
		mnt=$d
		lim=$((budget - pool)) ;;
	esac
	cg_new "$lim"
	"${wl}_setup" "$d" || { echo "swapcmp: $wl setup on $conf failed" >&2; rc=1; }
	sync
	mf=$(cg_majflt) si=$(vmstat_of pswpin) ev=$(vmstat_of pswpout)
	if [ "$conf" != tmpfs-swap ]; then
		si=$(mstat swapins) ev=$(mstat evictions) w0=$(mstat store_written)
	fi
	t0=$(date +%s.%N)
	[ $rc = 0 ] && { "${wl}_run" "$d" || { echo "swapcmp: $wl on $conf failed" >&2; rc=1; }; }
	t1=$(date +%s.%N)
	mf=$(($(cg_majflt) - mf))
	if [ "$conf" = tmpfs-swap ]; then
		si=$(($(vmstat_of pswpin) - si)) ev=$(($(vmstat_of pswpout) - ev))
		wb=$((ev * 4096))
	else
		si=$(($(mstat swapins) - si)) ev=$(($(mstat evictions) - ev))
		wb=$(($(mstat store_written) - w0))
	fi
	cg_rm
	unmount
	rm -f "$swapdir/store"
	[ $rc = 0 ] || return 1
	awk -v c="$conf" -v w="$wl" -v t0="$t0" -v t1="$t1" -v mf="$mf" -v si="$si" -v ev="$ev" \
		-v wb="$wb" -v b="$budget" -v p="$([ "$conf" = tmpfs-swap ] && echo 0 || echo $pool)" -v best="$best" \
		'BEGIN { printf "%s,%s,%d,%d,%.2f,%d,%d,%d,%d,%.2f,%s\n", w, c, b, p, t1 - t0, mf, si, ev, wb,
			(ev > 0 ? wb / (ev * 4096) : 0), best }'
}

mkdir -p "$res"
csv=$res/swapcmp.csv
wls=${SC_WORKLOADS:-"zipf scan sqlite"}
[ $numpy = 1 ] && [ -z "${SC_WORKLOADS:-}" ] && wls="$wls numpy"
[ $numpy = 1 ] || progress "python3-numpy missing: numpy left out"
progress "budget ${budget} MiB (usmfs: pool ${pool} MiB + $((budget - pool)) MiB for page cache and program), swap and store in $swapdir ($(df --output=source "$swapdir" | tail -1))"
echo "workload,config,budget_mib,pool_mib,runtime_s,majflt,swapins,evicted_pages,store_bytes,store_per_evicted,best,ratio_vs_tmpfs_swap" >"$csv"
printf '\n%-7s %-14s %9s %8s %9s %9s %9s %7s\n' workload config "time s" majflt swapins evicted "st/ev" "vs tmpfs"
for wl in $wls; do
	base=
	for conf in tmpfs-swap usmfs-default usmfs-best; do
		rows=
		for _ in $(seq "$reps"); do
			r1=$(one "$conf" "$wl") && rows="$rows$r1"$'\n'
		done
		# the run of median runtime
		row=$(printf '%s' "$rows" | sed '/^$/d' | sort -t, -k5,5g | awk '{ r[NR] = $0 } END { if (NR) print r[int((NR + 1) / 2)] }')
		[ -n "$row" ] || { progress "$wl on $conf failed"; continue; }
		t=$(echo "$row" | cut -d, -f5)
		[ "$conf" = tmpfs-swap ] && base=$t
		r=$(awk -v a="$t" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
		echo "$row,$r" >>"$csv"
		echo "$row,$r" | awk -F, '{ printf "%-7s %-14s %9s %8s %9s %9s %9s %7sx\n", $1, $2, $5, $6, $7, $8, $10, $12 }'
	done
done
