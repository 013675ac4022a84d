#!/bin/bash
# The usmfs demo (make demo): the FUSE frontend at work, in about a minute.
#
# Mounts usmfs on a temporary directory with a pool (size=64M) smaller than
# the workloads, runs a program whose heap is put on the mount by the preload
# library, works on a 192 MiB file through mmap, shows usmctl's view with
# evictions and swap-ins, compares two eviction policies on the same
# workload, and unmounts.  Needs root (it mounts).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
usmfs=$top/usmfs/build/usmfs
usmctl=$top/policy/build/usmctl
preload=$top/usmfs/preload/build/libusmfs-preload.so
work=$(mktemp -d /tmp/usmfs-demo.XXXXXX)
mnt=$work/mnt
pid=

bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for f in "$usmfs" "$usmctl"; do
	[ -x "$f" ] || { echo "demo: $f is missing: run 'make' first" >&2; exit 1; }
done
if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it mounts a filesystem)" >&2
	exit 1
fi

mount_usm() {	# OPTIONS
	mkdir -p "$mnt"
	"$usmfs" "$mnt" -f -o "$1" 2>"$work/usmfs.log" &
	pid=$!
	for _ in $(seq 1 100); do
		mountpoint -q "$mnt" && return 0
		sleep 0.1
	done
	echo "demo: the daemon did not mount:" >&2
	cat "$work/usmfs.log" >&2
	exit 1
}

umount_usm() {
	umount "$mnt"
	wait "$pid" 2>/dev/null
	pid=
}

# A workload with a hot set: zipf-skewed random reads and writes over a file
# three times the pool, every block verified.
workload() {	# FILE SIZE
	fio --name=heap --filename="$1" --size="$2" --ioengine=mmap \
	    --rw=randrw --rwmixread=80 --bs=4k --random_distribution=zipf:1.1 \
	    --number_ios=60000 --verify=crc32c --verify_fatal=1 \
	    --output-format=terse --terse-version=3 2>&1 |
	awk -F';' 'NF > 50 { printf "  read %.0f MiB/s, write %.0f MiB/s, verify errors: %s\n", $7/1024, $48/1024, $5 }'
}

bold "1. Mount usmfs through FUSE: a 64 MiB pool, evicting to a swap file"
echo "$ usmfs $mnt -o size=64M,evict=s3fifo,swap=file:$work/usm.swap"
mount_usm "size=64M,evict=s3fifo,swap=file:$work/usm.swap"
run df -h "$mnt"
run "$usmctl" status

bold "2. A program's heap on usmfs, unmodified, through the preload library"
if [ -f "$preload" ]; then
	echo "python3 builds a 200 MB list; its heap is a file on the mount:"
	echo "$ LD_PRELOAD=$preload USMFS_DIR=$mnt python3 -c '...'"
	LD_PRELOAD=$preload USMFS_DIR=$mnt python3 -c '
import os, glob
xs = [i * 7 for i in range(6_000_000)]
print("  sum =", sum(xs))
for f in glob.glob(os.environ["USMFS_DIR"] + "/*.heap"):
    st = os.getxattr(f, "user.usm.stats").decode()
    print("  heap file", os.path.basename(f) + ":", st)
'
	ls "$mnt" | grep -q heap && echo "  (heap file still there?)" || echo "  after exit the heap file is gone"
else
	echo "  (preload library not built: skipped)"
fi

bold "3. mmap a 192 MiB file, three times the pool, with a hot set"
run workload "$mnt/heap" 192M
run "$usmctl" stat "$mnt/heap"

bold "4. Same workload, two eviction policies (user.usm.evict set on a directory)"
for pol in lru s3fifo; do
	mkdir "$mnt/$pol"
	setfattr -n user.usm.evict -v "$pol" "$mnt/$pol"
done
for pol in lru s3fifo; do
	echo "evict=$pol:"
	rm -f "$mnt/heap"
	workload "$mnt/$pol/heap" 192M
	"$usmctl" stat "$mnt/$pol/heap" | grep -E 'evictions|swapins|faults'
	rm -f "$mnt/$pol/heap"
done
echo "Fewer swap-ins for the same work means the policy kept the hot pages."

bold "5. The whole mount"
run "$usmctl" status
run "$usmctl" top -n 1 "$mnt"

bold "6. Unmount"
run umount "$mnt"
wait "$pid" 2>/dev/null
pid=
echo "done: the daemon exited with the mount."
