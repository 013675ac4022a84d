#!/bin/bash
# debug-kernel.sh DIR
#
# Build (or bring up to date) the lane's debug kernel in DIR from Debian's
# linux-source-6.1 (fetched through the private apt): tinyconfig +
# debug.config (what the guest uses, and lockdep, DEBUG_VM, DEBUG_LIST,
# KASAN, kmemleak): about 40% of defconfig's objects, so that the build fits
# CI's time with the rest of make test.  DIR/linux is the built tree (the module's KDIR) with
# arch/x86/boot/bzImage.  A rebuild happens when the source version or
# debug.config changes; otherwise this is a no-op.
set -eu
. "$(dirname "$0")/lib.sh"

dir=$1
mkdir -p "$dir"
# One build at a time in DIR (make test starts one in the background early,
# the lane's debug kernel then waits for it here and finds it built).
exec 9>"$dir/.lock"
flock 9
ver=$(papt_version linux-source-6.1)
[ -n "$ver" ] || die "debug: no linux-source-6.1 in the package lists"
want="$ver $(sha256sum "$VM_DIR/debug.config" | cut -c1-16)"
if [ -f "$dir/.vm-built" ] && [ "$(cat "$dir/.vm-built")" = "$want" ]; then
	exit 0
fi

if [ ! -f "$dir/.vm-source" ] || [ "$(cat "$dir/.vm-source")" != "$ver" ]; then
	deb=$(papt_fetch linux-source-6.1 "$ver")
	say "debug: unpacking linux-source-6.1 $ver"
	rm -rf "$dir/linux" "$dir/unpack"
	mkdir -p "$dir/unpack"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/unpack" ./usr/src/linux-source-6.1.tar.xz
	tar -xJf "$dir/unpack/usr/src/linux-source-6.1.tar.xz" -C "$dir/unpack"
	mv "$dir/unpack/linux-source-6.1" "$dir/linux"
	rm -rf "$dir/unpack"
	echo "$ver" >"$dir/.vm-source"
	rm -f "$dir/.vm-built"
fi

cd "$dir/linux"
say "debug: configuring (tinyconfig + debug.config)"
make -s tinyconfig >/dev/null
# (the fragment overrides tinyconfig's choices: size optimisation, SLOB)
scripts/kconfig/merge_config.sh -m .config "$VM_DIR/debug.config" >/dev/null 2>&1
make -s olddefconfig
for opt in 64BIT SMP PROVE_LOCKING DEBUG_VM DEBUG_LIST KASAN DEBUG_KMEMLEAK MODULES \
	MODULE_UNLOAD DEVPORT DEVTMPFS DEBUG_FS BLK_DEV_INITRD SERIAL_8250_CONSOLE CONTIG_ALLOC \
	TMPFS SLUB MEMORY_HOTREMOVE TRANSPARENT_HUGEPAGE COMPACTION SYSVIPC AIO IO_URING \
	FHANDLE KALLSYMS MAGIC_SYSRQ PROC_PAGE_MONITOR ACPI PREEMPT; do
	grep -q "^CONFIG_$opt=y" .config || die "debug: CONFIG_$opt did not stick in .config"
done
say "debug: building bzImage and modules (make -j2; several minutes)"
nice make -j2 bzImage modules
echo "$want" >"$dir/.vm-built"
