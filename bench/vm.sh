#!/bin/bash
# bench/vm.sh [--quick] [--append] [--parts fio,faults,evlat] [KERNEL...]
#     KERNEL: 6.1 | 7  (default 6.1 7; --quick: 6.1); --parts: only these
#     parts in the guest (default all three)
#
# The kernel-module half of the benchmarks: for each kernel, boot one
# QEMU/TCG guest (tests/vm's kernels, module build and base initramfs) that
# loads usmfs.ko, mounts usmfs and a tmpfs of the same size side by side and
# runs bench/fio/*.fio against both, then faultbench on tmpfs, hugetlbfs and
# usmfs (alloc=firstfit, alloc=contiguous), all mounted at once, in rounds
# that take turns (the best round of each counts).  The guest prints raw fio terse lines
# and faultbench CSV on the console (bench/vm-guest.sh); they are parsed
# here.  Absolute numbers from TCG mean little: only usmfs/tmpfs ratios do.
# Last, evictlat: faults on a hot resident file idle, while other files are
# evicted (through usm-policyd, started in the guest), and with the same
# writer aimed at a tmpfs.
#
# Writes bench/results/vm-fio.csv, vm-faults.csv and vm-evictlat.csv
# (started afresh unless --append), appends to bench/results/meta.txt,
# prints a table.
# Environment: VM_CACHE (downloads; default .cache/vm as tests/vm uses),
# BENCH_VM_BUILD (per-run outputs; default build/bench-vm), BENCH_RES.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
export TOP
VM_BUILD=${BENCH_VM_BUILD:-$TOP/build/bench-vm}
. "$TOP/tests/vm/lib.sh"
RES=${BENCH_RES:-$TOP/bench/results}

quick=0
append=0
parts=fio,faults,evlat
kernels=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--append) append=1 ;;
	--parts) parts=$2; shift ;;
	6.1 | 7) kernels+=("$1") ;;
	*) echo "usage: $0 [--quick] [--append] [--parts fio,faults,evlat] [6.1] [7]" >&2; exit 2 ;;
	esac
	shift
