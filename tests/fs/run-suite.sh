#!/bin/sh
# run-suite.sh DIR FRONTEND [CASE...]
#
# Run the filesystem suite (cases.tsv beside this script) in a fresh
# subdirectory of DIR, a mounted filesystem; FRONTEND is fuse, kmod or tmpfs.
# POSIX sh: runs under busybox ash in the kernel lane's initramfs.
#
# Environment:
#   FSTEST            the fstest binary (default: build/fstest or fstest
#                     beside this script)
#   FS_CASES          the case table (default: cases.tsv beside this script)
#   USMFS_SIZE        bytes the mount may keep resident (K/M/G suffixes)
#   USMFS_SWAP        none | file
#   USMFS_NOSWAP_DIR  a second mount with swap=none, for the full-pool case
#   USMFS_NOSWAP_SIZE its size=
#   USMFS_NOACL_DIR   a mount with noacl (the lanes use the noswap one)
#   FS_TIMEOUT_MULT   multiply every case's timeout (slow guests), default 1
#   FS_SKIP           case names to skip (space-separated)
#   FS_VERBOSE=1      show every case's output, not only on failure
#   FS_STUCK_HOOK     shell command run when a case is stuck in the
#                     filesystem past its timeout (e.g. abort a FUSE connection)
#
# Prints "PASS|FAIL|SKIP NAME[: reason]" per case and ends with
# "fs-FRONTEND: N passed, N failed, N skipped"; exits 1 on any failure.
set -u

usage() {
	echo "usage: $0 DIR fuse|kmod|tmpfs [CASE...]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
dir=$1
fe=$2
shift 2
case $fe in fuse|kmod|tmpfs) ;; *) usage ;; esac
only=" $* "

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${FSTEST:-}" ]; then
	for c in "$here/build/fstest" "$here/fstest"; do
		if [ -x "$c" ]; then FSTEST=$c; break; fi
	done
fi
table=${FS_CASES:-$here/cases.tsv}
mult=${FS_TIMEOUT_MULT:-1}
if [ -z "${FSTEST:-}" ] || [ ! -x "$FSTEST" ]; then
	echo "run-suite: no fstest binary (build it: make -C tests/fs all)" >&2
	exit 2
fi
if [ ! -r "$table" ]; then
	echo "run-suite: no case table $table" >&2
	exit 2
fi
if [ ! -d "$dir" ] || [ ! -w "$dir" ]; then
	echo "run-suite: $dir is not a writable directory" >&2
	exit 2
fi

export FS_FRONTEND="$fe"
export USMFS_SIZE="${USMFS_SIZE:-}" USMFS_SWAP="${USMFS_SWAP:-}"
export USMFS_NOSWAP_DIR="${USMFS_NOSWAP_DIR:-}" USMFS_NOSWAP_SIZE="${USMFS_NOSWAP_SIZE:-}"
export USMFS_NOACL_DIR="${USMFS_NOACL_DIR:-}"

root=$dir/fstest.$$
tmpd=${TMPDIR:-/tmp}
[ -d "$tmpd" ] && [ -w "$tmpd" ] || tmpd=$dir
log=$tmpd/fstest.$$.log
stuck=$tmpd/fstest.$$.stuck
stop=0
if ! mkdir "$root"; then
	echo "run-suite: cannot create $root" >&2
	exit 2
fi
chmod 0777 "$root"
trap 'rm -f "$log" "$stuck"' EXIT
trap 'exit 130' INT TERM

uid=$(id -u)
passed=0 failed=0 skipped=0

# Why a case with these tags cannot run here ("" = it can).
skip_reason() {
	old_ifs=$IFS
	IFS=,
	for t in $1; do
		case $t in
		-|'') ;;
		root)	[ "$uid" = 0 ] || { echo "needs root"; break; } ;;
		usm)	[ "$fe" != tmpfs ] || { echo "no user.usm.* on tmpfs"; break; } ;;
		swap)	if [ "$USMFS_SWAP" != file ] || [ -z "$USMFS_SIZE" ]; then
				echo "needs USMFS_SWAP=file and USMFS_SIZE"; break
			fi ;;
		noswap)	[ -n "$USMFS_NOSWAP_DIR" ] || { echo "needs USMFS_NOSWAP_DIR"; break; } ;;
		exec)	;;
		kmod|fuse|tmpfs)
			[ "$fe" = "$t" ] || { echo "only on $t"; break; } ;;
		*)	echo "unknown tag '$t'"; break ;;
		esac
	done
	IFS=$old_ifs
}

