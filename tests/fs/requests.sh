#!/bin/bash
# requests.sh DAEMON WORKDIR - the FUSE requests a few operations cost
# (a check of fuse-lane.sh; docs/fuse.md "Requests per operation").
#
# Starts DAEMON with -d (libfuse prints every request) on WORKDIR/mnt,
# runs each operation on the mount and counts the requests the daemon saw
# meanwhile.  Counts only, never a time: a count that grows back means a
# round trip per call came back.  Prints "ok"/"FAIL" lines and a last
# line "requests: N passed, N failed"; exits 1 on a failure.
set -u
daemon=$1 work=$2
mnt=$work/req-mnt log=$work/req.log
pass=0 fail=0
ok() { echo "ok   requests: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL requests: $*"; fail=$((fail + 1)); }

mkdir -p "$mnt"
pid=
# start OPTIONS: the daemon on $mnt, its -d output in $log; 0 once mounted
start() {
	"$daemon" "$mnt" -d -o "$1" >"$log" 2>&1 &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -q " $mnt " /proc/mounts && return 0
		sleep 0.1
	done
	bad "daemon -o $1 did not mount"
	tail -n 5 "$log"
	return 1
}
stop() {
	fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || umount -l "$mnt"
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
}
finish() {
	grep -q " $mnt " /proc/mounts && stop
	echo "requests: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# count OPCODE CMD...: how many OPCODE requests the daemon got while CMD ran
count() {
	local op=$1 before after
	shift
	before=$(grep -ac "opcode: $op " "$log")
	"$@" || { echo "requests: '$*' failed" >&2; echo -1; return; }
	after=$(grep -ac "opcode: $op " "$log")
	echo $((after - before))
}

# N 4-byte writes through one file descriptor opened with O_APPEND (not a
# shell loop: its redirections close descriptors, and each close is a
# FLUSH that makes the kernel take the attributes again).
appends() { dd if=/dev/zero of="$mnt/append" bs=4 count="$1" oflag=append conv=notrunc status=none; }
# N 4 KiB writes, one write(2) each, through one descriptor.
writes4k() { dd if=/dev/zero of="$mnt/w4k" bs=4k count="$1" conv=notrunc status=none; }

n=200
# The check can fail: with -o no_killpriv_v2 every write asks again.
if start size=64M,no_killpriv_v2; then
	c=$(count GETXATTR writes4k "$n")
	if [ "$c" -ge $((n * 3 / 4)) ]; then
		ok "no_killpriv_v2: $n writes4k: $c GETXATTR requests (one per write)"
	else
		bad "no_killpriv_v2: $n writes4k: only $c GETXATTR requests"
	fi
	stop
fi
start size=64M || finish
# Every write(2) used to ask for security.capability first (the kernel's
# file_remove_privs on a FUSE inode without S_NOSEC): one GETXATTR per
# write.  Allowed: one per attribute refresh (the kernel clears S_NOSEC
# when it takes new attributes, at most every attr timeout, 1 s).
for w in appends writes4k; do
	: > "$mnt/${w/appends/append}"
	[ "$w" = writes4k ] && rm -f "$mnt/w4k"
	c=$(count GETXATTR "$w" "$n")
	if [ "$c" -ge 0 ] && [ "$c" -lt $((n / 4)) ]; then
		ok "$n $w: $c GETXATTR requests"
	else
		bad "$n $w: $c GETXATTR requests (one per write: the security.capability check is back)"
	fi
done
# Each close(2) of a file written through the page cache used to be a
# FLUSH round trip after the write-back; the daemon answers the first one
# ENOSYS and the kernel sends no more (it still writes the pages back and
# drops the cached st_blocks at each close: checked below).
c=$(count FLUSH bash -c "for ((i = 0; i < $n; i++)); do echo x > '$mnt/c\$i'; done")
if [ "$c" -ge 0 ] && [ "$c" -le 1 ]; then
	ok "$n open-write-close: $c FLUSH requests"
else
	bad "$n open-write-close: $c FLUSH requests (one per close)"
fi
dd if=/dev/zero of="$mnt/blocks" bs=4k count=4 status=none
b=$(stat -c %b "$mnt/blocks")
[ "$b" = 32 ] && ok "st_blocks after write + close: $b" || bad "st_blocks after write + close: $b, not 32"
# ls -l of a directory whose entries the kernel does not hold (dentries
# dropped): one LOOKUP per entry with READDIR; READDIRPLUS brings the
# entries and their attributes with the listing.  The lookup counts stay
# right: every file can still be removed and the directory with them.
mkdir "$mnt/dir"
for ((i = 0; i < n; i++)); do : > "$mnt/dir/f$i"; done
sync
echo 2 > /proc/sys/vm/drop_caches
c=$(count LOOKUP bash -c "ls -l '$mnt/dir' > /dev/null")
if [ "$c" -ge 0 ] && [ "$c" -lt $((n / 4)) ]; then
	ok "ls -l of $n files: $c LOOKUP requests"
else
	bad "ls -l of $n files: $c LOOKUP requests (one per entry)"
fi
rm -r "$mnt/dir" && [ ! -e "$mnt/dir" ] && ok "rm -r after ls -l" || bad "rm -r after ls -l"
size=$(stat -c %s "$mnt/append")
[ "$size" = $((4 * n)) ] && ok "appends: file is $size bytes" || bad "appends: file is $size bytes, not $((4 * n))"
finish
