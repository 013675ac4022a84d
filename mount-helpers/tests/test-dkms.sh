#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# mount-helpers/tests/test-dkms.sh - the DKMS source tree that "make -C
# mount-helpers install" lays out builds usmfs.ko with dkms(8), for every
# kernel whose headers are installed (or those given as arguments).
# Needs root and the dkms package; removes what it added.
# Ends with "dkms: N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
VER=0.1
pass=0 fail=0
T=$(mktemp -d /tmp/usmfs-dkms.XXXXXX)

if ! command -v dkms >/dev/null; then
	echo "dkms: not installed (apt-get install dkms)"; echo "dkms: 0 passed, 1 failed"; exit 1
fi
if [ -e /usr/src/usmfs-$VER ] || dkms status usmfs 2>/dev/null | grep -q usmfs; then
	echo "dkms: usmfs/$VER is already in DKMS or /usr/src: not touching it"
	echo "dkms: 0 passed, 1 failed"; exit 1
fi
cleanup() {
	dkms remove usmfs/$VER --all >/dev/null 2>&1
	rm -rf /usr/src/usmfs-$VER "$T"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }

make -s -C "$TOP/mount-helpers" install DESTDIR="$T/root" >/dev/null || { ko "install"; exit 1; }
tree=$T/root/usr/src/usmfs-$VER
if [ -f "$tree/dkms.conf" ] && [ -f "$tree/kmod/Kbuild" ] &&
   [ -f "$tree/policy/lib/include/usm/xattr-defs.h" ] &&
   [ -f "$tree/policy/lib/include/usm/parse-core.h" ]; then
	ok "install lays out the DKMS tree"
else
	ko "install lays out the DKMS tree"; exit 1
fi
cp -a "$tree" /usr/src/usmfs-$VER
if dkms add usmfs/$VER >"$T/add.log" 2>&1; then ok "dkms add"; else ko "dkms add" "$(tail -2 "$T/add.log")"; fi

kernels=("$@")
if [ ${#kernels[@]} = 0 ]; then
	for b in /lib/modules/*/build; do
		[ -e "$b/Makefile" ] && kernels+=("$(basename "$(dirname "$b")")")
	done
fi
for k in "${kernels[@]}"; do
	if nice dkms build usmfs/$VER -k "$k" >"$T/build.log" 2>&1 &&
	   ls /var/lib/dkms/usmfs/$VER/"$k"/*/module/usmfs.ko* >/dev/null 2>&1; then
		ok "dkms build for $k"
	else
		ko "dkms build for $k" "$(grep -m3 -E 'error|Error' "$T/build.log" /var/lib/dkms/usmfs/$VER/build/make.log 2>/dev/null | tr '\n' ' ')"
	fi
done
echo "dkms: $pass passed, $fail failed"
[ "$fail" = 0 ]
