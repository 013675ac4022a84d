#!/bin/bash
# tests/vm/torture.sh [KERNEL...]   KERNEL: 6.1 | 6.12 | 7 | debug | a release
#
# The torture test (docs/testing-kmod.md): boots tests/vm/torture-guest.sh
# in a QEMU/TCG guest per kernel, which runs kmod/tests/torture.c for
# TORTURE_S seconds (default 120) on a mount whose data is three times the
# pool's share, with usm-policyd evicting, stopped, killed and restarted.
# Reuses what the lane (lane.sh) built: the kernel in
# $VM_CACHE/k/REL/vmlinuz (the debug kernel: $VM_CACHE/debug/linux), the
# module in $VM_BUILD/REL/usmfs.ko, the busybox initramfs
# $VM_BUILD/base.cpio; run `make -C tests/vm KERNELS="..." test` first.
# Without arguments: every kernel the lane built a module for.
# Ends "torture: N passed, N failed"; exits 1 on any failure.
#
# Settings: TORTURE_S, TORTURE_POOL (16M), TORTURE_SIZE (the mount's
# size=, 10M), TORTURE_FILES (8) x TORTURE_PAGES (1024: 4 MiB each),
# TORTURE_MEM (guest MiB, 1536: the server's store is in the guest's RAM),
# TORTURE_VM_TIMEOUT (one guest, seconds; default TORTURE_S + 1800),
# TORTURE_SKIP (actors left out, to look at one failure at a time: a
# comma-separated list of killer, server, policy, remount).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VM_CACHE:-$TOP/.cache/vm}
BUILD=${VM_BUILD:-$TOP/build/vm}
OUT=$BUILD/torture
TORTURE_S=${TORTURE_S:-120}
TORTURE_POOL=${TORTURE_POOL:-16M}
TORTURE_SIZE=${TORTURE_SIZE:-10M}
TORTURE_FILES=${TORTURE_FILES:-8}
TORTURE_PAGES=${TORTURE_PAGES:-1024}
TORTURE_MEM=${TORTURE_MEM:-1536}
TORTURE_SKIP=${TORTURE_SKIP:-}
TORTURE_VM_TIMEOUT=${TORTURE_VM_TIMEOUT:-$((TORTURE_S + 1800))}
BAD_RE='WARNING:|BUG:|Oops|Call Trace|unreferenced object|Kernel panic|general protection fault|usmfs: .*(leak|still in use)|KASAN|possible circular locking|Busy inodes'

die() { echo "torture: $*"; exit 1; }
case $TORTURE_S in '' | *[!0-9]*) die "TORTURE_S='$TORTURE_S': seconds, digits only" ;; esac
case ,$TORTURE_SKIP, in *[!a-z,]* | *,,*,*) die "TORTURE_SKIP='$TORTURE_SKIP': a list of killer, server, policy, remount" ;; esac
for a in ${TORTURE_SKIP//,/ }; do
	case $a in killer | server | policy | remount) ;; *) die "TORTURE_SKIP: no actor '$a' (killer, server, policy, remount)" ;; esac
done
[ "$TORTURE_S" -gt 0 ] || die "TORTURE_S must be at least 1"
[ -s "$BUILD/base.cpio" ] || die "no $BUILD/base.cpio: run make -C tests/vm test first"
mkdir -p "$OUT"

# built REL: the kernel and a module for it are there.
built() { [ -s "$CACHE/k/$1/vmlinuz" ] && [ -s "$BUILD/$1/usmfs.ko" ]; }

