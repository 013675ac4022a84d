#!/bin/bash
# tools-lane.sh MNT - copy tools round trips and chattr on a mounted usmfs
# (or tmpfs).
#
# As root, from the FUSE lane (fuse-lane.sh) and on its own: a small tmpfs
# of its own is the other side.  rsync -aX, cp -a --preserve=all and
# tar --xattrs copy a tree with user.* xattrs (and an explicit user.usm.evict
# when MNT is usmfs) from tmpfs to MNT, MNT to MNT and MNT back to tmpfs;
# every command must exit 0, and the xattrs at the end must be the ones the
# source had: no computed user.usm.stats copied as an ordinary attribute.
# chattr +i / +a and lsattr: the flags show and are enforced.  setfacl and
# getfacl (acl): the same ACL commands on tmpfs and on MNT give the same
# getfacl listing (access, default, inherited, chmod's mask), cp -a carries
# the ACLs back to tmpfs, and setfacl --restore of a getfacl dump works.
# Prints "PASS|FAIL tools-NAME[: why]" per check and ends with
# "tools: N passed, N failed"; exits 1 on any failure.
set -u
mnt=${1:?usage: tools-lane.sh MNT}
passed=0 failed=0
ref=$(mktemp -d /tmp/usmfs-tools.XXXXXX)
t=$mnt/tools.$$
cleanup() {
	rm -rf "$t"
	mountpoint -q "$ref" && umount "$ref"
	rmdir "$ref"
}
trap cleanup EXIT
mount -t tmpfs -o size=64M tools-ref "$ref" || { echo "FAIL tools: tmpfs"; exit 1; }
mkdir -p "$t"

pass() { echo "PASS tools-$1"; passed=$((passed + 1)); }
fail() { echo "FAIL tools-$1: $2"; failed=$((failed + 1)); }

# The xattrs of a tree, relative names, sorted (the computed one excluded
# only when asked: it must not be listed at all).
dump() { (cd "$1" && getfattr -R -d -m - --absolute-names . 2>/dev/null | sort); }

usm=0
getfattr -n user.usm.stats "$mnt" >/dev/null 2>&1 && usm=1

# the source tree on tmpfs
src=$ref/src
mkdir -p "$src/d/e"
printf 'one' >"$src/a"
head -c 200000 /dev/urandom >"$src/d/big"
printf 'two' >"$src/d/e/c"
ln -s a "$src/l"
setfattr -n user.color -v blue "$src/a"
setfattr -n user.empty "$src/d/big"
setfattr -n user.dir -v yes "$src/d"
for i in $(seq 1 50); do setfattr -n "user.k$i" -v "$i" "$src/d/e/c"; done
want=$(dump "$src")

# run NAME CMD...: CMD must exit 0
run() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "exit $?: $(echo "$out" | head -n 3)"
	fi
}

