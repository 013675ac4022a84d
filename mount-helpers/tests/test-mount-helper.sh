#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# mount-helpers/tests/test-mount-helper.sh - mount.usmfs, called directly
# (with the argv mount(8) uses), through mount(8) (a temporary
# /sbin/mount.usmfs symlink), and from an fstab file (mount -a -T FILE).
#
# Uses the FUSE daemon usmfs/build/usmfs when it is built.  Until then the
# mount cases run against a stand-in daemon (tests/standin-daemon.sh: it
# records its argv and mounts a tmpfs), which checks the helper's own work:
# option checks, what it passes on, waiting for the mount, errors.  The
# kernel-module path needs the module: it is not run on the host.
# Ends with "mount-helper: N passed, N failed".
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
HELPER=$HERE/../mount.usmfs
DAEMON=${USMFS_DAEMON:-$HERE/../../usmfs/build/usmfs}
T=$(mktemp -d /tmp/usmfs-mh.XXXXXX)
M=$T/mnt
LOG=$T/daemon.argv
pass=0 fail=0 link=
mkdir -p "$M"

cleanup() {
	for d in "$M" "$T/m2" "$T/with space" "$T/cwdm"; do
		while mountpoint -q "$d" 2>/dev/null; do umount "$d" 2>/dev/null || umount -l "$d" || break; done
	done
	[ -n "$link" ] && [ -L /sbin/mount.usmfs ] && rm -f /sbin/mount.usmfs
	[ -n "${flink:-}" ] && [ -L /sbin/mount.fuse.usmfs ] && rm -f /sbin/mount.fuse.usmfs
	rm -rf "$T" "${FAKE:-}"
}
trap cleanup EXIT

if [ -x "$DAEMON" ]; then
	real=1 fstype=fuse.usmfs
	echo "mount-helper: FUSE daemon $DAEMON"
else
	real='' fstype=tmpfs
	DAEMON=$HERE/standin-daemon.sh
	echo "mount-helper: no FUSE daemon built: using the stand-in $DAEMON"
fi
export USMFS_DAEMON=$DAEMON STANDIN_LOG=$LOG

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1${2:+: $2}"; }
check() {
	local n=$1; shift
	if "$@" >"$T/out" 2>&1; then ok "$n"; else ko "$n" "$(tail -3 "$T/out" | tr '\n' ' ')"; fi
}
fstype_of() { findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null; }
mounted_as_usmfs() { [ "$(fstype_of "$1")" = "$fstype" ]; }
unmount() { umount "$1" && ! mountpoint -q "$1"; }

