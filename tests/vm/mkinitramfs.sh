#!/bin/bash
# mkinitramfs.sh OUT.cpio [FSDIR]
#
# Build the kernel-independent part of the guests' initramfs (newc cpio,
# uncompressed: the guest unpacks it faster than it could decompress it):
#   - busybox-static with a link per applet, on a merged-/usr layout;
#   - Debian's fio with every shared library ldd finds, and the loader;
#   - FSDIR (the filesystem suite: run-suite.sh and its -static programs)
#     as /fs, when given;
#   - the conformance check (add_conform): Debian's stress-ng with its
#     libraries, fsx built -static, stressors.tsv and conform-guest.sh in
#     /conform;
#   - /init (init.sh).
# The per-kernel part (/vm/usmfs.ko, /vm/conf) is a second cpio that the
# lane appends: the kernel unpacks concatenated archives in order.
set -eu
. "$(dirname "$0")/lib.sh"

out=$1
fsdir=${2:-}
root=$out.root

rm -rf "$root"
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,tmp,mnt,etc,root,run,vm}
for d in bin sbin lib lib64; do
	ln -s "usr/$d" "$root/$d"
done

busybox=/bin/busybox
[ -x "$busybox" ] || die "initramfs: $busybox not found (package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
	die "initramfs: $busybox is dynamically linked: install busybox-static"
fi
cp "$busybox" "$root/usr/bin/busybox"
for applet in $("$busybox" --list-full); do
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
done

fio=$(command -v fio) || die "initramfs: fio not found (package fio)"
rm -f "$root/usr/bin/fio"
cp "$fio" "$root/usr/bin/fio"
# Copy every library at the path ldd shows (ld.so finds them there: the
# default multiarch directories, or the RUNPATH of the library needing it).
ldd "$fio" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' |
while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "initramfs: no dynamic loader copied for fio"

# add_conform: stress-ng (and every library ldd finds, as for fio), fsx
# -static from tests/conform/fsx.c, the stressor list and the guest script.
add_conform() {
	local sng cdir=$TOP/tests/conform
	sng=$(command -v stress-ng) || die "initramfs: stress-ng not found (package stress-ng)"
	cp "$sng" "$root/usr/bin/stress-ng"
	ldd "$sng" | awk '/=> \// { print $3 }' | while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$root/usr/bin/fsx" \
		"$cdir/fsx.c" || die "initramfs: fsx did not build -static"
	mkdir -p "$root/conform"
	cp "$cdir/stressors.tsv" "$root/conform/"
	install -m 0755 "$VM_DIR/conform-guest.sh" "$root/conform/conform-guest.sh"
}
add_conform

if [ -n "$fsdir" ]; then
	mkdir -p "$root/fs"
	cp -a "$fsdir"/. "$root/fs/"
fi

install -m 0755 "$VM_DIR/init.sh" "$root/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$root"
