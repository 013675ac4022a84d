#!/bin/bash
# usmfs benchmarks: every figure is a ratio against tmpfs (or hugetlbfs)
# measured in the same run on the same machine.
#
#   bench/run.sh [--quick] [--only fio,meta,smallw,faults,evict,swapout,evlat,swapin,rados,replay,vm]
#
# Writes bench/results/{fio,meta,smallw,faults,evict,swapout,evictlat,swapin,rados,replay}.csv,
# meta.txt, *.png and prints a table as it goes.  Needs root (mounts tmpfs,
# hugetlbfs, usmfs).  Swap files go to $BENCH_SWAPDIR (/var/tmp: a disk,
# where /tmp may be a tmpfs); results to $BENCH_RES (default bench/results).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
res=${BENCH_RES:-$top/bench/results}
export BENCH_RES=$res
quick=0
all_parts="fio,meta,smallw,faults,evict,swapout,evlat,swapin,rados,replay,vm"
only=$all_parts
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--only) only=$2; shift ;;
	*) echo "usage: $0 [--quick] [--only $all_parts]" >&2; exit 2 ;;
	esac
	shift
done
want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }
. "$top/bench/lib.sh"

usmfs=${BENCH_USMFS:-$top/usmfs/build/usmfs}	# another daemon to compare: BENCH_USMFS
replay=$top/policy/build/usm-replay
work=$(mktemp -d /tmp/usmfs-bench.XXXXXX)
swapdir=
mounts=()
pids=()

cleanup() {
	local m p
	for m in "${mounts[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	[ -f /proc/sys/vm/nr_hugepages ] && [ -n "${old_huge:-}" ] &&
		echo "$old_huge" > /proc/sys/vm/nr_hugepages
	[ -n "${cdir:-}" ] && [ -d "$cdir" ] && "$top/tests/rados/cluster.sh" stop "$cdir"
	rm -rf "$work"
	[ -n "$swapdir" ] && rm -rf "$swapdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

progress() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

mount_tmpfs() {	# DIR SIZE
	mkdir -p "$1" && mount -t tmpfs -o "size=$2" none "$1" && mounts+=("$1")
}

# mount_usmfs DIR OPTIONS: start the FUSE daemon, wait (bounded) for the mount.
mount_usmfs() {
	local dir=$1 opts=$2 i
	mkdir -p "$dir"
	"$usmfs" "$dir" -f -o "$opts" 2>"$work/usmfs.$(basename "$dir").log" &
	pids+=($!)
	for i in $(seq 1 100); do
		mountpoint -q "$dir" && { mounts+=("$dir"); return 0; }
		sleep 0.1
	done
	echo "bench: usmfs did not mount on $dir:" >&2
	cat "$work/usmfs.$(basename "$dir").log" >&2
	return 1
}

# fio_run JOB ENGINE NJ FS CSV [FIO-ARGS]: bench/fio/JOB.fio on $work/FS
# (SIZE, RUNTIME and the job's other variables from the environment), a
# CSV row with the ratio left as __R__ (fio_ratio); bw[FS] = its MiB/s.
fio_run() {
	local j=$1 e=$2 n=$3 fs=$4 csv=$5 out row
	shift 5
	out=$work/$fs-$j-$e-$n.json
	DIR=$work/$fs SIZE=$size ENGINE=$e RUNTIME=$runtime \
		fio "$@" --output-format=json --output="$out" "$top/bench/fio/$j.fio" >/dev/null 2>&1 ||
		{ echo "bench: fio $j $e on $fs failed" >&2; return 1; }
	row=$(python3 "$top/bench/fio-summary.py" "$out")
	bw[$fs]=${row%%,*}
	echo "fuse,$j,$e,$n,$fs,$row,__R__" >> "$csv"
	rm -f "$work/$fs"/"$j"* 2>/dev/null
}

# fio_ratio JOB ENGINE NJ CSV: the rows of that job get their ratio to
# tmpfs's bandwidth (bw[]); prints the table line.
fio_ratio() {
	local j=$1 e=$2 n=$3 csv=$4 r fs line
	line=$(printf '%-18s %-8s %2s  %12s' "$j" "$e" "$n" "${bw[tmpfs]:-?}")
	for fs in "${!bw[@]}"; do
		[ "$fs" = tmpfs ] && continue
		r=$(awk -v a="${bw[$fs]:-0}" -v b="${bw[tmpfs]:-0}" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "nan" }')
		sed -i "s/^\(fuse,$j,$e,$n,$fs,.*\),__R__$/\1,$r/" "$csv"
		line="$line $(printf '%12s %7s' "${bw[$fs]}" "$r")"
	done
	sed -i "s/^\(fuse,$j,$e,$n,tmpfs,.*\),__R__$/\1,1.00/" "$csv"
	echo "$line"
}

umount_one() {
	umount "$1" 2>/dev/null || umount -l "$1"
	local m keep=()
	for m in "${mounts[@]}"; do [ "$m" != "$1" ] && keep+=("$m"); done
	mounts=("${keep[@]}")
}

mkdir -p "$res"
# A run of some parts only (--only) adds its own block to meta.txt: the
# CSVs of the other parts still come from the run described above it.
[ "$only" = "$all_parts" ] || [ ! -s "$res/meta.txt" ] || meta_append=1
{
	[ -n "${meta_append:-}" ] && echo "--- parts: $only"
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit: $(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)"
	echo "kernel: $(uname -r)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
	echo "memory: $(awk '/MemTotal/ {print int($2/1024) " MiB"}' /proc/meminfo)"
	echo "mode: $([ $quick = 1 ] && echo quick || echo full)"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at the start)"
} > "$work/meta.txt"
if [ -n "${meta_append:-}" ]; then cat "$work/meta.txt" >> "$res/meta.txt"; else cp "$work/meta.txt" "$res/meta.txt"; fi
cat "$work/meta.txt"