done
if [ ${#kernels[@]} -eq 0 ]; then
	if [ $quick = 1 ]; then kernels=(6.1); else kernels=(6.1 7); fi
fi

# Settings the lane's functions read (tests/vm/lane.sh).
KMOD_SRC=$TOP/kmod
MODULE=usmfs
VM_CMA=${VM_CMA:-320M}		# the pool (256M) comes from CMA on 7.x
VM_BUILD_TIMEOUT=${VM_BUILD_TIMEOUT:-600}
VM_MEM=${VM_MEM:-1024}
VM_SMP=${VM_SMP:-2}
POOL=256M
SIZE=224M			# usmfs and tmpfs alike
if [ $quick = 1 ]; then
	FIO_JOBS="seq-read rand-read"
	FIO_ENGINES="psync mmap"
	FIO_NJOBS="1"
	FIO_SIZE=64M
	FIO_RUNTIME=1
	FIO_REPS=1
	FB_MIB=32
	FB_ROUNDS=2
	EV_SECS=1
	EV_TIMEOUT=60
	VM_TIMEOUT=${VM_TIMEOUT:-420}
else
	FIO_JOBS="seq-read seq-write seq-rw70 rand-read rand-write rand-rw70"
	FIO_ENGINES="psync mmap"
	FIO_NJOBS="1 2"
	FIO_SIZE=96M		# per job: 2 jobs fit in SIZE
	FIO_RUNTIME=3
	FIO_REPS=1
	FB_MIB=64
	FB_ROUNDS=3
	EV_SECS=4
	EV_TIMEOUT=180
	VM_TIMEOUT=${VM_TIMEOUT:-900}
fi

# Reuse the lane's kernel selection, download and module build: its
# functions from "kernel selection" up to "Base initramfs" (lane.sh runs
# its matrix when executed, so it cannot be sourced whole).
eval "$(sed -n '/^# --- kernel selection/,/^# Base initramfs/p' "$TOP/tests/vm/lane.sh")"
for f in resolve_6_1 resolve_7 fetch_vmlinuz fetch_headers build_module; do
	declare -F "$f" >/dev/null || die "bench: tests/vm/lane.sh has no $f() any more"
done
fail() { say "[$label] FAIL: $1"; }

qpid=""
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; }
trap cleanup EXIT
trap 'echo "vm: interrupted" >&2; exit 130' INT TERM

progress() { printf '[%s] vm: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The parsers (parse_fio, ratios_fio, parse_faults, parse_evlat).
. "$BENCH_DIR/lib.sh"

# Build and boot one guest; its console ends in $VM_BUILD/$K_REL/bench.log.
run_kernel() {
	local spec=$1 b d log t0 append rc
	label=$spec
	t0=$(date +%s)
	"resolve_${spec//./_}" || { say "[$spec] no $spec kernel in the package lists"; return 1; }
	label="$spec $K_REL"
	progress "[$label] kernel $K_REL ($K_VER)${K_APPEND:+, $K_APPEND}"
	fetch_vmlinuz || { fail "fetch: kernel image $K_IMG=$K_VER"; return 1; }
	if [ "$K_WHERE" = host ] && [ -n "$K_HDRS" ]; then
		fetch_headers || { fail "fetch: headers $K_HDRS=$K_VER"; return 1; }
	fi
	progress "[$label] building $MODULE.ko"
	build_module || { fail "build: $MODULE.ko (log: $VM_BUILD/$K_REL/kmod-build.log)"; return 1; }

	b=$VM_BUILD/$K_REL
	d=$b/bench.d
	rm -rf "$d"
	mkdir -p "$d/vm/fio"
	cp "$KO" "$d/vm/$MODULE.ko"
	cp "$FB" "$d/vm/faultbench"
	cp "$EL" "$d/vm/evictlat"
	# usm-policyd with the libraries ldd lists (as kmod/tests/run.sh)
	if [ -x "$PD" ]; then
		cp "$PD" "$d/vm/usm-policyd"
		for lib in $(ldd "$PD" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }'); do
			mkdir -p "$d$(dirname "$lib")"
			cp -L "$lib" "$d$lib"
		done
	fi
	cp "$TOP"/bench/fio/*.fio "$d/vm/fio/"
	install -m 0755 "$BENCH_DIR/vm-guest.sh" "$d/vm/guest.sh"
	cat >"$d/vm/conf" <<EOF
KERNEL='$spec'
PARTS='$parts'
MODULE='$MODULE'
POOL='$POOL'
SIZE='$SIZE'
FIO_JOBS='$FIO_JOBS'
FIO_ENGINES='$FIO_ENGINES'
FIO_NJOBS='$FIO_NJOBS'
FIO_SIZE='$FIO_SIZE'
FIO_RUNTIME='$FIO_RUNTIME'
FIO_REPS='$FIO_REPS'
FB_MIB='$FB_MIB'
FB_ROUNDS='$FB_ROUNDS'
EV_SECS='$EV_SECS'
EV_TIMEOUT='$EV_TIMEOUT'
EOF
	(cd "$d" && find vm lib lib64 usr 2>/dev/null | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$b/bench.cpio" &&
		cat "$BASE_CPIO" "$b/bench.cpio" >"$b/bench-initrd.cpio" ||
		{ fail "initramfs: $b/bench-initrd.cpio"; return 1; }

	log=$b/bench.log
	append="console=ttyS0 panic=-1 no_timer_check rdinit=/vm/guest.sh $K_APPEND"
	progress "[$label] booting (TCG, ${VM_MEM}M, $VM_SMP cpus, timeout ${VM_TIMEOUT}s): $append"
	timeout -k 10 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -m "$VM_MEM" -smp "$VM_SMP" \
		-nographic -no-reboot -nic none -kernel "$VMLINUZ" -initrd "$b/bench-initrd.cpio" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -append "$append" \
		</dev/null >"$log.raw" 2>&1 &
	qpid=$!
	# progress lines as they come
	tail -n +1 -F --pid=$qpid "$log.raw" 2>/dev/null | sed -u 's/\r$//' |
		grep --line-buffered -E '^vmb: (\[|faultbench|error|guest up)' |
		sed -u "s/^vmb: /    [$spec] /" >&2 &
	wait $qpid
	rc=$?
	qpid=""
	wait
	tr -d '\r' <"$log.raw" >"$log"
	rm -f "$log.raw" "$b/bench-initrd.cpio"
	# Results from the block printed with the console quiet, if it is there.
	if grep -q '^vmb: results end$' "$log"; then
		sed -n '/^vmb: results begin$/,/^vmb: results end$/p' "$log" >"$log.results"
	else
		cp "$log" "$log.results"
		say "[$label] the guest did not finish (qemu exit $rc); partial results (log: $log)"
	fi
	grep '^vmb: error' "$log.results" | sed "s/^vmb: /    [$spec] /" >&2

	parse_fio "$spec" "$log.results" >"$b/fio.rows"
	ratios_fio "$b/fio.rows" >>"$RES/vm-fio.csv"
	parse_faults "$spec" "$log.results" >>"$RES/vm-faults.csv"
	parse_evlat "$log.results" >>"$RES/vm-evictlat.csv"
	pmd=$(grep '^vmb: pmd,' "$log.results" | sed 's/^vmb: pmd,//' |
		awk -F, '{ printf "%s%s=%s/%skB%s", (NR > 1 ? " " : ""), $1, $2, $3,
			($4 != "" && $4 != "na") ? "/" $4 " window maps" : "" }')
	thp=$(sed -n 's/^vmb: thp,//p' "$log.results" | head -n 1)
	{
		echo "vm $spec: kernel $K_REL ($K_VER); qemu -accel tcg -m $VM_MEM -smp $VM_SMP;" \
			"append: $append"
		echo "vm $spec: usmfs.ko pool=$POOL, usmfs and tmpfs size=$SIZE; fio jobs: $FIO_JOBS;" \
			"engines: $FIO_ENGINES; numjobs: $FIO_NJOBS; size/job $FIO_SIZE; runtime ${FIO_RUNTIME}s" \
			"(+1s ramp), mean of $FIO_REPS run(s) per fs, alternating which goes first; faultbench ${FB_MIB} MiB, 4 KiB touches, best of $FB_ROUNDS rounds taking turns over the filesystems"
		echo "vm $spec: THP enabled, usmfs pmd_map=: ${thp:-not read} (madvise: faultbench asks MADV_HUGEPAGE)"
		echo "vm $spec: max FilePmdMapped/ShmemPmdMapped (/usmfs window maps) during faultbench: ${pmd:-not measured}"
		echo "vm $spec: $(grep -c . "$b/fio.rows") fio rows, guest exit $(((rc - 1) / 2)), $(($(date +%s) - t0))s"
	} >>"$RES/meta.txt"
	progress "[$label] done in $(($(date +%s) - t0))s (log: $log)"
	[ $rc -eq 1 ]
}

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: make -C tests/vm deps"
[ -f "$KMOD_SRC/Makefile" ] || die "no $KMOD_SRC/Makefile"
mkdir -p "$VM_CACHE" "$VM_BUILD" "$RES"
start=$(date +%s)
progress "kernels: ${kernels[*]} ($([ $quick = 1 ] && echo quick || echo full)); cache $VM_CACHE; logs $VM_BUILD"

FB=$VM_BUILD/faultbench
cc -O2 -static -o "$FB" "$BENCH_DIR/faultbench.c" || die "bench: faultbench did not build -static"
EL=$VM_BUILD/evictlat
cc -O2 -static -o "$EL" "$BENCH_DIR/evictlat.c" || die "bench: evictlat did not build -static"
PD=${USM_POLICYD:-$TOP/policy/build/usm-policyd}
BASE_CPIO=$VM_BUILD/base.cpio
logged "$VM_BUILD/initramfs.log" "$TOP/tests/vm/mkinitramfs.sh" "$BASE_CPIO" ||
	die "bench: could not build the base initramfs (log: $VM_BUILD/initramfs.log)"
progress "refreshing the private package lists"
papt_update

if [ $append = 0 ] || [ ! -s "$RES/vm-fio.csv" ]; then
	echo "kernel,job,engine,numjobs,fs,bw_MiBps,iops,lat_p50_us,lat_p99_us,ratio" >"$RES/vm-fio.csv"
fi
if [ $append = 0 ] || [ ! -s "$RES/vm-evictlat.csv" ]; then
	echo "kernel,phase,touches,faults_per_touch,p50_ns,p90_ns,p99_ns,p999_ns,mean_ns,evictions,hot_evictions,slice_p50_ns,slice_p99_ns,p50_vs_idle,p99_vs_idle" >"$RES/vm-evictlat.csv"
fi
if [ $append = 0 ] || [ ! -s "$RES/vm-faults.csv" ]; then
	echo "kernel,fs,measure,us_per_4k,us_per_2m,faults,ratio_vs_tmpfs,ratio_vs_hugetlbfs" >"$RES/vm-faults.csv"
fi
echo "vm: commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)$(
	git -C "$TOP" diff --quiet HEAD -- kmod bench 2>/dev/null || echo ' (kmod/bench modified)')" \
	>>"$RES/meta.txt"

failed=0
for k in "${kernels[@]}"; do
	run_kernel "$k" || failed=$((failed + 1))
done

# The table: usmfs/tmpfs per kernel (bandwidth: >1 is usmfs faster;
# faults: tmpfs time over usmfs time, >1 is usmfs faster).
printf '\n%-6s %-10s %-6s %2s  %11s %11s %7s %9s %9s\n' kernel job engine nj \
	"tmpfs MiB/s" "usmfs MiB/s" ratio "p99 tmpfs" "p99 usmfs"
awk -F, 'NR > 1 { k = $1 "," $2 "," $3 "," $4
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	bw[k "," $5] = $6; p99[k "," $5] = $9; if ($5 == "usmfs") r[k] = $10 }
	END { for (i = 1; i <= n; i++) { split(order[i], f, ",")
		printf "%-6s %-10s %-6s %2s  %11s %11s %7s %9s %9s\n", f[1], f[2], f[3], f[4],
			bw[order[i] ",tmpfs"], bw[order[i] ",usmfs"], r[order[i]],
			p99[order[i] ",tmpfs"], p99[order[i] ",usmfs"] } }' "$RES/vm-fio.csv"
# Geometric means of the usmfs/tmpfs bandwidth ratios: one TCG run is noisy.
awk -F, 'NR > 1 && $5 == "usmfs" && $10 > 0 {
	if (!($1 in n)) ks[++nk] = $1
	n[$1]++; s[$1] += log($10); ne[$1 "," $3]++; se[$1 "," $3] += log($10) }
	END { for (i = 1; i <= nk; i++) { k = ks[i]
		printf "geomean usmfs/tmpfs bandwidth, %s: all %.2f (%d jobs)", k, exp(s[k] / n[k]), n[k]
		for (e in ne) { split(e, f, ","); if (f[1] == k)
			printf ", %s %.2f", f[2], exp(se[e] / ne[e]) }
		printf "\n" } }' "$RES/vm-fio.csv"
printf '\n%-6s %-20s %-8s %10s %10s %8s %9s %9s\n' kernel fs measure "us/4K" "us/2M" faults "vs tmpfs" "vs htlb"
tail -n +2 "$RES/vm-faults.csv" |
	awk -F, '{ printf "%-6s %-20s %-8s %10s %10s %8s %8sx %8sx\n", $1, $2, $3, $4, $5, $6, $7, $8 }'
grep -E '^vm [^:]*: (max FilePmdMapped|THP)' "$RES/meta.txt" | tail -n $((2 * ${#kernels[@]}))
# Hot-file faults while evicting: busy/idle, and whether anything was
# evicted at all (0: the module did not evict, the figure is not measured).
printf '\n%-6s %-8s %9s %9s %9s %10s %7s %7s\n' kernel phase touches "s.p50 us" "s.p99 us" evictions "p50 x" "p99 x"
tail -n +2 "$RES/vm-evictlat.csv" | awk -F, '{ printf "%-6s %-8s %9s %9.2f %9.2f %10s %6.2fx %6.2fx%s\n",
	$1, $2, $3, $12 / 1000, $13 / 1000, $10, $14, $15, ($2 == "busy" && $10 == 0) ? "  (nothing evicted: not measured)" : "" }'
progress "${#kernels[@]} guest(s), $failed failed, $(($(date +%s) - start))s; results in $RES"
[ $failed -eq 0 ]
