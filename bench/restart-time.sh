#!/bin/bash
# restart-time.sh [KILLS] [SIZE] [DATA_MB] [FILES] - how long a FUSE mount
# is without a daemon when the daemon is killed: mount size=SIZE (default
# 64M) with a swap file, write DATA_MB (default 160) MiB in FILES (default
# 1000) files, then KILLS (default 10) times: SIGKILL the serving daemon
# (daemon_pid of the root's user.usm.stats) and time, from just before the
# kill, until a getxattr of user.usm.stats (never cached by the kernel) is
# answered by the next daemon.  As root; everything in a temporary
# directory, removed at the end.  Prints each time and min/median/max in ms.
set -u
kills=${1:-10} size=${2:-64M} data=${3:-160} files=${4:-1000}
here=$(cd "$(dirname "$0")" && pwd)
daemon=${USMFS_BIN:-$here/../usmfs/build/usmfs}
work=$(mktemp -d /tmp/usmfs-rtime.XXXXXX)
m=$work/mnt
spid=
cleanup() {
	grep -q " $m " /proc/mounts && { timeout 20 umount "$m" || umount -l "$m"; }
	[ -n "$spid" ] && { for i in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done; }
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$m"
"$daemon" "$m" -f -o size="$size",swap=file:"$work/store" >"$work/log" 2>&1 &
spid=$!
for i in $(seq 100); do grep -q " $m " /proc/mounts && break; sleep 0.1; done
per=$((data * 1024 / files))
for ((f = 0; f < files; f++)); do
	head -c "${per}K" /dev/urandom > "$m/f$f" || exit 1
done
stats() { getfattr --only-values -n user.usm.stats "$m" 2>/dev/null; }
field() { stats | tr ' ' '\n' | sed -n "s/^$1=//p"; }
times=()
for ((k = 0; k < kills; k++)); do
	pid=$(field daemon_pid)
	[ -n "$pid" ] || { echo "no daemon_pid"; exit 1; }
	t0=$(date +%s%N)
	kill -9 "$pid"
	while :; do
		s=$(stats)
		case $s in *daemon_pid=*) [ "$(echo "$s" | tr ' ' '\n' | sed -n 's/^daemon_pid=//p')" != "$pid" ] && break ;; esac
	done
	t1=$(date +%s%N)
	times+=($(( (t1 - t0) / 1000000 )))
	sleep 0.5
done
echo "restart-time: size=$size, $data MiB in $files files, $(field swapped) bytes swapped, $kills kills"
echo "  kill to first request served (ms): ${times[*]}"
printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "  min %d  median %d  max %d ms\n", a[1], a[int((NR + 1) / 2)], a[NR] }'
grep "taken over" "$work/log" | tail -n 1 | sed 's/^/  /'
