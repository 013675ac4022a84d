#!/bin/bash
# lane.sh [KERNEL...]   KERNEL: 6.1 | 6.12 | 7 | debug   (default: 6.1 6.12 7)
#
# The kernel lane: for each kernel, fetch it (Debian's packages, through a
# private apt), build usmfs.ko against its headers (on the host, or in a
# trixie chroot for 7.x), build an initramfs with busybox, fio, the
# filesystem suite and the module, boot it in QEMU/TCG, and judge the
# guest's console log.  Ends with "kmod: N passed, N failed"; exits 1 on
# any failure.  See docs/testing-kmod.md.  VM_PREP_ONLY=1: fetch and
# build only (what tests/vm/torture.sh reuses), no guest.
set -u
. "$(dirname "$0")/lib.sh"

KMOD_SRC=${KMOD_SRC:-$TOP/kmod}	# the module's source (a copy is built)
MODULE=${MODULE:-usmfs}
VM_TIMEOUT=${VM_TIMEOUT:-1500}	# one guest, boot to power-off, seconds (quiet host)
# The guest times a fixed loop at boot (and before the server part): when
# it runs N times slower than VM_CALIB_MS (its time on a quiet host), the
# guest's timeouts (steps, suite, server steps, its own deadline of
# VM_TIMEOUT) grow N times, N at most VM_SCALE_MAX.  The host waits
# VM_TIMEOUT x VM_SCALE_MAX + 300 s: the guest's watchdog says first what
# was running when it ran out of time (its report takes a minute or two
# on a busy host).
VM_CALIB_MS=${VM_CALIB_MS:-400}
VM_SCALE_MAX=${VM_SCALE_MAX:-4}
VM_BUILD_TIMEOUT=${VM_BUILD_TIMEOUT:-600}	# one module build, seconds
VM_DEBUG_BUILD_TIMEOUT=${VM_DEBUG_BUILD_TIMEOUT:-5400}	# the debug kernel's build
VM_POOL=${VM_POOL:-48M}		# module parameter pool=
VM_SIZE=${VM_SIZE:-32M}		# mount option size=
VM_NOSWAP_SIZE=${VM_NOSWAP_SIZE:-8M}	# size= of the second, swap=none mount
VM_FS_TIMEOUT_MULT=${VM_FS_TIMEOUT_MULT:-4}	# TCG is slow: the suite's timeouts x4
VM_CMA=${VM_CMA:-64M}		# cma= for kernels that have CMA
VM_FIO_SIZE=${VM_FIO_SIZE:-8M}	# per fio job (2 jobs per engine)
# The policy server's checks (server-guest.sh): the module loaded again
# with pool VM_SRV_POOL, mounted through mount.usmfs with usm-policyd.
# VM_SERVER_EVICT=1 adds the checks that need the module to evict
# (USMFS_F_EVICT): fio and a file bigger than the pool, the suite's
# eviction cases, kill -9 of the server in a verify run.
VM_SERVER=${VM_SERVER:-1}
VM_SERVER_EVICT=${VM_SERVER_EVICT:-1}
VM_SRV_POOL=${VM_SRV_POOL:-64M}
VM_SRV_SIZE=${VM_SRV_SIZE:-64M}	# the server mount's size=
VM_SRV_SUITE_SIZE=${VM_SRV_SUITE_SIZE:-8M}	# the suite's eviction mount
VM_SRV_FIO_SIZE=${VM_SRV_FIO_SIZE:-96M}	# per fio job (2 jobs)
VM_SRV_KILL_SIZE=${VM_SRV_KILL_SIZE:-64M}	# per job of the kill -9 run
VM_SRV_SQL_ROWS=${VM_SRV_SQL_ROWS:-40000}	# the sqlite3 run's rows of 1 KiB
VM_SRV_SQL_SIZE=${VM_SRV_SQL_SIZE:-32M}	# and the mount's size= meanwhile
VM_SRV_TIMEOUT=${VM_SRV_TIMEOUT:-300}	# the long server steps, in the guest
# The swap store is on the guest's rootfs, in RAM: room for it.
VM_MEM=${VM_MEM:-1536}
VM_SMP=${VM_SMP:-2}
STEP_TIMEOUT=${STEP_TIMEOUT:-180}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
# The debug kernel (KASAN, lockdep, kmemleak) runs the kernel's side several
# times slower: the same checks on smaller working sets (every server check
# still needs evictions and swap-ins: data 2-4x the pool), longer timeouts.
# VM_DEBUG_<NAME> replaces VM_<NAME> (or <NAME>) for the debug kernel only.
VM_DEBUG_TIMEOUT=${VM_DEBUG_TIMEOUT:-1500}
# The conformance stressors that reach the module's own paths (30-40 s each
# on the debug kernel; all of them run on the quick kernels).
VM_DEBUG_CONFORM_IDS=${VM_DEBUG_CONFORM_IDS:-"fallocate mmap msync rename xattr iomix fsx"}
# The filesystem suite's cases that go through the module's own paths (I/O,
# truncation, mappings, xattrs, limits, handles); the others (names,
# permissions, 5000-file directories) run on the quick kernels.  Empty: all.
VM_DEBUG_FS_ONLY=${VM_DEBUG_FS_ONLY-"rw_offsets sparse truncate fallocate seek_data_hole shared_pwrite splice odirect mmap_coherent mmap_fork mmap_private mmap_sigbus mmap_truncate mremap_grow madvise msync xattr_user usm_xattr_set usm_stats full_pool full_write mmap_full tmpfile file_handle posix_acl"}
VM_DEBUG_FIO_SIZE=${VM_DEBUG_FIO_SIZE:-4M}
VM_DEBUG_SRV_POOL=${VM_DEBUG_SRV_POOL:-16M}
VM_DEBUG_SRV_SIZE=${VM_DEBUG_SRV_SIZE:-16M}
VM_DEBUG_SRV_FIO_SIZE=${VM_DEBUG_SRV_FIO_SIZE:-32M}
VM_DEBUG_SRV_KILL_SIZE=${VM_DEBUG_SRV_KILL_SIZE:-16M}
VM_DEBUG_SRV_SQL_ROWS=${VM_DEBUG_SRV_SQL_ROWS:-8000}
VM_DEBUG_SRV_SQL_SIZE=${VM_DEBUG_SRV_SQL_SIZE:-8M}
VM_DEBUG_SRV_TIMEOUT=${VM_DEBUG_SRV_TIMEOUT:-600}
VM_DEBUG_STEP_TIMEOUT=${VM_DEBUG_STEP_TIMEOUT:-360}
VM_DEBUG_SUITE_TIMEOUT=${VM_DEBUG_SUITE_TIMEOUT:-1200}
VM_DEBUG_FS_TIMEOUT_MULT=${VM_DEBUG_FS_TIMEOUT_MULT:-8}
# What the guest must report, in order; a missing step counts as failed.
# VM_QUICK=1: the first part only mounts and unmounts (no suite, fio or
# conformance check; the server checks and the kernel log checks all run).
if [ "${VM_QUICK:-0}" = 1 ]; then
	STEPS="insmod mount mount-noswap umount-noswap umount tmpfs-opts rmmod dmesg-clean"
