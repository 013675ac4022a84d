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

# fio over mmap, summarised in one line.  fill: write a file with checksummed
# blocks and verify all of them; hot: zipf-skewed random writes (a hot set
# smaller than the pool, a cold tail larger), verified too.
fio_line() {
	fio --output-format=terse --terse-version=3 --ioengine=mmap --bs=4k \
	    --randseed=42 --verify=crc32c --verify_fatal=1 "$@" 2>&1 |
	awk -F';' 'NF > 50 { printf "  fio: read %.0f MiB/s, write %.0f MiB/s, errors: %s\n", $7/1024, $48/1024, $5 }'
}
fill() {	# FILE SIZE
	fio_line --name=fill --filename="$1" --size="$2" --rw=write
}
hot() {		# FILE SIZE
	fio_line --name=fill --filename="$1" --size="$2" --rw=randwrite \
		 --random_distribution=zipf:1.2 --number_ios=$((${2%M} * 64))
}

bold "1. Mount usmfs through FUSE: a 32 MiB pool, evicting to a swap file"
echo "$ usmfs $mnt -o size=32M,evict=s3fifo,swap=file:$work/usm.swap"
mount_usm "size=32M,evict=s3fifo,swap=file:$work/usm.swap"
run df -h "$mnt"
run "$usmctl" status

bold "2. A program's heap on usmfs, unmodified, through the preload library"
if [ -f "$preload" ]; then
	echo "python3 builds a list of 2 million numbers (about 100 MB of heap); its heap is a file on the mount:"
	echo "$ LD_PRELOAD=$preload USMFS_DIR=$mnt python3 -c '...'"
	LD_PRELOAD=$preload USMFS_DIR=$mnt python3 -c '
import os, glob
xs = [i * 7 for i in range(2_000_000)]
print("  sum =", sum(xs))
for f in glob.glob(os.environ["USMFS_DIR"] + "/*.heap"):
    st = os.getxattr(f, "user.usm.stats").decode()
    print("  heap file", os.path.basename(f) + ":", st)
'
	ls "$mnt" | grep -q heap && echo "  (heap file still there?)" || echo "  after exit the heap file is gone"
else
	echo "  (preload library not built: skipped)"
fi

bold "3. mmap a 96 MiB file, three times the pool: write it, read it back verified"
echo "$ fio --ioengine=mmap --rw=write --size=96M --verify=crc32c --filename=$mnt/heap"
fill "$mnt/heap" 96M
run "$usmctl" stat "$mnt/heap"

bold "4. Same workload, two eviction policies (user.usm.evict set on a directory)"
echo "A 96 MiB file is written, then read at random with a Zipf(1.1) skew through"
echo "O_DIRECT, so that every read reaches the policy; the pool holds a third of it."
for pol in fifo s3fifo; do
	mkdir "$mnt/$pol"
	setfattr -n user.usm.evict -v "$pol" "$mnt/$pol"
done
rm -f "$mnt/heap"
for pol in fifo s3fifo; do
	echo "evict=$pol:"
	fio --name=fill --filename="$mnt/$pol/data" --size=96M --rw=write --bs=1M \
	    --output-format=terse >/dev/null 2>&1
	fio --name=hot --filename="$mnt/$pol/data" --size=96M --rw=randread --bs=4k \
	    --direct=1 --ioengine=psync --random_distribution=zipf:1.1 --number_ios=20000 \
	    --randseed=42 --output-format=terse --terse-version=3 2>&1 |
		awk -F';' 'NF > 50 { printf "  fio: read %.0f MiB/s, errors: %s\n", $7/1024, $5 }'
	"$usmctl" stat "$mnt/$pol/data" | grep -E 'hits|swapins'
	"$usmctl" evict "$mnt/$pol/data" 2>/dev/null
done
echo "Fewer swap-ins for the same reads means the policy kept the hot pages. The same"
echo "comparison without a kernel, through usm-replay (cache = 10% of the footprint):"
run "$top/policy/build/usm-replay" --policy fifo,lru,sieve,s3fifo --cache 10% --zipf 1.1 --requests 300000

bold "5. The whole mount"
run "$usmctl" status
run "$usmctl" top -n 1 "$mnt"

bold "6. Unmount"
run umount "$mnt"
wait "$pid" 2>/dev/null
pid=
echo "done: the daemon exited with the mount."