# same NAME DIR WANT: the xattrs of DIR are WANT
same() {
	local got
	got=$(dump "$2")
	if [ "$got" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "xattrs differ: $(diff <(echo "$3") <(echo "$got") | head -n 6 | tr '\n' ' ')"
	fi
}

# --- rsync -aX: tmpfs -> usmfs -> usmfs -> tmpfs, and again over the copies
run rsync-in rsync -aX "$src/" "$t/r1/"
same rsync-in-xattrs "$t/r1" "$want"
run rsync-in-again rsync -aX "$src/" "$t/r1/"
want2=$want
if [ $usm = 1 ]; then
	# a policy set explicitly travels with the file, usmfs to usmfs
	setfattr -n user.usm.evict -v lru "$t/r1/a"
	want2=$(dump "$t/r1")
	echo "$want2" | grep -q user.usm.evict || fail rsync-policy "user.usm.evict not listed"
fi
run rsync-usm-usm rsync -aX "$t/r1/" "$t/r2/"
same rsync-usm-usm-xattrs "$t/r2" "$want2"
run rsync-usm-usm-again rsync -aX "$t/r1/" "$t/r2/"
run rsync-out rsync -aX "$t/r1/" "$ref/r4/"
same rsync-out-xattrs "$ref/r4" "$want2"

# --- cp -a --preserve=all both ways
run cp-in cp -a --preserve=all "$src" "$t/c1"
same cp-in-xattrs "$t/c1" "$want"
run cp-usm-usm cp -a --preserve=all "$t/r1" "$t/c2"
same cp-usm-usm-xattrs "$t/c2" "$want2"
run cp-out cp -a --preserve=all "$t/c1" "$ref/c3"
same cp-out-xattrs "$ref/c3" "$want"

# --- tar --xattrs both ways
run tar-in-c tar --xattrs --xattrs-include='*' -C "$src" -cf "$ref/src.tar" .
mkdir -p "$t/t1"
run tar-in-x tar --xattrs --xattrs-include='*' -C "$t/t1" -xf "$ref/src.tar"
same tar-in-xattrs "$t/t1" "$want"
run tar-out-c tar --xattrs --xattrs-include='*' -C "$t/r1" -cf "$ref/usm.tar" .
mkdir -p "$t/t2" "$ref/t3"
run tar-usm-usm-x tar --xattrs --xattrs-include='*' -C "$t/t2" -xf "$ref/usm.tar"
same tar-usm-usm-xattrs "$t/t2" "$want2"
run tar-out-x tar --xattrs --xattrs-include='*' -C "$ref/t3" -xf "$ref/usm.tar"
same tar-out-xattrs "$ref/t3" "$want2"

# --- chattr / lsattr (e2fsprogs): +i and +a enforced, -i -a undo
f=$t/flagged
echo one >"$f"
if chattr +i "$f" 2>"$ref/chattr.err" && lsattr -d "$f" | grep -q '^[^ ]*i'; then
	if ! rm -f "$f" 2>/dev/null && ! (echo two >>"$f") 2>/dev/null; then
		pass chattr-immutable
	else
		fail chattr-immutable "an immutable file was changed or removed"
	fi
	chattr -i "$f"
else
	fail chattr-immutable "chattr +i / lsattr: $(head -n 1 "$ref/chattr.err")"
fi
if chattr +a "$f" && lsattr -d "$f" | grep -q '^[^ ]*a' &&
   echo two >>"$f" && ! (echo three >"$f") 2>/dev/null && ! rm -f "$f" 2>/dev/null &&
   chattr -a "$f" && [ "$(cat "$f")" = "$(printf 'one\ntwo')" ]; then
	pass chattr-append
else
	fail chattr-append "append-only not as on tmpfs: $(cat "$f" | tr '\n' ' ')"
	chattr -a "$f" 2>/dev/null
fi
rm -f "$f"

# --- setfacl / getfacl (acl): same as on tmpfs, both ways
# acls DIR: the same ACL commands in DIR (umask 022)
acls() (
	umask 022
	cd "$1" || exit 1
	mkdir -p acl/d && printf 'x' >acl/f &&
	setfacl -m u:1001:r,g:2001:rw acl/f &&
	setfacl -d -m u:1001:rwx,g::r-x,o::- acl/d &&
	mkdir acl/d/sub && printf 'y' >acl/d/new && chmod 640 acl/f
)
# facls DIR: its ACL listing, relative and sorted by file
facls() { (cd "$1" && find acl | sort | while read -r f; do getfacl -p "$f"; done 2>&1); }
if acls "$ref" && acls "$t" 2>"$ref/acl.err"; then
	if [ "$(facls "$t")" = "$(facls "$ref")" ] &&
	   facls "$t" | grep -q '^default:user:1001:rwx'; then
		pass setfacl
	else
		fail setfacl "getfacl differs from tmpfs': $(diff <(facls "$ref") \
			<(facls "$t") | head -n 4 | tr '\n' ' ')"
	fi
else
	fail setfacl "setfacl on MNT: $(head -n 1 "$ref/acl.err")"
fi
rm -rf "$ref/acl-back" && mkdir "$ref/acl-back" &&
	cp -a --preserve=all "$t/acl" "$ref/acl-back/" 2>/dev/null
if [ "$(facls "$ref/acl-back")" = "$(facls "$t")" ]; then
	pass acl-copy-out
else
	fail acl-copy-out "cp -a to tmpfs lost ACLs"
fi
if (cd "$t" && getfacl -R -p acl >"$ref/acl.dump" && setfacl -b -R acl &&
    setfacl --restore="$ref/acl.dump") 2>"$ref/acl.err" &&
   [ "$(facls "$t")" = "$(facls "$ref")" ]; then
	pass acl-restore
else
	fail acl-restore "setfacl --restore: $(head -n 1 "$ref/acl.err")"
fi

# data survived every trip
if cmp -s "$src/d/big" "$t/t2/d/big" && cmp -s "$src/d/big" "$ref/c3/d/big" &&
   cmp -s "$src/d/big" "$ref/r4/d/big"; then
	pass data
else
	fail data "file contents differ after the copies"
fi

echo "tools: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