# ---------------------------------------------------------------- fio
if want fio; then
	if [ $quick = 1 ]; then
		jobs="seq-read seq-write rand-read"; engines="psync mmap"; njobs="1"
		runtime=1; size=64M
	else
		jobs="seq-read seq-write seq-rw70 rand-read rand-write rand-rw70"
		engines="psync mmap"; njobs="1 2"; runtime=4; size=256M
	fi
	mount_tmpfs "$work/tmpfs" 2G || exit 1
	mount_usmfs "$work/usmfs" "size=2G" || exit 1
	csv=$res/fio.csv
	echo "frontend,job,engine,numjobs,fs,bw_MiBps,iops,lat_p50_us,lat_p99_us,ratio" > "$csv"
	printf '\n%-18s %-8s %2s  %12s %12s %7s\n' job engine nj "tmpfs MiB/s" "usmfs MiB/s" ratio
	for j in $jobs; do
		for e in $engines; do
			for n in $njobs; do
				declare -A bw=()
				# fio lays a file out, fsyncs it and drops its page cache
				# (POSIX_FADV_DONTNEED): tmpfs keeps its pages, a FUSE
				# mount's cache is emptied.  The targets are for cached
				# reads: read the file once first (pre_read, not timed), on
				# both.  Cold FUSE figures: docs in bench/README.md.
				pre=; case $j in *-write) ;; *) pre=--pre_read=1 ;; esac
				for fs in tmpfs usmfs; do
					NUMJOBS=$n fio_run "$j" "$e" "$n" "$fs" "$csv" $pre
				done
				fio_ratio "$j" "$e" "$n" "$csv"
			done
		done
	done
	umount_one "$work/usmfs"
	umount_one "$work/tmpfs"
fi

