#!/bin/sh
# /vm/guest.sh: PID 1 (rdinit=) of the benchmark guests booted by bench/vm.sh
# (busybox sh; no python in here: results go to the host as raw lines).
#
# Loads usmfs.ko, mounts usmfs and a tmpfs of the same size side by side,
# runs the fio jobs (/vm/fio/*.fio) against both, then faultbench on tmpfs
# and on usmfs with alloc=firstfit and alloc=contiguous, and hands an exit
# status to the host through QEMU's isa-debug-exit port (0xf4).
# Settings come from /vm/conf (written by the host).
#
# Lines for the host start with "vmb: " and are printed again as one block
# between "vmb: results begin" and "vmb: results end" with the console
# quiet, so that a kernel message cannot split them:
#   vmb: fio,JOB,ENGINE,NUMJOBS,FS,<fio terse v3 line>
#   vmb: fault,<faultbench CSV line>
#   vmb: pmd,LABEL,FilePmdMapped kB,ShmemPmdMapped kB,window_maps (max while
#        it ran; window_maps: the module's whole-window faults, na elsewhere)
#   vmb: thp,SETTING,PMD_MAP        (THP enabled setting; usmfs pmd_map=)
#   vmb: evlat,<evictlat CSV line>    (hot-file faults idle / evicting / control)
#   vmb: error WHAT                   vmb: status N

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o size=16M tmpfs /tmp
mkdir -p /mnt/usm /mnt/tmpfs

MODULE=usmfs
POOL=256M
SIZE=224M
FIO_JOBS="seq-read"
FIO_ENGINES="psync"
FIO_NJOBS="1"
FIO_SIZE=64M
FIO_RUNTIME=2
FIO_REPS=1
FIO_TIMEOUT=120
FB_MIB=32
FB_ROUNDS=3
EV_SIZE=64M
EV_STREAM=128
EV_SECS=1.5
EV_TIMEOUT=240
EV_OPTS=
PARTS=fio,faults,evlat
. /vm/conf
want() { case ",$PARTS," in *",$1,"*) return 0 ;; esac; return 1; }

fails=0
: >/tmp/results
result() { echo "vmb: $*" | tee -a /tmp/results; }
error() { result "error $*"; fails=$((fails + 1)); }

finish() {
	dmesg -n 1
	echo "vmb: results begin"
	cat /tmp/results
	echo "vmb: results end"
	echo "vmb: status $1"
	sync
	printf "\\$(printf %o "$1")" | dd of=/dev/port bs=1 seek=244 count=1 conv=notrunc 2>/dev/null
	echo "vmb: isa-debug-exit did not stop the guest"
	poweroff -f
	sleep 5
}

echo "vmb: guest up: $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpus," \
	"$(awk '/MemTotal/ {print int($2 / 1024) " MiB"}' /proc/meminfo)"
echo "vmb: cmdline: $(cat /proc/cmdline)"
# Kernel chatter on the console slows the guest and splits lines.
dmesg -n 1

if ! insmod "/vm/$MODULE.ko" pool="$POOL"; then
	dmesg | tail -n 20
	error "insmod pool=$POOL"
	finish 1
fi
dmesg | grep -i "$MODULE" | sed 's/^/vmb: dmesg: /'
if ! mount -t "$MODULE" none /mnt/usm -o size="$SIZE"; then
	error "mount $MODULE size=$SIZE"
	finish 1
fi
if ! mount -t tmpfs -o size="$SIZE" none /mnt/tmpfs; then
	error "mount tmpfs size=$SIZE"
	finish 1
fi
grep -E ' /mnt/(usm|tmpfs) ' /proc/mounts | sed 's/^/vmb: mounted: /'

# ---- fio: each job, engine and job count on tmpfs and usmfs, FIO_REPS times.
n=0
total=0
for j in $FIO_JOBS; do for e in $FIO_ENGINES; do for nj in $FIO_NJOBS; do
	total=$((total + 2 * FIO_REPS))
