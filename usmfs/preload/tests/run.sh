#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# usmfs/preload/tests/run.sh BUILD_DIR - libusmfs-preload with real programs.
#
# Mounts usmfs with the FUSE daemon (usmfs/build/usmfs) when it is built;
# otherwise uses a tmpfs with USMFS_PRELOAD_ALLOW_ANY=1 (the test switch
# that accepts any filesystem).  Ends with "preload: N passed, N failed".
set -u
B=${1:?usage: run.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
LIB=$B/libusmfs-preload.so
DAEMON=${USMFS_DAEMON:-$HERE/../../build/usmfs}
T=$(mktemp -d /tmp/usmfs-preload.XXXXXX)
MNT=$T/mnt
pass=0 fail=0 how=
mkdir -p "$MNT"

cleanup() {
	exec 3>&- 2>/dev/null
	if mountpoint -q "$MNT"; then
		umount "$MNT" 2>/dev/null || fusermount3 -u "$MNT" 2>/dev/null ||
			umount -l "$MNT"
	fi
	rm -rf "$T"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
check() {	# check NAME CMD...
	local n=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$n"; else ko "$n" "$(tail -3 "$T/out" | tr '\n' ' ')"; fi
	grep -h ' heap while running' "$T/out" 2>/dev/null | sed 's/^/     /'
}

if [ -x "$DAEMON" ] && [ -c /dev/fuse ] &&
   "$DAEMON" "$MNT" -o size=1G >"$T/daemon.log" 2>&1 &&
   for i in $(seq 50); do mountpoint -q "$MNT" && break; sleep 0.1; done &&
   mountpoint -q "$MNT"; then
	how="usmfs (FUSE daemon)"
else
	mount -t tmpfs -o size=2G,mode=1777 tmpfs "$MNT" || { echo "preload: cannot mount"; exit 1; }
	export USMFS_PRELOAD_ALLOW_ANY=1
	how="tmpfs (USMFS_PRELOAD_ALLOW_ANY=1; the FUSE daemon is not built)"
fi
echo "preload: testing on $how at $MNT"
P="env LD_PRELOAD=$LIB USMFS_DIR=$MNT"

# The heap file of process $1 (named after program $2) and its allocated bytes.
heap_bytes() { stat -c '%b %B' "$MNT/$2.$1.heap" 2>/dev/null | awk '{print $1 * $2}'; }
no_heaps() { [ -z "$(ls "$MNT")" ]; }

# ---- refusals: one warning, the program unchanged ---------------------------
t_refuse() {	# t_refuse ENV... : echo must work, stderr one warning line
	local out	# (one for the shell and the programs it runs)
	out=$(env -u USMFS_DIR -u USMFS_PRELOAD_WARNED LD_PRELOAD="$LIB" "$@" \
		sh -c 'echo hello; ls / >/dev/null; sh -c true' 2>"$T/err") &&
	[ "$out" = hello ] && [ "$(wc -l <"$T/err")" = 1 ] &&
	grep -q '^libusmfs-preload: .*running without usmfs' "$T/err" && no_heaps
}
check "unset USMFS_DIR: one warning, runs" t_refuse
check "missing USMFS_DIR: one warning, runs" t_refuse USMFS_DIR=$T/nonexistent
check "not a usmfs mount: one warning, runs" t_refuse USMFS_DIR=$T USMFS_PRELOAD_ALLOW_ANY=0
check "bad USMFS_MIN_SIZE: one warning, runs" t_refuse USMFS_DIR=$MNT USMFS_MIN_SIZE=12Q

# ---- the mmap family and malloc keep their semantics ------------------------
check "mmap/munmap/mremap/madvise/malloc semantics" $P "$B/t-mmap" "$MNT"
check "mmap semantics with USMFS_MIN_SIZE=64K" $P USMFS_MIN_SIZE=64K "$B/t-mmap" "$MNT"
# FUSE serves each first touch of a page with a request: fewer operations.
ops=60000
[ -z "${USMFS_PRELOAD_ALLOW_ANY:-}" ] && ops=6000
check "threads: malloc/realloc/calloc/free, data intact" $P "$B/t-threads" $ops
check "threads, every free punched (USMFS_RETAIN=0)" $P USMFS_RETAIN=0 "$B/t-threads" $((ops / 4))
check "no heap file left behind" no_heaps
check "fork: separate heaps, child file, parent unchanged" $P "$B/t-fork" "$MNT"
check "fork+exec: new image starts clean, files removed" $P "$B/t-fork" "$MNT" exec
check "no heap file left after fork tests" no_heaps

# ---- sort of a large file ---------------------------------------------------
seq 1 1500000 | awk '{ printf "%08d-%s\n", ($1 * 7919) % 1000003, $1 }' >"$T/in.txt"
t_sort() {
	local pid bytes
	sort "$T/in.txt" >"$T/sort.ref" || return 1
	mkfifo "$T/fifo"
	$P sort -S 64M "$T/fifo" >"$T/sort.out" &
	pid=$!
	exec 3>"$T/fifo"
	cat "$T/in.txt" >&3
	# sort holds the input in its heap until EOF.  With FUSE's writeback
	# cache the daemon (and so st_blocks) sees the pages only once the
	# kernel writes them back: ask for that, and look again, bounded.
	for _ in $(seq 1 20); do
		sleep 0.5
		sync "$MNT/sort.$pid.heap" 2>/dev/null
		bytes=$(heap_bytes $pid sort)
		[ -n "$bytes" ] && [ "$bytes" -ge $((8 << 20)) ] && break
	done
	exec 3>&-
	wait $pid || return 1
	echo "sort heap while running: ${bytes:-none} bytes"
	[ -n "$bytes" ] && [ "$bytes" -ge $((8 << 20)) ] &&
	cmp -s "$T/sort.ref" "$T/sort.out" && [ ! -e "$MNT/sort.$pid.heap" ]
}
check "sort: same output, heap in the file while running, gone after" t_sort

# ---- python3 building a large list ------------------------------------------
cat >"$T/list.py" <<'PY'
import os, sys, hashlib
l = [str(i) * 3 for i in range(1500000)]
d = {i: str(i) for i in range(300000)}
if len(sys.argv) > 1:
    # With FUSE's writeback cache st_blocks counts what the daemon has
    # seen: have the kernel write the heap back, and look again (bounded).
    import time
    p = f"{sys.argv[1]}/python3.{os.getpid()}.heap"
    for _ in range(20):
        fd = os.open(p, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        blocks = os.stat(p).st_blocks * 512
        if blocks >= 32 << 20:
            break
        time.sleep(0.5)
    print("HEAP", blocks, file=sys.stderr)
h = hashlib.sha256("".join(l).encode() + repr(sorted(d.items())[:1000]).encode())
print(len(l), len(d), h.hexdigest())
PY
t_python() {
	local bytes
	python3 "$T/list.py" >"$T/py.ref" || return 1
	$P python3 "$T/list.py" "$MNT" >"$T/py.out" 2>"$T/py.err" || return 1
	bytes=$(awk '/^HEAP/ {print $2}' "$T/py.err")
	echo "python3 heap while running: ${bytes:-none} bytes"
	[ -n "$bytes" ] && [ "$bytes" -ge $((32 << 20)) ] &&
	cmp -s "$T/py.ref" "$T/py.out" && no_heaps
}
check "python3: same output, large heap in the file, gone after" t_python

# ---- sqlite3 with a large page cache ----------------------------------------
cat >"$T/q.sql" <<'SQL'
PRAGMA cache_size = -262144;
CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, n INTEGER);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300000)
INSERT INTO t SELECT i, hex(randomblob(0)) || printf('%.*c', 40 + i % 60, 'x'), (i * 7919) % 100003 FROM c;
CREATE INDEX tn ON t(n);
SELECT count(*), sum(n), sum(length(v)) FROM t;
SELECT n, count(*) FROM t GROUP BY n ORDER BY count(*) DESC, n LIMIT 5;
.shell test -f "$USMFS_DIR/sqlite3.$PPID.heap" && echo HEAP-FILE-PRESENT || echo HEAP-FILE-MISSING
SQL
t_sqlite() {
	local db=$T/t.db
	rm -f "$db"; USMFS_DIR=none sqlite3 "$db" <"$T/q.sql" | grep -v HEAP-FILE >"$T/sq.ref" || return 1
	rm -f "$db"; $P sqlite3 "$db" <"$T/q.sql" >"$T/sq.all" || return 1
	grep -q HEAP-FILE-PRESENT "$T/sq.all" || { echo "no heap file seen"; return 1; }
	grep -v HEAP-FILE "$T/sq.all" >"$T/sq.out"
	cmp -s "$T/sq.ref" "$T/sq.out" && [ -s "$T/sq.out" ] && no_heaps
}
check "sqlite3: same results with a 256M cache, heap file present, gone after" t_sqlite

# ---- a shell pipeline: every process preloaded -------------------------------
t_shell() {
	local a b
	a=$(sh -c 'seq 1 200000 | sort -r | head -3; ls / | wc -l')
	b=$($P sh -c 'seq 1 200000 | sort -r | head -3; ls / | wc -l') || return 1
	[ "$a" = "$b" ] && no_heaps
}
check "sh pipeline (fork+exec everywhere): same output, no files left" t_shell

# ---- files of dead processes are swept --------------------------------------
t_sweep() {
	local dead
	dead=$(sh -c 'echo $$')
	: >"$MNT/ghost.$dead.heap"
	: >"$MNT/notaheap.$dead.txt"
	$P true || return 1
	[ ! -e "$MNT/ghost.$dead.heap" ] && [ -e "$MNT/notaheap.$dead.txt" ] &&
	rm -f "$MNT/notaheap.$dead.txt"
}
check "stale heap files of dead processes are removed" t_sweep

echo "preload: $pass passed, $fail failed"
[ "$fail" = 0 ]