# ---------------------------------------------------------------- meta
# Metadata operations per second (bench/metabench.c): create, stat, chmod,
# rename, unlink, open + 100-byte write + close, 4-byte O_APPEND writes,
# on tmpfs, usmfs and (when built: make deps-libfuse, or $BENCH_MEMFS)
# libfuse's memfs_ll; the filesystems take turns round by round, the
# medians count.
if want meta; then
	mb=$work/metabench
	cc -O2 -o "$mb" "$top/bench/metabench.c" || exit 1
	if [ $quick = 1 ]; then files=500; appends=5000; rounds=2; else files=3000; appends=30000; rounds=3; fi
	memfs=${BENCH_MEMFS:-$top/build/libfuse/example/memfs_ll}
	fss="tmpfs usmfs"
	mount_tmpfs "$work/mtmpfs" 1G || exit 1
	mount_usmfs "$work/musmfs" "size=1G" || exit 1
	# mount_memfs NAME [OPTIONS]: libfuse's memfs_ll on $work/mNAME
	mount_memfs() {
		mkdir -p "$work/m$1"
		"$memfs" "$work/m$1" -f ${2:+-o "$2"} 2>"$work/$1.log" &
		pids+=($!)
		for i in $(seq 1 100); do mountpoint -q "$work/m$1" && break; sleep 0.1; done
		if mountpoint -q "$work/m$1"; then mounts+=("$work/m$1"); fss="$fss $1"
		else echo "bench: memfs_ll ${2:-} did not mount (skipped)" >&2; fi
	}
	if [ -x "$memfs" ]; then
		mount_memfs memfs
		# FUSE over io_uring: when the kernel has it and it is enabled
		# (root: echo Y > /sys/module/fuse/parameters/enable_uring)
		[ "$(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null)" = Y ] &&
			mount_memfs memfs-uring io_uring
	fi
	progress "meta: $fss, $rounds rounds of $files files and $appends appends (load $(cut -d' ' -f1 /proc/loadavg))"
	raw=$work/meta.raw
	: > "$raw"
	for round in $(seq 1 $rounds); do
		for fs in $fss; do
			"$mb" "$work/m$fs" -n "$files" -a "$appends" -l "$fs" >> "$raw" ||
				echo "bench: metabench on $fs failed" >&2
		done
	done
	for fs in $fss; do [ "$fs" = tmpfs ] || umount_one "$work/m$fs"; done
	umount_one "$work/mtmpfs"
	csv=$res/meta.csv
	echo "fs,op,count,rounds,ops_per_s,us_per_op,ratio_vs_tmpfs,load1" > "$csv"
	meta_medians "$(cut -d' ' -f1 /proc/loadavg)" < "$raw" >> "$csv"
	# every round's line, for the spread behind the medians
	{ echo "fs,op,count,seconds,ops_per_s,us_per_op"; cat "$raw"; } > "$res/meta-rounds.csv"
	printf '\n%-11s %-7s %12s %10s %8s\n' fs op "ops/s" "us/op" "vs tmpfs"
	tail -n +2 "$csv" | awk -F, '{ printf "%-11s %-7s %12s %10s %7sx\n", $1, $2, $5, $6, $7 }'
fi

# ---------------------------------------------------------------- smallw
# Small writes: 4 KiB random writes through the page cache (psync), a
# shared mapping (mmap), and O_DIRECT queued 16 deep (libaio, io_uring).
if want smallw; then
	if [ $quick = 1 ]; then runtime=2; size=64M; else runtime=4; size=256M; fi
	mount_tmpfs "$work/tmpfs" 2G || exit 1
	mount_usmfs "$work/usmfs" "size=2G" || exit 1
	csv=$res/smallw.csv
	echo "frontend,job,engine,numjobs,fs,bw_MiBps,iops,lat_p50_us,lat_p99_us,ratio" > "$csv"
	printf '\n%-18s %-8s %2s  %12s %12s %7s\n' job engine nj "tmpfs MiB/s" "usmfs MiB/s" ratio
	for e in psync mmap libaio io_uring; do
		j=rand-write; case $e in libaio|io_uring) j=rand-write-direct ;; esac
		declare -A bw=()
		for fs in tmpfs usmfs; do
			NUMJOBS=1 IODEPTH=16 fio_run "$j" "$e" 1 "$fs" "$csv"
		done
		fio_ratio "$j" "$e" 1 "$csv"
	done
	umount_one "$work/usmfs"
	umount_one "$work/tmpfs"