done; done; done
want fio && for j in $FIO_JOBS; do
	for e in $FIO_ENGINES; do
		for nj in $FIO_NJOBS; do
			# Repetitions alternate which filesystem goes first.
			r=0
			order=
			while [ $r -lt "$FIO_REPS" ]; do
				if [ $((r % 2)) -eq 0 ]; then order="$order tmpfs usmfs"
				else order="$order usmfs tmpfs"; fi
				r=$((r + 1))
			done
			for fs in $order; do
				n=$((n + 1))
				d=/mnt/tmpfs
				[ $fs = usmfs ] && d=/mnt/usm
				echo "vmb: [$n/$total] fio $j $e numjobs=$nj on $fs"
				DIR=$d SIZE=$FIO_SIZE ENGINE=$e NUMJOBS=$nj RUNTIME=$FIO_RUNTIME \
					timeout "$FIO_TIMEOUT" fio --output-format=terse \
					--terse-version=3 "/vm/fio/$j.fio" >/tmp/fio.out 2>/tmp/fio.err
				rc=$?
				line=$(grep '^3;' /tmp/fio.out | tail -n 1)
				if [ $rc -eq 0 ] && [ -n "$line" ]; then
					result "fio,$j,$e,$nj,$fs,$line"
				else
					sed 's/^/vmb: fio: /' /tmp/fio.err | head -n 10
					error "fio $j $e $nj $fs exit $rc"
				fi
				rm -rf "$d"/* 2>/dev/null
			done
		done
	done
done
umount /mnt/usm || error "umount /mnt/usm"

# ---- faultbench: run it in the background and watch /proc/meminfo for
# 2 MiB file mappings while it runs.
# One faultbench round (-r 1) on one filesystem, its CSV lines appended to
# /tmp/fb.all; the largest FilePmdMapped/ShmemPmdMapped seen while it ran
# kept in /tmp/fb.pmd.LABEL.
faultbench() {	# LABEL DIR [FAULTBENCH OPTIONS]
	label=$1
	dir=$2
	shift 2
	/vm/faultbench "$dir" -s "$FB_MIB" -r 1 -l "$label" $FB_MADV "$@" >/tmp/fb.out 2>/tmp/fb.err &
	pid=$!
	read -r fpmd spmd </tmp/fb.pmd."$label" 2>/dev/null || { fpmd=0; spmd=0; }
	while kill -0 $pid 2>/dev/null; do
		v=$(awk '/^FilePmdMapped:/ { print $2 }' /proc/meminfo)
		[ "${v:-0}" -gt $fpmd ] && fpmd=$v
		v=$(awk '/^ShmemPmdMapped:/ { print $2 }' /proc/meminfo)
		[ "${v:-0}" -gt $spmd ] && spmd=$v
		sleep 0.2
	done
	wait $pid
	rc=$?
	echo "$fpmd $spmd" >/tmp/fb.pmd."$label"
	if [ $rc -eq 0 ] && [ -s /tmp/fb.out ]; then
		cat /tmp/fb.out >>/tmp/fb.all
	else
		sed 's/^/vmb: faultbench: /' /tmp/fb.err | head -n 10
		error "faultbench $label exit $rc"
	fi
	rm -f "$dir"/faultbench.* 2>/dev/null
}

# window_maps= of the usmfs mount on DIR in the module's debugfs (faults
# that mapped a whole 2 MiB window, 512 PTEs: issue 19), or nothing.
window_maps() {
	dev=$(stat -c '%d' "$1" 2>/dev/null)
	[ -n "$dev" ] || return
	awk -v d="dev=$((dev >> 8)):$((dev & 255))" '$1 == "mount" && $2 == d {
		for (i = 3; i <= NF; i++) if ($i ~ /^window_maps=/) { sub(/^window_maps=/, "", $i); print $i } }' \
		/sys/kernel/debug/usmfs/pool 2>/dev/null
}

# 2 MiB mappings: with THP "madvise" a mapping must ask (MADV_HUGEPAGE),
# asked of every filesystem alike; the module maps a file with contiguous
# placement a 2 MiB window per fault on 6.12 and later, with PTEs
# (docs/kmod.md, "2 MiB windows").
grep -q ' /sys/kernel/debug ' /proc/mounts ||
	mount -t debugfs none /sys/kernel/debug 2>/dev/null
thp=$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
FB_MADV=
[ "$thp" = madvise ] && FB_MADV=-M
if want faults; then
	result "thp,${thp:-none},$(cat /sys/module/$MODULE/parameters/pmd_map 2>/dev/null || echo na)"
	# Every filesystem mounted at once and the rounds taking turns, so
	# that the host's load (TCG) falls on all of them alike; the best
	# round of each counts (faultbench's own best-of, across rounds).
	fbs="tmpfs:/mnt/tmpfs"
	mkdir -p /mnt/htlb /mnt/uff /mnt/ucg
	echo $((FB_MIB / 2 + 2)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	if mount -t hugetlbfs -o pagesize=2M none /mnt/htlb 2>/dev/null; then
		fbs="$fbs hugetlbfs:/mnt/htlb"
	else
		echo "vmb: no hugetlbfs in this guest"
	fi
	mount -t "$MODULE" none /mnt/uff -o size=$((FB_MIB + 8))M,alloc=firstfit &&
		fbs="$fbs usmfs-firstfit:/mnt/uff" || error "mount $MODULE alloc=firstfit"
	mount -t "$MODULE" none /mnt/ucg -o size=$((FB_MIB + 8))M,alloc=contiguous &&
		fbs="$fbs usmfs-contiguous:/mnt/ucg" || error "mount $MODULE alloc=contiguous"
	: >/tmp/fb.all
	r=1
	while [ $r -le "$FB_ROUNDS" ]; do
		echo "vmb: faultbench ${FB_MIB} MiB, round $r of $FB_ROUNDS: $fbs"
		for x in $fbs; do
			h=
			[ "${x%%:*}" = hugetlbfs ] && h=-H
			faultbench "${x%%:*}" "${x#*:}" $h
		done
		r=$((r + 1))
		# the other way round next time
		fbs=$(echo "$fbs" | awk '{ for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "") }')
	done
	# the best round per filesystem and measure, in a fixed order
	for x in tmpfs hugetlbfs usmfs-firstfit usmfs-contiguous; do
		for m in first refault; do
			awk -F, -v l=$x -v m=$m '$1 == l && $2 == m && (b == "" || $3 + 0 < b + 0) { b = $3; row = $0 }
				END { if (row != "") print row }' /tmp/fb.all
		done
	done >/tmp/fb.best
	while read -r l; do
		result "fault,$l"
	done </tmp/fb.best
	for x in $fbs; do
		pm=
		case $x in usmfs-*) pm=$(window_maps "${x#*:}") ;; esac
		read -r fpmd spmd </tmp/fb.pmd."${x%%:*}" 2>/dev/null
		result "pmd,${x%%:*},${fpmd:-0},${spmd:-0},${pm:-na}"
	done
	for d in /mnt/htlb /mnt/uff /mnt/ucg; do
		grep -q " $d " /proc/mounts && { umount $d || error "umount $d"; }
	done
	echo 0 >/proc/sys/vm/nr_hugepages 2>/dev/null
fi
umount /mnt/tmpfs || error "umount /mnt/tmpfs"

# ---- evictlat: faults on a hot resident file while OTHER files are
# evicted.  The module evicts through usm-policyd (started here with a
# store on the guest's root filesystem when /vm/usm-policyd is there);
# where nothing evicts, the busy phase shows 0 evictions and the host
# reports the figure as not measured.
if want evlat && [ -x /vm/evictlat ]; then
	pd=
	if [ -x /vm/usm-policyd ]; then
		# The store's own filesystem: a file store keeps 256 MiB (or 5%)
		# of its filesystem free and refuses slots past that (usm/swap.h),
		# and the initramfs root has about 300 MiB free: there the
		# server ran out of slots after ~48 MiB and evicted nothing more.
		mkdir -p /vswap
		mount -t tmpfs -o size=$((EV_STREAM * 2 + 320))M none /vswap ||
			error "mount tmpfs /vswap"
		printf '[pool]\nswap = ev\n\n[store ev]\npath = file:/vswap/ev.swap\n' >/tmp/evlat.conf
		/vm/usm-policyd -c /tmp/evlat.conf -v -v >/tmp/pd.log 2>&1 &
		pd=$!
		n=0
		while ! grep -q attached /tmp/pd.log && [ $n -lt 30 ]; do sleep 1; n=$((n + 1)); done
		grep -m1 attached /tmp/pd.log | sed 's/^/vmb: evlat: usm-policyd: /'
	fi
	mkdir -p /mnt/ev /mnt/evctl
	# the module's per-mount evictions are in debugfs (usmfs/pool)
	grep -q ' /sys/kernel/debug ' /proc/mounts ||
		mount -t debugfs none /sys/kernel/debug 2>/dev/null
	if mount -t "$MODULE" none /mnt/ev -o size="$EV_SIZE"; then
		# control: the same writer into a second mount that never evicts
		# (-T: it holds at most EV_STREAM MiB), small enough that both
		# mounts stay under the pool's high watermark (90%): the pool's
		# own balancing would take from every mount, the hot file too
		if mount -t "$MODULE" none /mnt/evctl -o size=$((EV_STREAM + 8))M; then
			echo "vmb: evictlat on usmfs size=$EV_SIZE, ${EV_STREAM} MiB streamed, ${EV_SECS}s per phase"
			timeout "$EV_TIMEOUT" /vm/evictlat /mnt/ev -d "$EV_SECS" -s "$EV_STREAM" \
				-C /mnt/evctl -l "$KERNEL" $EV_OPTS -v >/tmp/el.out 2>/tmp/el.err
			rc=$?
			sed 's/^/vmb: evictlat: /' /tmp/el.err | head -n 150
			grep -h . /sys/kernel/debug/usmfs/pool 2>/dev/null | sed 's/^/vmb: evlat: pool: /'
			# exit 4: measured, but not valid (no eviction while busy,
			# or the hot file lost pages): kept, and the host says so
			if { [ $rc -eq 0 ] || [ $rc -eq 4 ]; } && [ -s /tmp/el.out ]; then
				while read -r l; do
					result "evlat,$l"
				done </tmp/el.out
				[ $rc -eq 4 ] && error "evictlat: $(tail -n 1 /tmp/el.err)"
			else
				error "evictlat exit $rc"
				dmesg | tail -n 15 | sed 's/^/vmb: evictlat: dmesg: /'
				[ -n "$pd" ] && grep -v 'debug: mount .* over its share: 0 pages' /tmp/pd.log |
					tail -n 15 | sed 's/^/vmb: evictlat: usm-policyd: /'
				grep -h . /sys/kernel/debug/usmfs/pool 2>/dev/null | sed 's/^/vmb: evictlat: pool: /'
				ps 2>/dev/null | grep '[e]victlat' | sed 's/^/vmb: evictlat: ps: /'
			fi
			umount /mnt/evctl || error "umount /mnt/evctl"
		else
			error "mount $MODULE /mnt/evctl"
		fi
		rm -f /mnt/ev/* 2>/dev/null
		umount /mnt/ev || error "umount /mnt/ev"
	else
		error "mount $MODULE size=$EV_SIZE (evictlat)"
	fi
	if [ -n "$pd" ]; then
		kill -TERM "$pd" 2>/dev/null
		wait "$pd"
		tail -n 3 /tmp/pd.log | sed 's/^/vmb: evlat: usm-policyd: /'
		# every event of a run this simple is valid: a rejected one is a
		# module/server disagreement (it was PAGES_ALLOCATED runs > 512)
		rej=$(sed -n 's/.*detached: [0-9]* events (\([0-9]*\) rejected.*/\1/p' /tmp/pd.log | tail -n 1)
		[ "${rej:-0}" -eq 0 ] || error "usm-policyd rejected $rej events"
		# what the server refused or warned about (the first of each kind)
		grep -E 'warn|error|rejected' /tmp/pd.log | grep -v 'over its share' | head -n 30 |
			sed 's/^/vmb: evlat: usm-policyd: /'
		# the server's log by the shape of its lines (numbers as N)
		sed 's/[0-9][0-9]*/N/g' /tmp/pd.log | sort | uniq -c | sort -rn | head -n 25 |
			sed 's/^/vmb: evlat: usm-policyd log: /'
		grep -v 'debug: file' /tmp/pd.log | head -n 30 | sed 's/^/vmb: evlat: usm-policyd: /'
		umount /vswap 2>/dev/null
	fi
fi

rmmod "$MODULE" || error "rmmod"
BAD_RE='WARNING:|BUG:|Oops|Call Trace|Kernel panic|general protection fault'
bad=$(dmesg | grep -c -E "$BAD_RE")
if [ "$bad" -ne 0 ]; then
	dmesg | grep -B 2 -A 20 -E "$BAD_RE" | head -n 60
	error "dmesg: $bad bad lines"
fi
[ $fails -eq 0 ] && finish 0
finish 1