# ---- bad options: one message naming the option, nothing mounted or started
t_bad() {	# t_bad OPTS EXPECTED-IN-MESSAGE
	rm -f "$LOG"
	"$HELPER" none "$M" -o "$1" 2>"$T/err"
	local st=$?
	echo "exit $st: $(cat "$T/err")"
	[ $st = 32 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -qF -- "$2" "$T/err" &&
	! mountpoint -q "$M" && [ ! -e "$LOG" ]
}
check "bad size rejected"            t_bad size=12X "'size': '12X'"
check "size=0% rejected"             t_bad size=0% "'size'"
check "bad mode rejected"            t_bad mode=8 "'mode'"
check "bad uid rejected"             t_bad uid=-1 "'uid'"
check "unknown eviction policy"      t_bad evict=bogus "'evict': 'bogus'"
check "unknown placement policy"     t_bad alloc=Bad_Name "'alloc'"
check "relative swap file"           t_bad swap=file:rel "'swap'"
check "bad swapin_timeout"           t_bad swapin_timeout=5x "'swapin_timeout'"
check "bad max_dirty"                t_bad max_dirty=lots "'max_dirty'"
check "unreadable config"            t_bad config=$T/none.conf "config="
check "unknown option"               t_bad size=1M,bogus=1 "unknown option 'bogus=1'"
check "option without its value"     t_bad size "'size' needs a value"
check "bad option late in the list"  t_bad size=1M,evict=lru,nr_inodes=1x "'nr_inodes'"

t_nodir() {
	"$HELPER" none "$T/nonexistent" -o size=1M 2>"$T/err"
	[ $? = 32 ] && grep -q 'does not exist' "$T/err"
}
check "missing mount point"          t_nodir

t_fake() {
	rm -f "$LOG"
	"$HELPER" none "$M" -f -o size=16M,evict=lru && ! mountpoint -q "$M" && [ ! -e "$LOG" ]
}
check "-f: checks, mounts nothing"   t_fake

# ---- the helper called as mount(8) calls it --------------------------------
t_direct() {
	"$HELPER" none "$M" -o size=32M,evict=lru,_netdev,nofail,x-systemd.automount || return 1
	mounted_as_usmfs "$M" || { echo "not mounted as $fstype"; return 1; }
	if [ -z "$real" ]; then
		# userspace-only options dropped, allow_other added for root
		grep -qx -- "$M -o size=32M,evict=lru,allow_other" "$LOG" ||
			{ echo "daemon got: $(cat "$LOG")"; return 1; }
	else
		findmnt -n -o OPTIONS --mountpoint "$M" | grep -q allow_other ||
			{ echo "no allow_other"; return 1; }
	fi
	echo data >"$M/f" && [ "$(cat "$M/f")" = data ]
}
check "direct call mounts"           t_direct

t_remount() {
	"$HELPER" none "$M" -o remount,size=64M 2>"$T/err"
	local st=$?
	cat "$T/err"
	if [ -n "$real" ]; then
		[ $st = 32 ] && grep -q 'FUSE frontend cannot change size=64M' "$T/err"
	else
		[ $st = 32 ] && grep -q 'not a usmfs mount' "$T/err"
	fi && mountpoint -q "$M"
}
check "remount refused on FUSE, mount kept" t_remount

t_space() {	# a mount point with a space (mountinfo escapes it)
	local d="$T/with space"
	mkdir -p "$d"
	"$HELPER" none "$d" -o size=8M || return 1
	mounted_as_usmfs "$d" || return 1
	if [ -n "$real" ]; then
		"$HELPER" none "$d" -o size=8M 2>/dev/null && { echo "mounted twice"; return 1; }
	fi
	unmount "$d"
}
check "mount point with a space"     t_space

t_busy() {
	"$HELPER" none "$M" -o size=32M 2>"$T/err"
	[ $? = 32 ] && grep -q 'already a usmfs mount' "$T/err"
}
if [ -n "$real" ]; then
	check "second mount on it refused"   t_busy
else
	echo "SKIP second mount on it refused (the stand-in's tmpfs is not usmfs)"
fi

t_umount() {
	local pid=
	[ -n "$real" ] && pid=$(pgrep -f "^$DAEMON $M" | head -1)
	unmount "$M" || return 1
	if [ -n "$pid" ]; then	# the daemon exits when unmounted
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
		echo "daemon $pid still running"; return 1
	fi
}
check "umount"                       t_umount

t_fuse_opt() {
	"$HELPER" none "$M" -v -o fuse,size=8M,ro 2>"$T/err" || return 1
	mounted_as_usmfs "$M" || return 1
	findmnt -n -o OPTIONS --mountpoint "$M" | grep -qE '(^|,)ro(,|$)' || { echo "not ro"; return 1; }
	if [ -z "$real" ]; then
		grep -qx -- "$M -o size=8M,ro,allow_other" "$LOG" || { cat "$LOG"; return 1; }
	fi
	unmount "$M"
}
check "-o fuse and ro passed on"     t_fuse_opt

t_daemon_fails() {
	USMFS_DAEMON=/bin/false "$HELPER" none "$M" -o size=8M 2>"$T/err"
	[ $? = 32 ] && grep -q 'FUSE daemon failed' "$T/err" && ! mountpoint -q "$M"
}
check "a failing daemon is reported" t_daemon_fails

t_no_daemon() {
	USMFS_DAEMON=$T/nothing "$HELPER" none "$M" -o size=8M 2>"$T/err"
	[ $? = 32 ] && grep -q 'no FUSE daemon' "$T/err"
}
check "a missing daemon is reported" t_no_daemon

# ---- installed with PREFIX: mount(8) resets PATH, the helper still finds
# the daemon where "make install" put it
t_installed() {
	local r=$T/root pfx=$T/pfx
	make -s -C "$HERE/.." install DESTDIR="$r" PREFIX="$pfx" >"$T/install.out" 2>&1 ||
		{ cat "$T/install.out"; return 1; }
	# the DKMS tree has sources only (no kbuild output of an in-tree build)
	if ls "$r"/usr/src/usmfs-*/kmod/ | grep -E '\.(mod\.c|o|ko|cmd)$'; then
		echo "build output in the DKMS tree"; return 1
	fi
	mkdir -p "$r$pfx/bin"
	ln -sf "$DAEMON" "$r$pfx/bin/usmfs"
	# the installed paths are the final ones (without DESTDIR): make them so
	mkdir -p "$pfx" && ln -sfn "$r$pfx/bin" "$pfx/bin"
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin STANDIN_LOG="$LOG" \
		"$r/sbin/mount.usmfs" none "$M" -v -o size=8M 2>"$T/err" || { cat "$T/err"; return 1; }
	cat "$T/err"
	grep -qF "starting the FUSE daemon: $pfx/bin/usmfs " "$T/err" && mounted_as_usmfs "$M" &&
		unmount "$M"
}
check "installed with PREFIX: daemon found in PREFIX/bin without PATH" t_installed

# ---- the kernel-module path, with the module faked ---------------------------
# The host cannot load modules: a /proc/filesystems that lists usmfs, a
# "mount" first in PATH that records its argv (and mounts a tmpfs for
# "-t usmfs"), and a stand-in usm-policyd that records that it ran.
mkdir -p "$T/bin"
printf 'nodev\ttmpfs\nnodev\tusmfs\n' >"$T/filesystems"
cat >"$T/bin/mount" <<EOS
#!/bin/sh
echo "\$*" >"$T/mount.argv"
case " \$* " in *" -t usmfs "*) ;; *) exec /bin/mount "\$@" ;; esac
for a; do dir=\$a; done
exec /bin/mount -t tmpfs -o size=16M kmod-standin "\$dir"
EOS
cat >"$T/bin/usm-policyd" <<EOS
#!/bin/sh
echo started >"$T/policyd.ran"
EOS
chmod +x "$T/bin/mount" "$T/bin/usm-policyd"
t_kmod() {
	rm -f "$T/mount.argv" "$T/policyd.ran" "$LOG"
	PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems USM_POLICYD=$T/bin/usm-policyd \
		"$HELPER" none "$M" -n -o size=32M,evict=lru,allow_other,max_dirty=64M,no_writeback_cache,ro,_netdev,nofail || return 1
	echo "mount got: $(cat "$T/mount.argv")"
	# FUSE-only and userspace-only options dropped; -i so mount does not
	# call the helper again; the server started; no FUSE daemon.
	grep -qx -- "-i -t usmfs -n -o size=32M,evict=lru,ro none $M" "$T/mount.argv" || return 1
	for _ in $(seq 30); do [ -e "$T/policyd.ran" ] && break; sleep 0.1; done
	[ -e "$T/policyd.ran" ] && [ ! -e "$LOG" ] && mountpoint -q "$M" && unmount "$M"
}
check "module loaded: mount -i -t usmfs, policy server started" t_kmod
t_kmod_fuse() {
	rm -f "$T/mount.argv" "$T/policyd.ran"
	PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems USM_POLICYD=$T/bin/usm-policyd \
		"$HELPER" none "$M" -o fuse,size=8M || return 1
	mounted_as_usmfs "$M" && [ ! -e "$T/mount.argv" ] && [ ! -e "$T/policyd.ran" ] && unmount "$M"
}
check "module loaded but -o fuse: the FUSE daemon" t_kmod_fuse
t_kmod_bad() {
	rm -f "$T/mount.argv"
	PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems "$HELPER" none "$M" -o size=1M,mode=99 2>"$T/err"
	[ $? = 32 ] && grep -q "'mode'" "$T/err" && [ ! -e "$T/mount.argv" ]
}
check "module loaded: bad option, mount not called" t_kmod_bad
t_kmod_relconfig() {	# the server reads config= from /: passed on absolute
	rm -f "$T/mount.argv"
	printf '[pool]\n' >"$T/rel.conf"
	(cd "$T" && PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems USM_POLICYD=$T/bin/usm-policyd \
		"$HELPER" none "$M" -o size=8M,config=rel.conf) || return 1
	echo "mount got: $(cat "$T/mount.argv")"
	grep -qx -- "-i -t usmfs -o size=8M,config=$T/rel.conf none $M" "$T/mount.argv" && unmount "$M"
}
check "module loaded: a relative config= passed on absolute" t_kmod_relconfig