else
	STEPS="insmod mount mount-noswap fio-psync fio-mmap conform umount-noswap umount tmpfs-opts rmmod dmesg-clean"
fi
if [ "$VM_SERVER" = 1 ]; then
	STEPS="$STEPS srv-config-check srv-config-nonstore srv-insmod srv-helper-bad srv-mount srv-policyd srv-usmctl srv-remount"
	if [ "$VM_SERVER_EVICT" = 1 ]; then
		STEPS="$STEPS srv-evict-granted srv-fio-psync srv-fio-mmap srv-copy4x srv-sqlite"
	fi
	STEPS="$STEPS srv-xattr-evict"
	if [ "$VM_SERVER_EVICT" = 1 ]; then
		STEPS="$STEPS srv-mount2 srv-suite srv-umount2 srv-kill-fio"
	fi
	STEPS="$STEPS srv-dead-resident srv-restart"
	[ "$VM_SERVER_EVICT" = 1 ] && STEPS="$STEPS srv-restart-swapped"
	STEPS="$STEPS srv-umount srv-policyd-term srv-pool-empty srv-fstab srv-rmmod"
fi
# Kernel log lines that fail a guest whatever its tests said.
# (kmemleak's "N new suspected memory leaks" is left out: the guest takes a
# baseline after boot, and what it finds later it prints as "unreferenced
# object" entries.)
# (a KASAN report and a lockdep splat start "BUG: KASAN" and "WARNING:";
# soft lockups and hung tasks print a "Call Trace".)  The guest judges its
# whole kernel log with the same patterns (dmesg-clean).  Lines "vm: diag:"
# are the guest's diagnostics (stacks it asked for): not matched.
BAD_RE='WARNING:|BUG:|Oops|Call Trace|unreferenced object|Kernel panic|general protection fault|Busy inodes|UBSAN:|usmfs: .*(leak|still in use)'