# bounded SECS CMD [ARGS...]: timeout -k 10 SECS CMD, with a watchdog for
# the case that even that does not end: a process waiting in a filesystem
# request that never completes cannot be killed.  After SECS+20 s the
# watchdog runs FS_STUCK_HOOK (the FUSE lane aborts its connections there),
# then kills the timeout wrapper so that this script goes on.  Returns the
# command's status, or 254 when the watchdog fired.
bounded() {
	b_secs=$1
	shift
	rm -f "$stuck"
	timeout -k 10 "$b_secs" "$@" &
	b_pid=$!
	(
		# Told (USR1) as soon as the command ends: take the sleep along.
		# USR1, not TERM: this subshell starts with our TERM trap, which
		# would only set a flag until the wait below ends.
		sleep $((b_secs + 20)) &
		b_sl=$!
		trap 'kill "$b_sl" 2>/dev/null; exit 0' USR1
		wait "$b_sl"
		kill -0 "$b_pid" 2>/dev/null || exit 0
		: >"$stuck"
		if [ -n "${FS_STUCK_HOOK:-}" ]; then
			sh -c "$FS_STUCK_HOOK"
			sleep 5
		fi
		kill -KILL "$b_pid" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	b_wd=$!
	wait "$b_pid"
	b_rc=$?
	kill -USR1 "$b_wd" 2>/dev/null
	[ -e "$stuck" ] && b_rc=254
	return $b_rc
}

# run_case NAME TIMEOUT CASE [ARGS...]; sets stop=1 when the mount is unusable
run_case() {
	name=$1 secs=$(( $2 * mult )) sub=$3
	shift 3
	wd=$root/$name
	bounded 60 mkdir "$wd" 2>"$log" && bounded 60 chmod 0777 "$wd" 2>>"$log"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: cannot create $wd: $(tail -n 1 "$log")"
		failed=$((failed + 1))
		[ $rc -eq 254 ] && stop=1
		return
	fi
	start=$(date +%s)
	bounded "$secs" "$FSTEST" "$sub" "$wd" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	took=$(( $(date +%s) - start ))
	case $rc in
	0)	echo "PASS $name (${took}s)"
		passed=$((passed + 1))
		[ "${FS_VERBOSE:-0}" = 1 ] && sed 's/^/    /' "$log" ;;
	77)	echo "SKIP $name: $(sed -n 's/^skip: //p' "$log" | tail -n 1)"
		skipped=$((skipped + 1)) ;;
	254)	echo "FAIL $name: stuck in the filesystem for over $((secs + 20))s, unkillable${FS_STUCK_HOOK:+ (ran FS_STUCK_HOOK)}; the remaining cases are not run"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
		stop=1
		return ;;
	124|137|143)
		why=$(grep -v -e '^Killed$' -e '^Terminated$' "$log" | tail -n 1)
		echo "FAIL $name: timed out after ${secs}s${why:+ (last: $why)}"
		sed 's/^/    /' "$log"
		failed=$((failed + 1)) ;;
	*)	why=$(tail -n 1 "$log")
		[ $rc -gt 128 ] && why="killed by signal $((rc - 128)); $why"
		echo "FAIL $name: ${why:-exit $rc}"
		sed 's/^/    /' "$log"
		failed=$((failed + 1)) ;;
	esac
	bounded 120 rm -rf "$wd" 2>"$log"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL $name-cleanup: could not remove $wd: $(tail -n 1 "$log")"
		failed=$((failed + 1))
		case $rc in
		124|137|143|254)
			echo "FAIL suite: $dir hangs (rm -rf did not end); the remaining cases are not run"
			stop=1 ;;
		esac
	fi
}

echo "fs-$fe: suite in $root (fstest $FSTEST)"
while read -r name tags secs cmd; do
	case $name in ''|\#*) continue ;; esac
	if [ "$only" != "  " ]; then
		case $only in *" $name "*) ;; *) continue ;; esac
	fi
	case " ${FS_SKIP:-} " in
	*" $name "*) echo "SKIP $name: in FS_SKIP"; skipped=$((skipped + 1)); continue ;;
	esac
	[ "$stop" = 1 ] && break
	if ! bounded 60 ls "$root" >/dev/null 2>"$log"; then
		echo "FAIL $name: $dir is no longer usable ($(tail -n 1 "$log")); the remaining cases are not run"
		failed=$((failed + 1))
		break
	fi
	why=$(skip_reason "$tags")
	if [ -n "$why" ]; then
		echo "SKIP $name: $why"
		skipped=$((skipped + 1))
		continue
	fi
	# word-split the command column on purpose: CASE [ARGS...]
	# shellcheck disable=SC2086
	run_case "$name" "$secs" $cmd
done < "$table"

[ "$stop" = 1 ] || bounded 60 rmdir "$root" 2>/dev/null || echo "run-suite: $root not empty" >&2
echo "fs-$fe: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