fi

# ---------------------------------------------------------------- faults
if want faults; then
	fb=$work/faultbench
	cc -O2 -o "$fb" "$top/bench/faultbench.c" || exit 1
	mib=$([ $quick = 1 ] && echo 64 || echo 256)
	csv=$res/faults.csv
	echo "fs,measure,us_per_4k,us_per_2m,faults,ratio_vs_tmpfs,ratio_vs_hugetlbfs" > "$csv"
	mount_tmpfs "$work/ftmpfs" 1G || exit 1
	"$fb" "$work/ftmpfs" -s "$mib" -l tmpfs > "$work/faults.raw"
	if [ -f /proc/sys/vm/nr_hugepages ]; then
		old_huge=$(cat /proc/sys/vm/nr_hugepages)
		echo $((mib / 2 + 8)) > /proc/sys/vm/nr_hugepages
		mkdir -p "$work/htlb"
		if mount -t hugetlbfs -o pagesize=2M none "$work/htlb" 2>/dev/null; then
			mounts+=("$work/htlb")
			"$fb" "$work/htlb" -s "$mib" -l hugetlbfs -H >> "$work/faults.raw"
			umount_one "$work/htlb"
		fi
	fi
	for alloc in firstfit contiguous; do
		mount_usmfs "$work/fusm-$alloc" "size=1G,alloc=$alloc" || exit 1
		"$fb" "$work/fusm-$alloc" -s "$mib" -l "usmfs-fuse-$alloc" >> "$work/faults.raw"
		umount_one "$work/fusm-$alloc"
	done
	umount_one "$work/ftmpfs"
	faults_ratios < "$work/faults.raw" >> "$csv"
	printf '\n%-24s %-8s %10s %10s %8s\n' fs measure "us/4K" "us/2M" "vs tmpfs"
	tail -n +2 "$csv" | awk -F, '{ printf "%-24s %-8s %10s %10s %7sx\n", $1, $2, $3, $4, $6 }'
fi

# ---------------------------------------------------------------- eviction
if want evict; then
	csv=$res/evict.csv
	echo "policy,working_set,mount_size,bw_MiBps,iops,lat_p50_us,lat_p99_us,evictions,swapins" > "$csv"
	msize=64M
	sets=$([ $quick = 1 ] && echo "128M" || echo "128M 256M")
	pols=$([ $quick = 1 ] && echo "lru s3fifo" || echo "fifo lru clock sieve s3fifo")
	printf '\n%-8s %-6s %10s %9s %9s %10s %9s\n' policy set "MiB/s" "p50 us" "p99 us" evictions swapins
	for ws in $sets; do
		for pol in $pols; do
			d=$work/evict
			mount_usmfs "$d" "size=$msize,evict=$pol,swap=file:$work/evict.swap" || exit 1
			out=$work/evict-$pol-$ws.json
			DIR=$d SIZE=$ws ENGINE=psync NUMJOBS=1 RUNTIME=$([ $quick = 1 ] && echo 2 || echo 8) \
				fio --output-format=json --output="$out" --random_distribution=zipf:1.1 \
				"$top/bench/fio/rand-read.fio" >/dev/null 2>&1 || echo "bench: fio evict $pol failed" >&2
			row=$(python3 "$top/bench/fio-summary.py" "$out" 2>/dev/null || echo "0,0,0,0")
			f=$(ls "$d" | head -1)
			st=$(getfattr --only-values -n user.usm.stats "$d/$f" 2>/dev/null)
			ev=$(echo "$st" | tr ' ' '\n' | sed -n 's/^evictions=//p')
			si=$(echo "$st" | tr ' ' '\n' | sed -n 's/^swapins=//p')
			echo "$pol,$ws,$msize,$row,${ev:-0},${si:-0}" >> "$csv"
			IFS=, read -r b i p50 p99 <<< "$row"
			printf '%-8s %-6s %10s %9s %9s %10s %9s\n' "$pol" "$ws" "$b" "$p50" "$p99" "${ev:-?}" "${si:-?}"
			umount_one "$d"
			rm -f "$work/evict.swap"
		done
	done