# ---- the server is found by what it is, not by its name -----------------------
# Another user's process named usm-policyd must not stop the helper from
# starting the real server; a root process holding the channel device
# (USMFS_DEV: a stand-in file here) is the server, whatever its name.
FAKE=$(mktemp -d /tmp/usmfs-mh-fake.XXXXXX)
chmod 755 "$FAKE"
cp "$(command -v sleep)" "$FAKE/usm-policyd"
t_kmod_impostor() {
	local imp r=1
	setpriv --reuid=65534 --regid=65534 --clear-groups "$FAKE/usm-policyd" 30 &
	imp=$!
	sleep 0.2
	rm -f "$T/mount.argv" "$T/policyd.ran"
	PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems USM_POLICYD=$T/bin/usm-policyd \
		USMFS_DEV=$T/chan-dev "$HELPER" none "$M" -o size=8M || { kill $imp; return 1; }
	for _ in $(seq 30); do [ -e "$T/policyd.ran" ] && break; sleep 0.1; done
	[ -e "$T/policyd.ran" ] && r=0 || echo "server not started (a user's usm-policyd, pid $imp, fooled the helper)"
	kill $imp; wait $imp 2>/dev/null
	unmount "$M" && return $r
}
check "module path: a user's process named usm-policyd is not the server" t_kmod_impostor
t_kmod_holder() {
	local h r=1
	: >"$T/chan-dev"
	(exec 3<"$T/chan-dev"; exec sleep 30) &
	h=$!
	sleep 0.2
	rm -f "$T/mount.argv" "$T/policyd.ran"
	PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems USM_POLICYD=$T/bin/usm-policyd \
		USMFS_DEV=$T/chan-dev "$HELPER" none "$M" -o size=8M || { kill $h; return 1; }
	sleep 0.5
	[ ! -e "$T/policyd.ran" ] && r=0 || echo "a second server started although pid $h holds the channel"
	kill $h; wait $h 2>/dev/null
	unmount "$M" && return $r
}
check "module path: a root process holding the channel is the server" t_kmod_holder
# Options are split at commas only, never globbed against the cwd.
t_glob() {
	mkdir -p "$T/globdir" && : >"$T/globdir/size=99X" || return 1
	(cd "$T/globdir" && "$HELPER" none "$M" -o 'size=8M,s*' 2>"$T/err")
	local st=$?
	echo "exit $st: $(cat "$T/err")"
	[ $st = 32 ] && grep -qF "unknown option 's*'" "$T/err" && ! mountpoint -q "$M"
}
check "options are not globbed" t_glob