# resolve NAME: the release the lane built for a kernel name of lane.sh
# (the newest one cached), or NAME itself when it is a release.
debug_rel() { cat "$CACHE/debug/linux/include/config/kernel.release" 2>/dev/null; }
resolve() {
	local re r
	case $1 in
	6.1) re='^6\.1\.0-[0-9]+-amd64$' ;;
	6.12) re='^6\.12\.[0-9]+\+deb12-amd64$' ;;
	7) re='^([7-9]|[1-9][0-9])\.[0-9]+\.[0-9]+\+deb13-amd64$' ;;
	debug)
		r=$(debug_rel)
		[ -n "$r" ] && [ -s "$CACHE/debug/linux/arch/x86/boot/bzImage" ] &&
			[ -s "$BUILD/$r/usmfs.ko" ] && echo "$r"
		return ;;
	*) built "$1" && echo "$1"; return ;;
	esac
	for r in "$CACHE"/k/*/; do
		r=$(basename "$r")
		echo "$r" | grep -q -E "$re" && built "$r" && echo "$r"
	done | sort -V | tail -n 1 | grep .
}
vmlinuz_of() {
	if [ "$1" = "$(debug_rel)" ] && [ -s "$CACHE/debug/linux/arch/x86/boot/bzImage" ]; then
		echo "$CACHE/debug/linux/arch/x86/boot/bzImage"
	else
		echo "$CACHE/k/$1/vmlinuz"
	fi
}

rels=()
if [ $# -eq 0 ]; then
	for k in 6.1 6.12 7 debug; do
		r=$(resolve "$k") && rels+=("$r")
	done
	[ ${#rels[@]} -gt 0 ] || die "no kernel with a built module in $BUILD: run make -C tests/vm test first"
else
	for k in "$@"; do
		r=$(resolve "$k") ||
			die "no kernel '$k' built by the lane in $CACHE/k with a module in $BUILD (run make -C tests/vm KERNELS=\"$k\" test first)"
		rels+=("$r")
	done
fi

gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/torture" "$TOP/kmod/tests/torture.c" ||
	die "kmod/tests/torture.c does not build"
# usm-policyd as it is now (make, not only when missing: a stale binary
# would test old code), with the libraries ldd lists, over the base's.
PD=${USM_POLICYD:-$TOP/policy/build/usm-policyd}
if [ -z "${USM_POLICYD:-}" ]; then
	make -C "$TOP/policy" >"$OUT/policy-build.log" 2>&1 ||
		die "usm-policyd does not build ($OUT/policy-build.log)"
fi
[ -x "$PD" ] || die "no $PD"

tp=0
tf=0
for rel in "${rels[@]}"; do
	d=$OUT/$rel
	rm -rf "$d"
	mkdir -p "$d/root/tt" "$d/root/usr/sbin"
	cp "$BUILD/$rel/usmfs.ko" "$OUT/torture" "$d/root/tt/"
	cp "$PD" "$d/root/usr/sbin/usm-policyd"
	for lib in $(ldd "$PD" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u); do
		mkdir -p "$d/root$(dirname "$lib")"
		cp -L "$lib" "$d/root$lib"
	done
	cp "$TOP/tests/vm/torture-guest.sh" "$d/root/init"
	chmod +x "$d/root/init"
	printf 'TORTURE_S=%s\nPOOL=%s\nSIZE=%s\nFILES=%s\nPAGES=%s\nSKIP=%s\n' "$TORTURE_S" \
		"$TORTURE_POOL" "$TORTURE_SIZE" "$TORTURE_FILES" "$TORTURE_PAGES" "$TORTURE_SKIP" \
		>"$d/root/tt/conf"
	# (as kmod/tests/run.sh: no_timer_check for loaded hosts; CMA on 7.x)
	append="console=ttyS0 panic=-1 no_timer_check"
	case $rel in 6.* | "$(debug_rel)") ;; *) append="$append cma=64M" ;; esac
	# The debug kernel's boot-time W+X page-table walk under KASAN and TCG
	# takes ~25 s (a soft lockup report at the default 20 s threshold).
	[ "$rel" = "$(debug_rel)" ] && append="$append watchdog_thresh=60"
	(cd "$d/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$d/tt.cpio"
	cat "$BUILD/base.cpio" "$d/tt.cpio" >"$d/initrd"
	echo "torture: [$rel] booting (${TORTURE_S}s run, pool $TORTURE_POOL, log $d/console.log)"
	t0=$(date +%s)
	# -cpu max: RDRAND, the CRNG ready at boot (see kmod/tests/run.sh)
	timeout -k 10 "$TORTURE_VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max \
		-m "$TORTURE_MEM" -smp 2 -nographic -no-reboot -nic none \
		-kernel "$(vmlinuz_of "$rel")" -initrd "$d/initrd" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -append "$append" \
		</dev/null 2>&1 | stdbuf -oL tr -d '\r' >"$d/console.log"
	qrc=${PIPESTATUS[0]}
	grep -E '^torture: (PASS|FAIL|figures:|MISMATCH|ERROR|[0-9]+ passed)' "$d/console.log" |
		head -n 60 | sed "s/^/  [$rel] /"
	p=$(grep -c '^torture: PASS ' "$d/console.log")
	f=$(grep -c '^torture: FAIL ' "$d/console.log")
	if ! grep -q -E '^torture: [0-9]+ passed' "$d/console.log"; then
		echo "  [$rel] the guest did not finish (qemu exit $qrc after $(($(date +%s) - t0))s)"
		tail -n 25 "$d/console.log" | sed "s/^/  [$rel] | /"
		f=$((f + 1))
	elif grep -q "^torture: PASS dmesg-clean" "$d/console.log" &&
	     grep -v "^torture: " "$d/console.log" | grep -q -E "$BAD_RE"; then
		# the guest's own check missed it (the console has it all)
		echo "  [$rel] FAIL console: $(grep -v '^torture: ' "$d/console.log" | grep -m1 -E "$BAD_RE")"
		f=$((f + 1))
	fi
	echo "  [$rel] $p passed, $f failed ($(($(date +%s) - t0))s)"
	tp=$((tp + p))
	tf=$((tf + f))
done
echo "torture: $tp passed, $tf failed"
[ "$tf" -eq 0 ]