[ $# -gt 0 ] || set -- 6.1 6.12 7
for k in "$@"; do
	case "$k" in
	6.1 | 6.12 | 7 | debug) ;;
	*) die "unknown kernel '$k' (6.1, 6.12, 7 or debug)" ;;
	esac
done

total_pass=0
total_fail=0
summary=()
start_all=$(date +%s)

qpid=""
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "vm: interrupted" >&2; exit 130' INT TERM

# Per kernel: counts, and the reason of the first failure.
kpass=0
kfail=0
kwhy=""
pass() { kpass=$((kpass + 1)); }
fail() {
	kfail=$((kfail + 1))
	[ -n "$kwhy" ] || kwhy=$1
	say "[$label] FAIL: $1"
}

# --- kernel selection (sets K_*) -------------------------------------------

# Debian 12's stock 6.1: the ABI (6.1.0-NN) of the host's linux-headers-amd64
# when it is a 6.1, else the newest in the archive.
resolve_6_1() {
	local nn
	nn=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
		grep -o -E 'linux-headers-6\.1\.0-[0-9]+-amd64' | head -n 1)
	nn=${nn#linux-headers-}
	if [ -z "$nn" ] || [ -z "$(papt_version "linux-image-$nn")" ]; then
		nn=$(papt_names '^linux-image-6\.1\.0-[0-9]+-amd64$' | tail -n 1)
		nn=${nn#linux-image-}
	fi
	[ -n "$nn" ] || return 1
	K_REL=$nn
	K_VER=$(papt_version "linux-image-$K_REL")
	K_IMG=linux-image-$K_REL
	K_HDRS="linux-headers-$K_REL linux-headers-${K_REL%-amd64}-common linux-kbuild-6.1"
	K_WHERE=host
	K_APPEND=""
	K_POOL_RE='^(contig|pages)$'
}

# The newest 6.12 built for bookworm (bookworm-security or -backports).
resolve_6_12() {
	local n
	n=$(papt_names '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | tail -n 1)
	[ -n "$n" ] || return 1
	K_REL=${n#linux-image-}
	K_VER=$(papt_version "$n")
	K_IMG=$n
	K_HDRS="linux-headers-$K_REL linux-headers-${K_REL%-amd64}-common linux-kbuild-${K_REL%-amd64}"
	K_WHERE=host
	K_APPEND=""
	K_POOL_RE='^(contig|pages)$'
}

# The newest 7.x (or later) in trixie-backports; its image is in
# linux-binary-REL.
resolve_7() {
	local n
	n=$(papt_names '^linux-image-([7-9]|[1-9][0-9])\.[0-9]+\.[0-9]+\+deb13-amd64$' | tail -n 1)
	[ -n "$n" ] || return 1
	K_REL=${n#linux-image-}
	K_VER=$(papt_version "$n")
	K_IMG=$n
	[ -n "$(papt_version "linux-binary-$K_REL")" ] && K_IMG=linux-binary-$K_REL
	K_HDRS="linux-headers-$K_REL"
	K_WHERE=chroot
	K_APPEND="cma=$VM_CMA"
	K_POOL_RE='^(cma|dma)$'
}

# A 6.1 built here from linux-source-6.1 with lockdep, DEBUG_VM, DEBUG_LIST,
# KASAN and kmemleak (debug-kernel.sh; cached in $VM_CACHE/debug).
resolve_debug() {
	local tree=$VM_CACHE/debug/linux
	say "[$label] building the debug kernel (cached in $VM_CACHE/debug; log $VM_BUILD/debug-kernel.log)"
	local t0
	t0=$(date +%s)
	logged "$VM_BUILD/debug-kernel.log" timeout "$VM_DEBUG_BUILD_TIMEOUT" \
		"$VM_DIR/debug-kernel.sh" "$VM_CACHE/debug" || return 1
	say "[$label] debug kernel ready ($(($(date +%s) - t0))s)"
	# (not "make kernelrelease": under a parent make, MAKEFLAGS carries w
	# and its output gains "Entering directory" lines)
	K_REL=$(cat "$tree/include/config/kernel.release" 2>/dev/null)
	[ -n "$K_REL" ] || { say "[$label] no $tree/include/config/kernel.release"; return 1; }
	K_VER="linux-source-6.1 $(cat "$VM_CACHE/debug/.vm-source")"
	K_IMG=""
	K_HDRS=""
	K_WHERE=host
	K_APPEND="watchdog_thresh=60"	# the boot W+X walk: ~25 s under KASAN+TCG
	K_POOL_RE='^(cma|dma|contig|pages)$'
	VMLINUZ=$tree/arch/x86/boot/bzImage
	KDIR=$tree
	# kmemleak's scan at the end of the guest must have run and found nothing
	K_STEPS=kmemleak
}

# --- steps ------------------------------------------------------------------

# Extract the kernel image of K_IMG into the cache.
fetch_vmlinuz() {
	local kroot=$VM_CACHE/k/$K_REL deb tmp f
	VMLINUZ=$kroot/vmlinuz
	[ -s "$VMLINUZ" ] && return 0
	mkdir -p "$kroot"
	deb=$(papt_fetch "$K_IMG" "$K_VER") || return 1
	tmp=$(mktemp -d "$kroot/tmp.XXXXXX")
	# bookworm's images have it in /boot, trixie's in /usr/lib/modules/REL.
	# tar complains about the pattern that matched nothing: look at what
	# it extracted instead.
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards \
		"./boot/vmlinuz-$K_REL" "./usr/lib/modules/$K_REL/vmlinuz" 2>/dev/null
	for f in "$tmp/boot/vmlinuz-$K_REL" "$tmp/usr/lib/modules/$K_REL/vmlinuz"; do
		[ -s "$f" ] && mv "$f" "$VMLINUZ"
	done
	rm -rf "$tmp"
	[ -s "$VMLINUZ" ] || { say "[$label] no vmlinuz for $K_REL in $deb"; return 1; }
}

# Unpack the headers packages into the cache and point KDIR at them.  The
# arch headers' Makefile includes the common one by absolute path: make it
# point into the unpacked tree.
fetch_headers() {
	local kroot=$VM_CACHE/k/$K_REL p deb tmp
	KDIR=$kroot/root/usr/src/linux-headers-$K_REL
	[ -f "$kroot/.headers-ok" ] && return 0
	rm -rf "$kroot/root" "$kroot"/tmp.*
	tmp=$(mktemp -d "$kroot/tmp.XXXXXX")
	for p in $K_HDRS; do
		deb=$(papt_fetch "$p" "$K_VER") || return 1
		dpkg-deb -x "$deb" "$tmp" || return 1
	done
	mv "$tmp" "$kroot/root"
	sed -i "s|^include /usr/src/|include $kroot/root/usr/src/|" "$KDIR/Makefile"
	[ -f "$KDIR/Module.symvers" ] || return 1
	touch "$kroot/.headers-ok"
}

# Copy the module's source (what git tracks or would track, not build
# outputs) to ROOT/kmod, with the shared headers it includes beside it
# (ROOT/policy/lib/include: the user.usm.* table), as a DKMS copy has them.
copy_tree() {
	local from=$1 to=$2
	mkdir -p "$to"
	if git -C "$from" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$from" && git ls-files -co --exclude-standard -z . |
			tar --null -T - -cf -) | tar -C "$to" -xf -
	else
		cp -a "$from"/. "$to"/
	fi
}
copy_kmod_src() {
	local root=$1
	rm -rf "$root/kmod" "$root/policy"
	copy_tree "$KMOD_SRC" "$root/kmod"
	if [ -d "$KMOD_SRC/../policy/lib/include" ]; then
		copy_tree "$KMOD_SRC/../policy/lib/include" "$root/policy/lib/include"
	fi
}

# Build the module for K_REL; sets KO.
build_module() {
	local b=$VM_BUILD/$K_REL ch=$VM_CACHE/trixie rel
	mkdir -p "$b"
	KO=$b/$MODULE.ko
	rm -f "$KO"
	if [ "$K_WHERE" = host ]; then
		copy_kmod_src "$b"
		logged "$b/kmod-build.log" timeout "$VM_BUILD_TIMEOUT" \
			make -C "$b/kmod" KDIR="$KDIR" -j2 || return 1
		cp "$(find "$b/kmod" -name "$MODULE.ko" | head -n 1)" "$KO" 2>/dev/null
	else
		logged "$VM_CACHE/trixie-setup.log" "$VM_DIR/mkchroot.sh" "$ch" "$K_HDRS" ||
			return 1
		# The chroot is shared by every lane using this cache: each
		# VM_BUILD builds in a directory of its own there.
		local sub
		sub=build/$(echo "$VM_BUILD" | sha256sum | cut -c1-12)
		copy_kmod_src "$ch/$sub"
		logged "$b/kmod-build.log" chroot_run "$ch" timeout "$VM_BUILD_TIMEOUT" \
			make -C "/$sub/kmod" \
			KDIR="/usr/src/linux-headers-$K_REL" -j2 || return 1
		cp "$(find "$ch/$sub/kmod" -name "$MODULE.ko" | head -n 1)" "$KO" 2>/dev/null
	fi
	[ -s "$KO" ] || { echo "no $MODULE.ko after the build" >>"$b/kmod-build.log"; return 1; }
	rel=$(modinfo -F vermagic "$KO" | awk '{print $1}')
	if [ "$rel" != "$K_REL" ]; then
		say "[$label] module vermagic '$rel' is not the kernel's '$K_REL'"
		return 1
	fi
}

# Base initramfs (kernel independent), built once per run.
BASE_CPIO=""
FS_PRESENT=0
build_base() {
	local fsdir="" o=$VM_BUILD/fs
	if [ -f "$TOP/tests/fs/Makefile" ]; then
		say "building the filesystem suite -static"
		rm -rf "$o"
		if logged "$VM_BUILD/fs-build.log" timeout "$VM_BUILD_TIMEOUT" \
			make -C "$TOP/tests/fs" static O="$o" &&
			[ -f "$o/run-suite.sh" ]; then
			fsdir=$o
			FS_PRESENT=1
		else
			total_fail=$((total_fail + 1))
			summary+=("fs suite: static build failed (log: $VM_BUILD/fs-build.log)")
			say "FAIL: the filesystem suite did not build -static; guests run without it"
		fi
	else
		say "no tests/fs yet: guests run without the filesystem suite"
	fi
	if [ "$VM_SERVER" = 1 ]; then
		say "building usm-policyd and usmctl (make -C policy)"
		if ! logged "$VM_BUILD/policy-build.log" timeout "$VM_BUILD_TIMEOUT" \
			make -C "$TOP/policy" -j2; then
			total_fail=$((total_fail + 1))
			summary+=("policy: build failed (log: $VM_BUILD/policy-build.log); guests run without the server checks")
			say "FAIL: usm-policyd did not build; guests run without the server checks"
			VM_SERVER=0
		fi
	fi
	say "building the base initramfs (busybox, fio${fsdir:+, fs suite}$([ "$VM_SERVER" = 1 ] && echo ', usm-policyd'))"
	BASE_CPIO=$VM_BUILD/base.cpio
	VM_SERVER=$VM_SERVER logged "$VM_BUILD/initramfs.log" "$VM_DIR/mkinitramfs.sh" "$BASE_CPIO" $fsdir
}

# The per-kernel initramfs: the base plus /vm/$MODULE.ko and /vm/conf.
build_initrd() {
	local b=$VM_BUILD/$K_REL d deb
	d=$b/initrd.d
	rm -rf "$d"
	mkdir -p "$d/vm"
	cp "$KO" "$d/vm/$MODULE.ko"
	# overlayfs (a module on Debian), for the suite's overlay_upper case;
	# an uncompressed one only (busybox insmod): else the case skips
	deb=$(papt_fetch "$K_IMG" "$K_VER" 2>/dev/null) &&
		dpkg-deb --fsys-tarfile "$deb" | tar -x -O --wildcards \
			"*/kernel/fs/overlayfs/overlay.ko" >"$d/vm/overlay.ko" 2>/dev/null
	[ -s "$d/vm/overlay.ko" ] || rm -f "$d/vm/overlay.ko"
	cat >"$d/vm/conf" <<EOF
KERNEL='$label'
MODULE='$MODULE'
POOL='$VM_POOL'
SIZE='$VM_SIZE'
NOSWAP_SIZE='$VM_NOSWAP_SIZE'
FS_TIMEOUT_MULT='$VM_FS_TIMEOUT_MULT'
FIO_SIZE='$VM_FIO_SIZE'
STEP_TIMEOUT='$STEP_TIMEOUT'
SUITE_TIMEOUT='$SUITE_TIMEOUT'
SERVER='$VM_SERVER'
QUICK='${VM_QUICK:-0}'
CONFORM_IDS='${VM_CONFORM_IDS:-}'
FS_ONLY='${VM_FS_ONLY:-}'
SRV_EVICT='$VM_SERVER_EVICT'
SRV_POOL='$VM_SRV_POOL'
SRV_SIZE='$VM_SRV_SIZE'
SRV_SUITE_SIZE='$VM_SRV_SUITE_SIZE'
SRV_FIO_SIZE='$VM_SRV_FIO_SIZE'
SRV_KILL_SIZE='$VM_SRV_KILL_SIZE'
SRV_SQL_ROWS='$VM_SRV_SQL_ROWS'
SRV_SQL_SIZE='$VM_SRV_SQL_SIZE'
SRV_TIMEOUT='$VM_SRV_TIMEOUT'
GUEST_TIMEOUT='$VM_TIMEOUT'
CALIB_REF_MS='$VM_CALIB_MS'
SCALE_MAX='$VM_SCALE_MAX'
BAD_RE='$BAD_RE'
EOF
	INITRD=$b/initrd.cpio
	(cd "$d" && find vm | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$b/vm.cpio" &&
		cat "$BASE_CPIO" "$b/vm.cpio" >"$INITRD"
}

# Boot the guest; the console goes to LOG, progress lines to stdout.
boot() {
	local log=$1 append="console=ttyS0 panic=-1 no_timer_check $K_APPEND"
	HOST_TIMEOUT=$((VM_TIMEOUT * VM_SCALE_MAX + 300))
	say "[$label] booting $K_REL (TCG, ${VM_MEM}M, ${VM_SMP} cpus, guest timeout ${VM_TIMEOUT}s x its slowness, at most ${HOST_TIMEOUT}s): $append"
	timeout -k 10 "$HOST_TIMEOUT" qemu-system-x86_64 -accel tcg -m "$VM_MEM" -smp "$VM_SMP" \
		-nographic -no-reboot -nic none -kernel "$VMLINUZ" -initrd "$INITRD" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -append "$append" \
		</dev/null >"$log.raw" 2>&1 &
	qpid=$!
	# Follow the console while the guest runs: our lines, the suite's
	# summary and result lines, and anything that looks like a kernel bug.
	# (grep and sed line-buffered, so that lines show as they come.)
	tail -n +1 -F --pid=$qpid "$log.raw" 2>/dev/null |
		grep --line-buffered -E "^(vm: |fs-kmod(-evict)?: )|^(PASS|FAIL|ok |not ok )|$BAD_RE" |
		sed -u -e 's/\r$//' -e "s/^/  [$label] /" &
	local tpid=$!
	wait $qpid
	QRC=$?
	qpid=""
	wait $tpid 2>/dev/null
	tr -d '\r' <"$log.raw" >"$log"
}

# Judge the guest from its console log and QEMU's exit code.
judge() {
	local log=$1 res=$1.results status v s line p f src bad
	status=$(sed -n 's/^vm: status \([0-9]*\)$/\1/p' "$log" | tail -n 1)
	# The guest prints every result again in one block at the end, with the
	# console quiet: read results from there when it is there (a kernel
	# message cannot have split a line of it), else from the whole log.
	if grep -q '^vm: results:$' "$log"; then
		sed -n '/^vm: results:$/,$p' "$log" >"$res"
	else
		cp "$log" "$res"
	fi

	# boot: the guest ran to the end and handed over the status it printed.
	if [ "$QRC" -eq 124 ] || [ "$QRC" -eq 137 ]; then
		fail "boot: timed out after ${HOST_TIMEOUT}s (last line: $(grep -v -E '^$|^qemu-system' "$log" | tail -n 1 | cut -c1-120))"
		say "[$label] the guest's last 40 lines:"
		grep -v -E '^$|^qemu-system' "$log" | tail -n 40 | sed "s/^/  [$label] | /"
	elif [ "$QRC" -eq 0 ]; then
		fail "boot: guest stopped without handing a status (panic, reboot or init died)"
	elif [ $((QRC % 2)) -eq 0 ]; then
		fail "boot: qemu failed (exit $QRC): $(grep -i -m1 'qemu' "$log")"
	else
		v=$(((QRC - 1) / 2))
		if [ -z "$status" ]; then
			fail "boot: guest handed status $v without printing one"
		elif [ "$v" != "$status" ]; then
			fail "boot: guest printed status $status but handed $v"
		else
			pass
		fi
	fi

	# log: nothing that looks like a kernel bug.
	bad=$(grep -v '^vm: diag:' "$log" | grep -c -E "$BAD_RE")
	if [ "$bad" -eq 0 ]; then
		pass
	else
		fail "log: $bad line(s) matching kernel bug patterns, first: $(grep -v '^vm: diag:' "$log" | grep -m1 -E "$BAD_RE" | cut -c1-120)"
	fi

	# pool source
	src=$(sed -n 's/^vm: pool-source //p' "$res" | tail -n 1)
	POOL_SRC=${src:-none}
	if [ -n "$src" ] && echo "$src" | grep -q -i -E "$K_POOL_RE"; then
		pass
	else
		fail "pool: source '${src:-not reported}', expected $K_POOL_RE"
	fi

	# guest steps, in order; any extra step the guest reported counts too.
	for s in $STEPS $K_STEPS; do
		line=$(grep -E "^vm: step $s (ok|FAIL)" "$res" | tail -n 1)
		case "$line" in
		*" ok"*) pass ;;
		*FAIL*) fail "step $s:${line#*FAIL}" ;;
		*) fail "step $s: did not run" ;;
		esac
	done
	while read -r line; do
		s=$(echo "$line" | awk '{print $3}')
		case " $STEPS $K_STEPS " in *" $s "*) continue ;; esac
		case "$line" in
		*" ok"*) pass ;;
		*) fail "step $s:${line#*FAIL}" ;;
		esac
	done < <(grep -E '^vm: step [^ ]+ (ok|FAIL)' "$res")

	# the filesystem suite's own count (and its eviction cases' on the
	# server's mount: fs-kmod-evict)
	if [ "$FS_PRESENT" -eq 1 ]; then
		[ "${VM_QUICK:-0}" = 1 ] || judge_suite "$res" fs-kmod suite
		if [ "$VM_SERVER" = 1 ] && [ "$VM_SERVER_EVICT" = 1 ]; then
			judge_suite "$res" fs-kmod-evict "suite (eviction, server)"
		fi
	fi
}

