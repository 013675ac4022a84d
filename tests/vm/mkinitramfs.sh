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
#   - the policy server's checks (add_server): usm-policyd, usmctl,
#     getfattr/setfattr, util-linux mount/umount, mount.usmfs, the guest
#     config and server-guest.sh, in /usm (VM_SERVER=0: left out);
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

# copy_bin SRC DEST: a dynamically linked program at DEST in the image,
# with every library ldd finds (at the path ldd shows) and the loader.
copy_bin() {
	mkdir -p "$root$(dirname "$2")"
	cp "$1" "$root$2"
	ldd "$1" | awk '/=> \// { print $3 } /^[[:space:]]*\/[^ ]*ld-linux/ { print $1 }' |
	while read -r lib; do
		[ -e "$root$lib" ] && continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}

# add_server: the policy server's checks (server-guest.sh, in /usm):
# usm-policyd and usmctl (policy/build, POLICY_BUILD), getfattr/setfattr,
# util-linux's mount, umount and findmnt (in /usm/bin: busybox's stay /usr/bin/mount
# until server-guest.sh switches), mount.usmfs and the guest's usmfs.conf
# (installed into /sbin and /etc by server-guest.sh, so that the rest of
# the guest and kmod/tests/guest.sh see neither).
add_server() {
	local pb=${POLICY_BUILD:-$TOP/policy/build} p
	for p in usm-policyd usmctl; do
		[ -x "$pb/$p" ] || die "initramfs: $pb/$p not built (make -C policy)"
	done
	copy_bin "$pb/usm-policyd" /usr/sbin/usm-policyd
	copy_bin "$pb/usmctl" /usr/bin/usmctl
	for p in getfattr setfattr; do
		command -v "$p" >/dev/null || die "initramfs: $p not found (package attr)"
		copy_bin "$(command -v "$p")" "/usr/bin/$p"
	done
	command -v sqlite3 >/dev/null || die "initramfs: sqlite3 not found (package sqlite3)"
	copy_bin "$(command -v sqlite3)" /usr/bin/sqlite3
	copy_bin /usr/bin/mount /usm/bin/mount
	copy_bin /usr/bin/umount /usm/bin/umount
	copy_bin /usr/bin/findmnt /usm/bin/findmnt
	install -m 0755 "$TOP/mount-helpers/mount.usmfs" "$root/usm/mount.usmfs"
	install -m 0644 "$VM_DIR/usmfs-guest.conf" "$root/usm/usmfs.conf"
	install -m 0755 "$VM_DIR/server-guest.sh" "$root/usm/server-guest.sh"
	install -m 0755 "$VM_DIR/sql-work.sh" "$root/usm/sql-work.sh"
	mkdir -p "$root/var/log" "$root/var/lib/usmfs"
}
[ "${VM_SERVER:-1}" = 0 ] || add_server

if [ -n "$fsdir" ]; then
	mkdir -p "$root/fs"
	cp -a "$fsdir"/. "$root/fs/"
fi

install -m 0755 "$VM_DIR/init.sh" "$root/init"
install -m 0644 "$VM_DIR/guest-lib.sh" "$root/vm-lib.sh"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$root"
