#!/bin/sh
# tmpfs-lane.sh [FSTEST] - run the suite on a fresh tmpfs (the reference:
# everything but the usmfs-only cases must pass), with a small second tmpfs
# as the swap=none mount for full_pool.  Then, where busybox is installed,
# once more under `busybox sh` with a PATH of busybox applets only, as the
# kernel lane's initramfs runs it.  Needs root (mount).
set -u
here=$(cd "$(dirname "$0")" && pwd)
FSTEST=${1:-$here/build/fstest}
export FSTEST
[ "$(id -u)" = 0 ] || { echo "tmpfs-lane: needs root (mount)" >&2; exit 1; }

work=$(mktemp -d /tmp/usmfs-tmpfs-lane.XXXXXX)
mnt=$work/mnt noswap=$work/noswap bb=$work/bin
cleanup() {
	for m in "$mnt" "$noswap"; do
		if grep -q " $m " /proc/mounts; then umount "$m" || umount -l "$m"; fi
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 0755 "$work"	# the root cases run as other uids below it
mkdir -p "$mnt" "$noswap"
mount -t tmpfs -o size=512M,mode=1777 usmfs-test "$mnt" || exit 1
mount -t tmpfs -o size=16M,mode=1777 usmfs-test-noswap "$noswap" || exit 1

export USMFS_NOSWAP_DIR="$noswap" USMFS_NOSWAP_SIZE=16M
rc=0
"$here/run-suite.sh" "$mnt" tmpfs || rc=1

bbin=$(command -v busybox || true)
if [ -n "$bbin" ]; then
	mkdir -p "$bb"
	for a in $("$bbin" --list); do ln -s "$bbin" "$bb/$a"; done
	echo "tmpfs-lane: again under busybox sh, PATH=$bb only"
	PATH=$bb "$bbin" sh "$here/run-suite.sh" "$mnt" tmpfs || rc=1
else
	echo "tmpfs-lane: busybox not installed; skipped the busybox run"
fi
exit $rc