# judge_suite RESULTS TAG WHAT: add the suite's "TAG: N passed, N failed".
judge_suite() {
	local line p f
	line=$(grep -E "^$2: [0-9]+ passed, [0-9]+ failed" "$1" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E "s/^$2: ([0-9]+) passed.*/\\1/")
		f=$(echo "$line" | sed -E "s/^$2: [0-9]+ passed, ([0-9]+) failed.*/\\1/")
		kpass=$((kpass + p))
		kfail=$((kfail + f))
		[ "$f" -eq 0 ] || { [ -n "$kwhy" ] || kwhy="$3: $f case(s) failed"; }
		say "[$label] $3: ${line#"$2": }"
	else
		fail "$3: no '$2: N passed, N failed' line (did not run or did not finish)"
	fi
}

run_kernel() {
	local spec=$1 t0 log
	kpass=0 kfail=0 kwhy="" POOL_SRC=- K_STEPS=""
	if [ "$spec" = debug ]; then
		# (local: seen by what this calls, gone for the next kernel)
		local VM_TIMEOUT=$VM_DEBUG_TIMEOUT VM_FIO_SIZE=$VM_DEBUG_FIO_SIZE VM_SRV_POOL=$VM_DEBUG_SRV_POOL \
			VM_SRV_SIZE=$VM_DEBUG_SRV_SIZE VM_SRV_FIO_SIZE=$VM_DEBUG_SRV_FIO_SIZE \
			VM_SRV_KILL_SIZE=$VM_DEBUG_SRV_KILL_SIZE VM_SRV_TIMEOUT=$VM_DEBUG_SRV_TIMEOUT \
			VM_SRV_SQL_ROWS=$VM_DEBUG_SRV_SQL_ROWS VM_SRV_SQL_SIZE=$VM_DEBUG_SRV_SQL_SIZE \
			STEP_TIMEOUT=$VM_DEBUG_STEP_TIMEOUT SUITE_TIMEOUT=$VM_DEBUG_SUITE_TIMEOUT \
			VM_FS_TIMEOUT_MULT=$VM_DEBUG_FS_TIMEOUT_MULT VM_CONFORM_IDS=$VM_DEBUG_CONFORM_IDS \
			VM_FS_ONLY=$VM_DEBUG_FS_ONLY
		say "[debug] sizes: fio 2x$VM_FIO_SIZE; server: pool $VM_SRV_POOL, size $VM_SRV_SIZE, fio 2x$VM_SRV_FIO_SIZE, kill 2x$VM_SRV_KILL_SIZE; guest ${VM_TIMEOUT}s"
	fi
	label=$spec
	t0=$(date +%s)
	if ! "resolve_${spec//./_}"; then
		if [ "$spec" = debug ]; then
			fail "build: debug kernel (log: $VM_BUILD/debug-kernel.log)"
		else
			fail "select: no $spec kernel found in the package lists"
		fi
		return
	fi
	label="$spec $K_REL"
	say "[$label] kernel $K_REL ($K_VER), module built on the $K_WHERE${K_APPEND:+, $K_APPEND}"

	if [ -n "$K_IMG" ]; then
		say "[$label] fetching the kernel image ($K_IMG)"
		fetch_vmlinuz || { fail "fetch: kernel image $K_IMG=$K_VER"; return; }
	fi
	if [ "$K_WHERE" = chroot ]; then
		say "[$label] preparing the trixie chroot with $K_HDRS"
	elif [ -n "$K_HDRS" ]; then
		say "[$label] fetching headers ($K_HDRS)"
		fetch_headers || { fail "fetch: headers $K_HDRS=$K_VER"; return; }
	fi
	say "[$label] building $MODULE.ko"
	build_module || { fail "build: $MODULE.ko (log: $VM_BUILD/$K_REL/kmod-build.log)"; return; }
	build_initrd || { fail "initramfs: could not write $VM_BUILD/$K_REL/initrd.cpio"; return; }
	if [ "${VM_PREP_ONLY:-0}" = 1 ]; then
		# For the torture test, which boots its own initramfs.
		pass
		say "[$label] kernel and module ready (VM_PREP_ONLY: no guest)"
		rm -f "$INITRD"
		return
	fi

	log=$VM_BUILD/$K_REL/guest.log
	boot "$log"
	# The initrd is the base plus a few KiB: keep the disk free (VM_KEEP=1
	# keeps it for booting by hand).
	[ "${VM_KEEP:-0}" = 1 ] || rm -f "$INITRD" "$log.raw"
	judge "$log"
	say "[$label] pool source: $POOL_SRC"
	say "[$label] $kpass passed, $kfail failed in $(($(date +%s) - t0))s (log: $log)"
}

mkdir -p "$VM_CACHE" "$VM_BUILD"
if [ ! -f "$KMOD_SRC/Makefile" ]; then
	say "no $KMOD_SRC/Makefile: no module to test yet"
	echo "kmod: 0 passed, 0 failed"
	exit 0
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 missing: run make -C tests/vm deps"

say "kernels: $*; cache $VM_CACHE; logs $VM_BUILD"
say "refreshing the private package lists"
papt_update
build_base || die "could not build the base initramfs (log: $VM_BUILD/initramfs.log)"

for k in "$@"; do
	run_kernel "$k"
	total_pass=$((total_pass + kpass))
	total_fail=$((total_fail + kfail))
	if [ $kfail -eq 0 ]; then
		summary+=("$(printf '%-28s pass  %4d passed, %3d failed  pool %s' "$label" $kpass $kfail "$POOL_SRC")")
	else
		summary+=("$(printf '%-28s FAIL  %4d passed, %3d failed  pool %s  (%s)' "$label" $kpass $kfail "$POOL_SRC" "$kwhy")")
	fi
done

echo
say "summary ($(($(date +%s) - start_all))s):"
for s in "${summary[@]}"; do
	echo "  $s"
done
echo "kmod: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
