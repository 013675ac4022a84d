#!/bin/bash
# mkchroot.sh DIR HEADERS_PKG
#
# Make (or bring up to date) a minimal Debian trixie chroot in DIR that can
# build out-of-tree modules against HEADERS_PKG (a trixie-backports
# linux-headers-REL package, which needs gcc-14 and glibc >= 2.38, so it
# cannot build on the bookworm host).  The chroot gets its own sources list
# with trixie-backports; the host's apt configuration is not touched.
#
# Bounded: debootstrap and apt run under timeouts; /proc is mounted only
# while apt runs in the chroot and is unmounted on any exit.
set -u
. "$(dirname "$0")/lib.sh"

dir=$1
hdr=$2
suite=trixie
# What the module build needs beyond minbase.  The headers package pulls
# the rest (gcc-14-for-host, linux-kbuild-*, ...) from trixie-backports.
include=make,gcc-14,libc6-dev

mkdir -p "$(dirname "$dir")"
if [ ! -f "$dir/.vm-bootstrapped" ]; then
	umount_under "$dir"
	umount_under "$dir.tmp"
	rm -rf "$dir" "$dir.tmp"
	say "chroot: debootstrap $suite minbase (+ $include) into $dir"
	if ! logged "$dir.log" timeout 900 debootstrap --variant=minbase \
		--include="$include" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
		"$suite" "$dir.tmp" "$DEBIAN_MIRROR"; then
		die "chroot: debootstrap of $suite failed (log: $dir.log)"
	fi
	mv "$dir.tmp" "$dir"
	touch "$dir/.vm-bootstrapped"
fi

if [ -f "$dir/.vm-headers" ] && [ "$(cat "$dir/.vm-headers")" = "$hdr" ] &&
	[ -d "$dir/usr/src/$hdr" ]; then
	exit 0
fi

cat >"$dir/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $suite main
deb $DEBIAN_MIRROR $suite-backports main
EOF
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null
say "chroot: installing $hdr"
capt() {
	chroot_run "$dir" timeout 600 apt-get -o Acquire::Retries=3 "$@"
}
if ! logged "$dir.apt.log" retry 2 capt -qq update; then
	die "chroot: apt update failed (log: $dir.apt.log)"
fi
if ! logged "$dir.apt.log" retry 2 capt -y -qq --no-install-recommends install "$hdr"; then
	die "chroot: installing $hdr failed (log: $dir.apt.log)"
fi
capt -qq clean >/dev/null 2>&1
echo "$hdr" >"$dir/.vm-headers"