# ---- the daemons it starts run from / with stdin on /dev/null -----------------
# The helper is called from a cwd inside another mount ($T/cwdm, a tmpfs):
# a daemon that kept that cwd would keep the mount busy (umount: EBUSY).
cat >"$T/bin/usm-policyd-stays" <<EOS
#!/bin/sh
echo \$\$ >"$T/policyd.pid"
exec sleep 60
EOS
chmod +x "$T/bin/usm-policyd-stays"
mkdir -p "$T/cwdm"
daemon_env_ok() {	# daemon_env_ok PID: cwd / and stdin /dev/null
	local cwd in
	cwd=$(readlink "/proc/$1/cwd") in=$(readlink "/proc/$1/fd/0")
	echo "pid $1: cwd $cwd, stdin $in"
	[ "$cwd" = / ] && [ "$in" = /dev/null ]
}
umount_cwdm() {	# the mount the helper was called from is not busy
	local i
	for i in $(seq 20); do umount "$T/cwdm" 2>"$T/err" && return 0; sleep 0.1; done
	cat "$T/err"; umount -l "$T/cwdm"; return 1
}
t_cwd_policyd() {
	local pid='' r=1
	mount -t tmpfs -o size=1M cwd-test "$T/cwdm" && mkdir "$T/cwdm/sub" || return 1
	rm -f "$T/policyd.pid"
	(cd "$T/cwdm/sub" && PATH=$T/bin:$PATH USMFS_FILESYSTEMS=$T/filesystems \
		USM_POLICYD=../../bin/usm-policyd-stays "$HELPER" none "$M" -o size=8M) || { umount "$T/cwdm"; return 1; }
	for _ in $(seq 50); do [ -s "$T/policyd.pid" ] && break; sleep 0.1; done
	pid=$(cat "$T/policyd.pid" 2>/dev/null)
	if [ -n "$pid" ] && daemon_env_ok "$pid" && umount_cwdm; then r=0; fi
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	mountpoint -q "$T/cwdm" && umount -l "$T/cwdm"
	unmount "$M" && return $r
}
check "module path: usm-policyd runs from / with stdin /dev/null (relative USM_POLICYD)" t_cwd_policyd
t_cwd_fuse() {
	local pid='' r=1 rel
	mount -t tmpfs -o size=1M cwd-test "$T/cwdm" && mkdir "$T/cwdm/sub" || return 1
	rel=$(realpath --relative-to="$T/cwdm/sub" "$DAEMON")
	(cd "$T/cwdm/sub" && USMFS_DAEMON=$rel "$HELPER" none "$M" -o fuse,size=8M) ||
		{ umount "$T/cwdm"; return 1; }
	pid=$(pgrep -f "^$DAEMON $M" | head -1)
	[ -z "$pid" ] && pid=$(pgrep -f "$(basename "$DAEMON") $M" | head -1)
	if mounted_as_usmfs "$M" && [ -n "$pid" ] && daemon_env_ok "$pid" && umount_cwdm; then r=0; fi
	mountpoint -q "$T/cwdm" && umount -l "$T/cwdm"
	unmount "$M" && return $r
}
if [ -n "$real" ]; then
	check "FUSE daemon runs from / with stdin /dev/null (relative USMFS_DAEMON)" t_cwd_fuse