fi

# ---------------------------------------------------------------- swap-out
# The swap file's filesystem: where the swap files of these parts live.
swap_dir() {
	[ -n "$swapdir" ] || swapdir=$(mktemp -d "${BENCH_SWAPDIR:-/var/tmp}/usmfs-bench-swap.XXXXXX") || exit 1
}
# CPU seconds (user + system) of process $1 so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Swap-out throughput against the sequential write bandwidth of the swap
# file's filesystem (bench/evictbw.c): per policy, a writer streams a
# working set 2x and 4x a 64 MiB mount.  The baseline runs before and
# after the policies; their mean is the reference.
if want swapout; then
	swap_dir
	eb=$work/evictbw
	cc -O2 -pthread -o "$eb" "$top/bench/evictbw.c" || exit 1
	msize=64
	sets="128 256"
	rmib=$([ $quick = 1 ] && echo 256 || echo 768)
	if [ $quick = 1 ]; then pols="lru"; total=256; reps=1; else pols="fifo lru clock sieve s3fifo"; total=1024; reps=3; fi
	progress "swapout: $reps round(s); baselines of $total MiB in $swapdir ($(df --output=source "$swapdir" | tail -1))"
	raw=$work/swapout.raw
	"$eb" base "$swapdir/base" -m "$total" -l base > "$raw" || exit 1
	# evict_run KIND POLICY WS ROUND: one eviction row, then a baseline
	evict_run() {
		local d=$work/swapout dp c0 c1 line opts
		if [ "$1" = evict ]; then opts="size=${msize}M"; else opts="size=$((rmib * 2))M"; fi
		mount_usmfs "$d" "$opts,evict=$2,swap=file:$swapdir/evict.swap" || exit 1
		dp=${pids[-1]}
		c0=$(cpu_ticks "$dp")
		if [ "$1" = evict ]; then
			line=$("$eb" evict "$d" -w "$3" -p $((total / $3)) -S "$swapdir/evict.swap" -l "$2")
		else
			# the eviction path alone: a file that fits pushed out whole
			# by user.usm.reclaim=all, no writer's FUSE traffic meanwhile
			line=$("$eb" reclaim "$d" -m "$rmib" -S "$swapdir/evict.swap" -l "$2")
		fi || echo "bench: evictbw $1 $2 $3 failed" >&2
		c1=$(cpu_ticks "$dp")
		[ -n "$line" ] && echo "$line,$(( c1 - c0 )),$4" >> "$raw"
		umount_one "$d"
		rm -f "$swapdir/evict.swap"
		"$eb" base "$swapdir/base" -m "$total" -l base >> "$raw" || exit 1
	}
	for round in $(seq 1 $reps); do
		for ws in $sets; do
			for pol in $pols; do evict_run evict "$pol" "$ws" "$round"; done
		done
		for pol in $pols; do evict_run reclaim "$pol" 0 "$round"; done
	done
	csv=$res/swapout.csv
	echo "kind,policy,ws_mib,mount_mib,written_mib,writer_s,evicted_mib,window_s,MiBps,sync_s,durable_MiBps,swapins,daemon_cpu_ms_per_MiB,ratio_durable,ratio_buffered,round" > "$csv"
	# Each eviction row against the mean of the baselines just before and
	# just after it; a baseline row against the mean of all of them.
	awk -F, -v m="$msize" -v hz="$(getconf CLK_TCK)" '
		{ r[++n] = $0 }
		$2 == "base" { nb++; tbuf += $8; tdur += $10 }
		END {
			for (i = 1; i <= n; i++) {
				split(r[i], f, ",")
				if (f[2] == "base") {
					printf "base,base,0,0,%s,%s,0,0,%s,%s,%s,0,0,%.2f,%.2f,0\n", f[4], f[5], f[8], f[9], f[10], f[10] * nb / tdur, f[8] * nb / tbuf
					continue
				}
				split(r[i - 1], a, ","); split(r[i + 1], b, ",")
				buf = (a[8] + b[8]) / 2; dur = (a[10] + b[10]) / 2
				cpu = f[6] > 0 ? f[12] * 1000 / hz / f[6] : 0
				printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%.2f,%.2f,%.2f,%s\n", f[2], f[1], f[3], (f[2] == "reclaim" ? 2 * f[4] : m), f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11], cpu, f[10] / dur, f[8] / buf, f[13]
			}
		}' "$raw" >> "$csv"
	# The table: per policy and set, the median over the rounds (and the
	# range of the ratio to the disk's bandwidth).
	printf '\n%-8s %-7s %8s %8s %8s %8s %9s %11s %10s\n' policy set "MiB/s" durable "cpu ms" evicted "vs disk" "(range)" "vs pgcache"
	awk -F, '
	function med(list,   v, k, i, j, t) {
		k = split(list, v, " ")
		for (i = 2; i <= k; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		lo = v[1]; hi = v[k]
		return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
	}
	NR > 1 && $1 == "base" { nb++; bb = bb " " $9; bd = bd " " $11; next }
	NR > 1 { key = $1 "," $2 "," $3; if (!(key in seen)) { seen[key] = 1; order[++no] = key }
		bw[key] = bw[key] " " $9; du[key] = du[key] " " $11; cpu[key] = cpu[key] " " $13
		ev[key] = ev[key] " " $7; rd[key] = rd[key] " " $14; rb[key] = rb[key] " " $15 }
	END {
		for (i = 1; i <= no; i++) { k = order[i]; split(k, f, ",")
			a = med(bw[k]); b = med(du[k]); c = med(cpu[k]); e = med(ev[k]); rr = med(rb[k])
			d = med(rd[k]); range = sprintf("%.2f-%.2f", lo, hi)
			printf "%-8s %-7s %8.1f %8.1f %8.2f %7.0fM %8.2fx %11s %9.2fx\n", f[2], (f[1] == "reclaim" ? "reclaim" : f[3] "M"), a, b, c, e, d, range, rr }
		med(bb); x = lo "-" hi; med(bd)
		printf "baselines (%d runs): buffered %s MiB/s, write + fdatasync %s-%s MiB/s\n", nb, x, lo, hi
	}' "$csv"
fi

# ---------------------------------------------------------------- evlat
# Fault latency on a hot resident file while OTHER files are evicted
# (bench/evictlat.c), against the same with nothing else running and with
# the same writer aimed at a usmfs mount that does not evict.
if want evlat; then
	swap_dir
	el=$work/evictlat
	cc -O2 -o "$el" "$top/bench/evictlat.c" || exit 1
	secs=$([ $quick = 1 ] && echo 1 || echo 6)
	progress "evlat: hot-file faults, idle / evicting / control, ${secs}s each"
	# control: the same writer into a second usmfs mount big enough never
	# to evict (its own daemon): the same work, eviction aside
	mount_usmfs "$work/evlat-ctl" "size=1G" || exit 1
	d=$work/evlat
	mount_usmfs "$d" "size=64M,swap=file:$swapdir/evlat.swap" || exit 1
	"$el" "$d" -d "$secs" -C "$work/evlat-ctl" -l fuse > "$work/evlat.raw" ||
		echo "bench: evictlat failed" >&2
	umount_one "$d"
	umount_one "$work/evlat-ctl"
	rm -f "$swapdir/evlat.swap"
	csv=$res/evictlat.csv
	echo "frontend,phase,touches,faults_per_touch,p50_ns,p90_ns,p99_ns,p999_ns,mean_ns,evictions,hot_evictions,slice_p50_ns,slice_p99_ns,p50_vs_idle,p99_vs_idle" > "$csv"
	evlat_ratios < "$work/evlat.raw" >> "$csv"
	printf '\n%-6s %-8s %9s %8s %8s %8s %10s %4s %8s %8s %7s %7s\n' fe phase touches "p50 us" "p99 us" "p999 us" evictions hot "s.p50" "s.p99" "p50 x" "p99 x"
	awk -F, 'NR > 1 { printf "%-6s %-8s %9s %8.2f %8.2f %8.2f %10s %4s %8.2f %8.2f %6.2fx %6.2fx\n", $1, $2, $3, $5 / 1000, $7 / 1000, $8 / 1000, $10, $11, $12 / 1000, $13 / 1000, $14, $15 }' "$csv"
fi

# ---------------------------------------------------------------- swapin
# Read latency under pressure, hits and swap-ins apart (bench/swapinlat.c):
# Zipf(1.1) random 4 KiB reads over 2x and 4x a 64 MiB mount, per policy.
if want swapin; then
	swap_dir
	sl=$work/swapinlat
	cc -O2 -o "$sl" "$top/bench/swapinlat.c" -lm || exit 1
	if [ $quick = 1 ]; then pols="lru s3fifo"; secs=1; sets=128; else pols="fifo lru clock sieve s3fifo"; secs=5; sets="128 256"; fi
	csv=$res/swapin.csv
	echo "policy,ws_mib,mount_mib,reads,swapin_pct,hit_p50_us,hit_p99_us,swapin_p50_us,swapin_p90_us,swapin_p99_us,swapin_p999_us,evictions,swapins,agree" > "$csv"
	printf '\n%-8s %-6s %9s %7s %8s %9s %9s %9s %9s %9s\n' policy set reads "swapin%" "hit p50" "si p50" "si p90" "si p99" evictions swapins
	for ws in $sets; do
		for pol in $pols; do
			d=$work/swapin
			mount_usmfs "$d" "size=64M,evict=$pol,swap=file:$swapdir/swapin.swap" || exit 1
			line=$("$sl" "$d" -w "$ws" -d "$secs" -l "$pol") || echo "bench: swapinlat $pol $ws failed" >&2
			umount_one "$d"
			rm -f "$swapdir/swapin.swap"
			[ -n "$line" ] || continue
			echo "$line" | awk -F, -v OFS=, '{ $2 = $2 "," 64; print }' >> "$csv"
			echo "$line" | awk -F, '{ printf "%-8s %-6s %9s %7s %8s %9s %9s %9s %9s %9s\n", $1, $2 "M", $3, $4, $5, $7, $8, $9, $11, $12 }'
		done
	done
fi

# ----------------------------------------------------------------- rados
# The RADOS store against the file store, in the same run: a one-node
# cluster on 127.0.0.1 (tests/rados/cluster.sh: one OSD, BlueStore on a
# file in $BENCH_SWAPDIR) and a swap file in the same directory.  Per store:
# swap-out = a 128 MiB file that fits pushed out whole (evictbw reclaim,
# user.usm.reclaim=all), swap-in = that file read back sequentially in
# 1 MiB reads (every page a swap-in), then swapinlat's Zipf reads over
# 128 MiB on a 64 MiB mount for the latency of single swap-ins.
if want rados; then
	swap_dir
	eb=$work/evictbw sl=$work/swapinlat
	cc -O2 -pthread -o "$eb" "$top/bench/evictbw.c" || exit 1
	cc -O2 -o "$sl" "$top/bench/swapinlat.c" -lm || exit 1
	cdir=$swapdir/cluster
	progress "rados: starting a one-node cluster in $cdir"
	"$top/tests/rados/cluster.sh" start "$cdir" || exit 1
	csv=$res/rados.csv
	echo "store,swapout_MiBps,swapin_MiBps,swapin_p50_us,swapin_p90_us,swapin_p99_us,swapin_p999_us,swapins" > "$csv"
	printf '\n%-6s %12s %12s %9s %9s %9s\n' store "swap-out" "swap-in" "si p50" "si p99" "si p99.9"
	mib=$([ $quick = 1 ] && echo 64 || echo 128)
	secs=$([ $quick = 1 ] && echo 2 || echo 5)
	for st in file rados; do
		d=$work/rados
		if [ $st = file ]; then spec=file:$swapdir/rados-cmp.swap
		else spec=rados:usm/bench:conf=$cdir/ceph.conf:user=usm; fi
		mount_usmfs "$d" "size=$((mib * 2))M,swap=$spec" || exit 1
		out=$("$eb" reclaim "$d" -m "$mib" -l "$st" | cut -d, -f8) || out=
		# swap-in: the same amount written, pushed out, read back
		dd if=/dev/urandom of="$d/back" bs=1M count="$mib" conv=fsync 2>/dev/null
		setfattr -n user.usm.reclaim -v all "$d/back"
		s0=$(getfattr --only-values -n user.usm.stats "$d" 2>/dev/null | tr ' ' '\n' | sed -n 's/^swapins=//p')
		t0=$(date +%s%N)
		dd if="$d/back" of=/dev/null bs=1M 2>/dev/null
		t1=$(date +%s%N)
		s1=$(getfattr --only-values -n user.usm.stats "$d" 2>/dev/null | tr ' ' '\n' | sed -n 's/^swapins=//p')
		inb=$(awk -v m="$mib" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", m / (ns / 1e9) }')
		umount_one "$d"
		rm -f "$swapdir/rados-cmp.swap"
		mount_usmfs "$d" "size=64M,swap=$spec" || exit 1
		lat=$("$sl" "$d" -w 128 -d "$secs" -l "$st") || lat=
		umount_one "$d"
		rm -f "$swapdir/rados-cmp.swap"
		# swapinlat: label,ws,reads,miss%,hit p50,hit p99,si p50,p90,p99,p99.9,...
		p50=$(echo "$lat" | cut -d, -f7) p90=$(echo "$lat" | cut -d, -f8)
		p99=$(echo "$lat" | cut -d, -f9) p999=$(echo "$lat" | cut -d, -f10)
		echo "$st,$out,$inb,$p50,$p90,$p99,$p999,$((s1 - s0))" >> "$csv"
		printf '%-6s %7s MiB/s %7s MiB/s %7s us %7s us %7s us\n' "$st" "$out" "$inb" "$p50" "$p99" "$p999"
	done
	"$top/tests/rados/cluster.sh" stop "$cdir"
fi

# ---------------------------------------------------------------- replay
if want replay; then
	csv=$res/replay.csv
	n=$([ $quick = 1 ] && echo 200000 || echo 1000000)
	echo "trace,cache_pct,policy,miss_ratio" > "$csv"
	printf '\n%-22s %5s  %s\n' trace cache "miss ratio per policy"
	for tr in "--zipf 0.6" "--zipf 0.8" "--zipf 1.0" "--zipf 1.2" "--scan" "--loop" "--mix 0.8" "--mix 1.0"; do
		for pct in 1 10; do
			name=$(echo "$tr" | sed 's/^--//; s/ /-/')
			line=$("$replay" --policy all --cache "$pct%" $tr --requests "$n" --csv 2>/dev/null) || {
				echo "bench: usm-replay $tr failed" >&2; continue; }
			echo "$line" | tail -n +2 | awk -F, -v t="$name" -v c="$pct" '$1 != "pinned" { print t "," c "," $1 "," $9 }' >> "$csv"
			printf '%-22s %4s%%  %s\n' "$name" "$pct" "$(echo "$line" | tail -n +2 | awk -F, '$1 != "pinned" { printf "%s=%.3f ", $1, $9 }')"
		done
	done
fi

# ---------------------------------------------------------------- vm
# usmfs.ko against tmpfs inside QEMU/TCG guests (6.1 and 7.x; quick: 6.1
# with fewer jobs): bench/vm.sh writes vm-fio.csv, vm-faults.csv.
if want vm; then
	progress "vm: usmfs.ko in QEMU guests (bench/vm.sh)"
	"$top/bench/vm.sh" $([ $quick = 1 ] && echo --quick) || echo "bench: vm failed" >&2
fi

if command -v gnuplot >/dev/null && [ -x "$top/bench/plot.sh" ]; then
	"$top/bench/plot.sh" "$res" || echo "bench: plotting failed" >&2
fi
progress "results in $res"
