#!/bin/bash
# kmod/tests/run.sh [KERNEL_RELEASE...] - boot kmod/tests/guest.sh in QEMU/TCG
# on kernels the VM lane (tests/vm) has already fetched and built the module
# for: run `make -C tests/vm test` first.  Reuses its cache: the kernel in
# .cache/vm/k/REL/vmlinuz, the module in build/vm/REL/usmfs.ko, and the
# busybox initramfs build/vm/base.cpio.  Ends "kmod-tests: N passed, N failed".
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${VM_CACHE:-$TOP/.cache/vm}
BUILD=${VM_BUILD:-$TOP/build/vm}
OUT=$BUILD/kmod-tests
mkdir -p "$OUT"

[ -s "$BUILD/base.cpio" ] || { echo "kmod-tests: no $BUILD/base.cpio: run make -C tests/vm test first"; exit 1; }
# One kernel of your own: KT_VMLINUZ=bzImage KT_KO=usmfs.ko run.sh LABEL
# (the debug kernel: vmlinuz and module built against its tree).
if [ -n "${KT_VMLINUZ:-}" ]; then
	[ $# -eq 1 ] && [ -s "$KT_VMLINUZ" ] && [ -s "${KT_KO:-}" ] ||
		{ echo "kmod-tests: KT_VMLINUZ and KT_KO need one LABEL"; exit 1; }
	mkdir -p "$CACHE/k/$1" "$BUILD/$1"
	cp "$KT_VMLINUZ" "$CACHE/k/$1/vmlinuz"
	cp "$KT_KO" "$BUILD/$1/usmfs.ko"
fi
if [ $# -eq 0 ]; then
	for d in "$CACHE"/k/*/; do
		r=$(basename "$d")
		[ -s "$d/vmlinuz" ] && [ -s "$BUILD/$r/usmfs.ko" ] && set -- "$@" "$r"
	done
fi
[ $# -gt 0 ] || { echo "kmod-tests: no kernel with a built module in $BUILD"; exit 1; }

gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/stress" "$TOP/kmod/tests/stress.c" ||
	{ echo "kmod-tests: stress.c does not build"; exit 1; }
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/chantest" "$TOP/kmod/tests/chantest.c" "$TOP/kmod/tests/chanswap.c" ||
	{ echo "kmod-tests: chantest.c does not build"; exit 1; }
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/gup" "$TOP/kmod/tests/gup.c" ||
	{ echo "kmod-tests: gup.c does not build"; exit 1; }
gcc -static -O2 -Wall -Wextra -Werror -o "$OUT/jsoncheck" "$TOP/kmod/tests/jsoncheck.c" ||
	{ echo "kmod-tests: jsoncheck.c does not build"; exit 1; }
gcc -static -O2 -Wall -Wextra -Werror -pthread -o "$OUT/lifetest" "$TOP/kmod/tests/lifetest.c" ||
	{ echo "kmod-tests: lifetest.c does not build"; exit 1; }
# usm-policyd (make -C policy), with the libraries ldd lists, as fio is in
# the lane's initramfs.
# usmctl likewise, and getfattr/setfattr (attr) to look at xattrs.
PD=${USM_POLICYD:-$TOP/policy/build/usm-policyd}
CTL=${USMCTL:-$TOP/policy/build/usmctl}
# (make, not only when missing: a stale binary would test old code)
if [ -z "${USM_POLICYD:-}${USMCTL:-}" ]; then
	make -C "$TOP/policy" >"$OUT/policy-build.log" 2>&1 ||
		{ echo "kmod-tests: usm-policyd/usmctl do not build ($OUT/policy-build.log)"; exit 1; }
fi
[ -x "$PD" ] && [ -x "$CTL" ] || { echo "kmod-tests: no $PD or $CTL"; exit 1; }
GETFATTR=$(command -v getfattr) && SETFATTR=$(command -v setfattr) ||
	{ echo "kmod-tests: getfattr/setfattr missing (Debian package attr)"; exit 1; }

tp=0
tf=0
for rel in "$@"; do
	d=$OUT/$rel
	rm -rf "$d"
	mkdir -p "$d/root/kt"
	cp "$BUILD/$rel/usmfs.ko" "$OUT/stress" "$d/root/kt/"
	cp "$OUT/chantest" "$OUT/gup" "$OUT/jsoncheck" "$OUT/lifetest" "$PD" "$CTL" "$GETFATTR" "$SETFATTR" "$d/root/kt/"
	for lib in $(ldd "$PD" "$CTL" "$GETFATTR" "$SETFATTR" |
		     awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' | sort -u); do
		mkdir -p "$d/root$(dirname "$lib")"
		cp -L "$lib" "$d/root$lib"
	done
	# brd.ko (a ramdisk for gup.c's O_DIRECT) from the kernel's image
	# package, where it has its modules (6.1: brd.ko, 6.12: brd.ko.xz; not
	# 7.x's linux-binary)
	deb=$(ls "$CACHE"/debs/linux-image-"$rel"_*.deb 2>/dev/null | head -n 1)
	if [ -n "$deb" ]; then
		mkdir -p "$d/brd"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -x -C "$d/brd" --wildcards "*/drivers/block/brd.ko*" 2>/dev/null
		ko=$(find "$d/brd" -name "brd.ko*" | head -n 1)
		case $ko in
		*.xz) xz -dc "$ko" >"$d/root/kt/brd.ko" ;;
		?*) cp "$ko" "$d/root/kt/brd.ko" ;;
		esac
		rm -rf "$d/brd"
	fi
	# KT_GUEST=script: that /init instead, KT_EXTRA="FILE...": more in /kt
	# (a quick look while developing)
	[ -z "${KT_EXTRA:-}" ] || cp $KT_EXTRA "$d/root/kt/"
	cp "${KT_GUEST:-$TOP/kmod/tests/guest.sh}" "$d/root/init"
	cp "$TOP/kmod/tests/server.sh" "$TOP/kmod/tests/poolfull.sh" "$TOP/kmod/tests/killswap.sh" \
		"$d/root/kt/"
	chmod +x "$d/root/init"
	# no_timer_check: a loaded host can make TCG miss the IO-APIC timer
	# check at boot ("IO-APIC + timer doesn't work!", a panic; seen in CI).
	append="console=ttyS0 panic=-1 no_timer_check"
	case $rel in
	6.1.*|debug*)	printf 'SOURCES="auto contig pages"\nPARTIAL=\nNOSRC=cma\nFAULT_AROUND=0\nHUGE_MAP=0\n' >"$d/root/kt/conf" ;;
	6.*)	printf 'SOURCES="auto contig pages"\nPARTIAL=\nNOSRC=cma\n' >"$d/root/kt/conf" ;;
	*)	printf 'SOURCES="auto cma contig pages"\nPARTIAL="cma 96M"\nNOSRC=\n' >"$d/root/kt/conf"
		append="$append cma=64M" ;;
	esac
	(cd "$d/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$d/kt.cpio"
	cat "$BUILD/base.cpio" "$d/kt.cpio" >"$d/initrd"
	echo "kmod-tests: [$rel] booting"
	# -cpu max: RDRAND, so the CRNG is ready at boot.  Otherwise it becomes
	# ready later and the kernel patches a static key while the other CPU
	# may run that code, which multi-threaded TCG gets wrong at times (seen:
	# "Oops: int3" in urandom_read_iter on 7.3, unrelated to the module).
	timeout -k 10 1800 qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 2 -nographic \
		-no-reboot -nic none -kernel "$CACHE/k/$rel/vmlinuz" -initrd "$d/initrd" \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 -append "$append" \
		</dev/null 2>&1 | stdbuf -oL tr -d '\r' >"$d/console.log"
	qrc=${PIPESTATUS[0]}
	grep -E '^kt: ' "$d/console.log" | sed "s/^/  [$rel] /"
	p=$(grep -c '^kt: PASS' "$d/console.log")
	f=$(grep -c '^kt: FAIL' "$d/console.log")
	if ! grep -q -E '^kt: [0-9]+ passed' "$d/console.log"; then
		echo "  [$rel] the guest did not finish (qemu exit $qrc; log: $d/console.log)"
		tail -n 15 "$d/console.log" | sed "s/^/  [$rel] | /"
		f=$((f + 1))
	fi
	tp=$((tp + p))
	tf=$((tf + f))
done
echo "kmod-tests: $tp passed, $tf failed"
[ "$tf" -eq 0 ]