else
	echo "SKIP FUSE daemon cwd (the stand-in does not stay)"
fi

# ---- through mount(8) --------------------------------------------------------
if [ -e /sbin/mount.usmfs ] && [ "$(readlink -f /sbin/mount.usmfs)" != "$(readlink -f "$HELPER")" ]; then
	echo "SKIP mount(8) cases: another /sbin/mount.usmfs is installed"
else
	if [ ! -e /sbin/mount.usmfs ]; then
		ln -s "$HELPER" /sbin/mount.usmfs && link=1
	fi
	t_mount8() {
		mount -t usmfs none "$M" -o size=32M,evict=s3fifo || return 1
		mounted_as_usmfs "$M" && unmount "$M"
	}
	check "mount -t usmfs"               t_mount8
	t_mount8_bad() {
		! mount -t usmfs none "$M" -o size=32M,evict=nope 2>"$T/err" &&
		grep -q "'evict': 'nope'" "$T/err" && ! mountpoint -q "$M"
	}
	check "mount -t usmfs with a bad option" t_mount8_bad
	t_fstab() {
		mkdir -p "$T/m2"
		printf '# test fstab\nnone %s usmfs size=16M,evict=lru,nofail 0 0\nnone %s usmfs size=8M,noauto 0 0\n' \
			"$M" "$T/m2" >"$T/fstab"
		mount -a -T "$T/fstab" || return 1
		mounted_as_usmfs "$M" || { echo "fstab line not mounted"; return 1; }
		mountpoint -q "$T/m2" && { echo "noauto line mounted"; return 1; }
		mount -T "$T/fstab" "$T/m2" || return 1
		mounted_as_usmfs "$T/m2" || return 1
		unmount "$T/m2" && unmount "$M"
	}
	check "fstab: mount -a -T FILE, noauto, mount -T FILE DIR" t_fstab
	# tmpfs's options (mount(8) passes the access time ones on), and a
	# remount of the FUSE mount's flags through mount(8), which runs
	# mount.fuse.usmfs for a fuse.usmfs mount
	t_tmpfs_opts() {
		mount -t usmfs none "$M" -o size=16M,relatime,lazytime,noacl,inode64,huge=never,iversion,nodiratime ||
			return 1
		mounted_as_usmfs "$M" || return 1
		[ -n "$real" ] || { unmount "$M"; return; }
		mount -o remount,ro,noatime "$M" || return 1
		findmnt -n -o OPTIONS --mountpoint "$M" | grep -Eq '^ro,.*noatime' ||
			{ findmnt -n -o OPTIONS --mountpoint "$M"; return 1; }
		mount -o remount,rw "$M" || return 1
		echo x >"$M/f" || return 1
		! mount -o remount,size=32M "$M" 2>"$T/err" &&
			grep -q 'cannot change size=32M' "$T/err" || { cat "$T/err"; return 1; }
		unmount "$M"
	}
	if [ -e /sbin/mount.fuse.usmfs ] && [ "$(readlink -f /sbin/mount.fuse.usmfs)" != "$(readlink -f "$HELPER")" ]; then
		echo "SKIP tmpfs options: another /sbin/mount.fuse.usmfs is installed"
	else
		[ -e /sbin/mount.fuse.usmfs ] || { ln -s "$HELPER" /sbin/mount.fuse.usmfs && flink=1; }
		check "tmpfs options; remount ro,noatime / rw through mount(8)" t_tmpfs_opts
		[ -n "${flink:-}" ] && rm -f /sbin/mount.fuse.usmfs && flink=''
	fi
	[ -n "$link" ] && rm -f /sbin/mount.usmfs && link=''
fi

echo "mount-helper: $pass passed, $fail failed"
[ "$fail" = 0 ]
