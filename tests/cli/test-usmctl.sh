#!/bin/bash
# usmctl against a FUSE mount: every command, its exit codes, its JSON.
# Prints "usmctl: N passed, N failed"; exits 1 on failure.  Needs root.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
usmfs=$top/usmfs/build/usmfs
usmctl=$top/policy/build/usmctl
work=$(mktemp -d /tmp/usmctl-test.XXXXXX)
mnt=$work/mnt
pass=0 fail=0
pid=

cleanup() {
	mountpoint -q "$work/none" 2>/dev/null && umount -l "$work/none"
	mountpoint -q "$mnt" 2>/dev/null && { umount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "PASS $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $1${2:+: $2}"; fail=$((fail + 1)); }
check() {	# NAME COMMAND...: passes when the command succeeds
	local name=$1; shift
	if "$@" >"$work/out" 2>&1; then ok "$name"; else ko "$name" "$(head -3 "$work/out" | tr '\n' ' ')"; fi
}
code() {	# NAME EXPECTED-EXIT COMMAND...
	local name=$1 want=$2 rc; shift 2
	"$@" >"$work/out" 2>&1; rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else ko "$name" "exit $rc, wanted $want: $(head -2 "$work/out" | tr '\n' ' ')"; fi
}
json_ok() { python3 -c 'import json,sys; json.load(sys.stdin)' < "$work/out"; }

mkdir -p "$mnt"
"$usmfs" "$mnt" -f -o "size=16M,swap=file:$work/swap" 2>"$work/daemon.log" &
pid=$!
for _ in $(seq 1 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { cat "$work/daemon.log"; echo "usmctl: 0 passed, 1 failed"; exit 1; }

head -c 8M /dev/urandom > "$mnt/data"
sum=$(md5sum < "$mnt/data")

check "status lists the mount" sh -c "'$usmctl' status | grep -q '$mnt (FUSE daemon)'"
check "status shows the pool figures" sh -c "'$usmctl' status | grep -q 'frames'"
code "status --json parses" 0 sh -c "'$usmctl' --json status > '$work/j' && python3 -c 'import json,sys; d=json.load(open(\"$work/j\")); assert any(m[\"dir\"]==\"$mnt\" and m[\"responding\"] and m[\"stats\"][\"frames\"]==4096 for m in d[\"mounts\"])'"
# The root's stats have the module's keys too, with the FUSE daemon's values:
# its pool is its own anonymous memory, its policies run in it, it evicts.
check "root stats: source=anon server=1 evicting=1 can_evict=1" sh -c "getfattr --only-values -n user.usm.stats '$mnt' | tr ' ' '\\n' | grep -cxE 'source=anon|server=1|evicting=1|can_evict=1' | grep -qx 4"
check "root stats: store_room > 0" sh -c "getfattr --only-values -n user.usm.stats '$mnt' | tr ' ' '\\n' | grep -qE '^store_room=[1-9][0-9]*$'"
check "status text: source, server, eviction possible, not evicting now" sh -c "'$usmctl' status > '$work/st' && grep -qx '  source     anon' '$work/st' && grep -qx '  server     in the daemon (libusmpolicy)' '$work/st' && grep -qE '^  eviction   possible \\(the store can take .* more\\)$' '$work/st' && grep -qx '  evicting   no' '$work/st'"
code "status --json: source, server, eviction_possible, evicting_now" 0 sh -c "'$usmctl' --json status > '$work/j' && python3 -c 'import json,sys; m=[m for m in json.load(open(\"$work/j\"))[\"mounts\"] if m[\"dir\"]==\"$mnt\"][0]; s=m[\"stats\"]; assert (s[\"source\"], s[\"server\"], s[\"can_evict\"], m[\"eviction_possible\"], m[\"evicting_now\"]) == (\"anon\", 1, 1, True, False) and s[\"store_room\"] > 0, m'"
# a swap=none mount: eviction is not possible, and status says why
mkdir -p "$work/none"
"$usmfs" "$work/none" -o "size=8M,swap=none" 2>"$work/daemon-none.log"
check "status: swap=none cannot evict" sh -c "'$usmctl' status > '$work/st' && sed -n '\\|^$work/none |,/^[^ ]/p' '$work/st' | grep -qx '  eviction   not possible: no store (swap=none)'"
code "status --json: swap=none eviction_possible false" 0 sh -c "'$usmctl' --json status > '$work/j' && python3 -c 'import json,sys; m=[m for m in json.load(open(\"$work/j\"))[\"mounts\"] if m[\"dir\"]==\"$work/none\"][0]; assert (m[\"eviction_possible\"], m[\"evicting_now\"], m[\"stats\"][\"can_evict\"]) == (False, False, 0), m'"
umount "$work/none"
check "status text: the daemon's usmfs options" sh -c "'$usmctl' status | grep -q '^  options    rw,.*,size=16M,swap=file:$work/swap\$'"
code "status --json: the daemon's usmfs options" 0 sh -c "'$usmctl' --json status > '$work/j' && python3 -c 'import json,sys; d=json.load(open(\"$work/j\")); m=[m for m in d[\"mounts\"] if m[\"dir\"]==\"$mnt\"][0]; assert m[\"options\"].endswith(\",size=16M,swap=file:$work/swap\") and \"options\" not in m[\"stats\"], m'"
check "stat of the root says the daemon is the server" sh -c "'$usmctl' stat '$mnt' | grep -qx '  server     in the daemon (libusmpolicy)'"
check "stat shows resident bytes" sh -c "'$usmctl' stat '$mnt/data' | grep -q 'resident   8M (8388608 bytes)'"
code "stat --json parses" 0 sh -c "'$usmctl' --json stat '$mnt/data' > '$work/out' && python3 -c 'import json; d=json.load(open(\"$work/out\")); assert d[0][\"resident\"]==8388608'"
code "stat of a file not on usmfs: exit 3" 3 "$usmctl" stat /etc/hostname
code "stat of a missing file: exit 1" 1 "$usmctl" stat "$mnt/nope"
code "policy sets several keys" 0 "$usmctl" policy "$mnt/data" evict=lru prio=6 limit=4M
check "policy took effect" sh -c "[ \"\$(getfattr --only-values -n user.usm.evict '$mnt/data')\" = lru ] && [ \"\$(getfattr --only-values -n user.usm.prio '$mnt/data')\" = 6 ]"
code "policy with a bad value: exit 2" 2 "$usmctl" policy "$mnt/data" prio=9
code "policy with an unknown key: exit 2" 2 "$usmctl" policy "$mnt/data" colour=blue
code "policy with an unknown policy name: exit 1" 1 "$usmctl" policy "$mnt/data" prio=2 evict=nosuch
check "a refused policy changes nothing (prio still 6)" sh -c "[ \"\$(getfattr --only-values -n user.usm.prio '$mnt/data')\" = 6 ]"
code "evict all" 0 "$usmctl" evict "$mnt/data"
check "evicted: nothing resident" sh -c "'$usmctl' stat '$mnt/data' | grep -q 'resident   0 (0 bytes)'"
check "evicted data reads back" sh -c "[ \"\$(md5sum < '$mnt/data')\" = '$sum' ]"
code "evict a size" 0 "$usmctl" evict "$mnt/data" 1M
code "evict with a bad size: exit 2" 2 "$usmctl" evict "$mnt/data" 12Q
code "evict a directory: exit 1" 1 "$usmctl" evict "$mnt"
check "evict a directory says so" sh -c "'$usmctl' evict '$mnt' 2>&1 | grep -q 'a directory: evict its files'"
code "top -n 1 lists the file" 0 sh -c "'$usmctl' top -n 1 '$mnt' | grep -q '$mnt/data'"
code "top --json parses" 0 sh -c "'$usmctl' --json top '$mnt' > '$work/out' && python3 -c 'import json; d=json.load(open(\"$work/out\")); assert d[0][\"file\"].endswith(\"/data\")'"
code "unknown command: exit 2" 2 "$usmctl" frobnicate
code "--help: exit 0" 0 "$usmctl" --help

umount "$mnt" && wait "$pid"
pid=
echo "usmctl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
