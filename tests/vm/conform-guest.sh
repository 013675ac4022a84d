#!/bin/sh
# conform-guest.sh MNT RESULTS - the conformance check of tests/conform, in
# the kernel lane's guests (busybox sh; called by init.sh after fio).
#
# Runs a subset of tests/conform/stressors.tsv (CONFORM_IDS) and fsx on a
# fresh tmpfs (the reference, /mnt/conform-ref, as big as MNT) and in MNT
# (the usmfs mount) at the same time, and compares as conform.sh does: a
# test that passes on tmpfs must pass on usmfs; one that does not pass on
# tmpfs is n/a.  Each test is reported as a guest step (also appended to
# RESULTS, the block init.sh prints at the end):
#   vm: step conform-ID ok            passes on both
#   vm: step conform-ID FAIL (...)    passes on tmpfs, not on usmfs
#   vm: conform ID n/a (...)          does not pass on tmpfs (not a step)
# then "vm: step conform ok (N passed, N failed, N n/a)" (FAIL if anything
# failed or nothing ran).  Exits 1 on any failure.
#
# Sizes in the stressors' arguments (--*-bytes, --seek-size) are replaced
# by CONFORM_BYTES: the mounts here are 32M, not 256M.  Every test is
# bounded: stress-ng runs CONFORM_TIMEOUT seconds, and anything still
# running CONFORM_TIMEOUT+40 s after its start is killed ("hang").
MNT=$1
RESULTS=${2:-/dev/null}
LIST=${CONFORM_LIST:-/conform/stressors.tsv}
STRESS_NG=${STRESS_NG:-/usr/bin/stress-ng}
FSX=${FSX:-/usr/bin/fsx}
T=${CONFORM_TIMEOUT:-2}
BYTES=${CONFORM_BYTES:-4M}
FSX_OPS=${CONFORM_FSX_OPS:-3000}
# Not here: the evict-* tests (FUSE daemon with a swap file), and stressors
# too slow under TCG or needing a 16M+ file of their own.
IDS=${CONFORM_IDS:-"chmod dentry dir fallocate fstat hdd hdd-rnd link mmap msync readahead rename seek symlink flock locka lockf lockofd fcntl utime touch mknod xattr sync-file iomix fsx fsx-noseek"}
# (x SCALE: init.sh's measure of how much slower than a quiet host the
# guest runs)
SCALE=1
# shellcheck disable=SC2046 # "A=1 B=2"
[ -r /tmp/lane.timeouts ] && export $(cat /tmp/lane.timeouts)
HANG=$((T + 40 * SCALE))
REF=${CONFORM_REF:-/mnt/conform-ref}
LOGS=${CONFORM_LOGS:-/tmp/conform}

c_result() { echo "$*"; echo "$*" >>"$RESULTS"; }

# c_run ID ARGS ROOT LABEL: one test in ROOT/c-ID; writes "status detail"
# to $LOGS/ID.LABEL.res.
c_run() {
	c_dir=$3/c-$1
	c_log=$LOGS/$1.$4.log
	mkdir -p "$c_dir/fstat/d"
	: >"$c_dir/fstat/empty"
	echo data >"$c_dir/fstat/file"
	ln -s file "$c_dir/fstat/link"
	mkfifo "$c_dir/fstat/fifo"
	c_args=$(echo "$2" | sed -e "s|@DIR@|$c_dir|g" -e "s|@FSX_OPS@|$FSX_OPS|g" \
		-e "s/\(--[a-z-]*-bytes\|--seek-size\) [0-9]*[KMG]/\1 $BYTES/g")
	case $c_args in
	"fsx "*)
		# shellcheck disable=SC2086 # a list of words
		timeout -k 5 "$HANG" "$FSX" ${c_args#fsx } $FSX_X "$c_dir/fsx.file" >"$c_log" 2>&1
		c_rc=$?
		c_detail=$(grep -m1 -E '^fsx: op [0-9]+:' "$c_log" | cut -c1-160)
		;;
	*)
		# shellcheck disable=SC2086
		timeout -k 5 "$HANG" "$STRESS_NG" $c_args --timeout "${T}s" --verify \
			--temp-path "$c_dir" --metrics-brief >"$c_log" 2>&1
		c_rc=$?
		c_detail=$(grep -m1 -E 'fail:|error:|skipping|not supported|not implemented|out of system resources' "$c_log" |
			sed -E 's/^stress-ng: [a-z]+: +\[[0-9]+\] //' | tr '\t' ' ' | cut -c1-160)
		;;
	esac
	if [ $c_rc -eq 143 ] || [ $c_rc -eq 137 ] || [ $c_rc -eq 124 ]; then
		c_st=hang c_detail="still running ${HANG}s after its start; killed"
	elif [ $c_rc -eq 0 ] && grep -q 'fail:' "$c_log"; then
		c_st=fail
	elif [ $c_rc -eq 0 ] && grep -q -E 'skipping|not supported|not implemented' "$c_log"; then
		c_st=skip
	elif [ $c_rc -eq 0 ]; then
		c_st=pass c_detail=
	elif [ $c_rc -eq 3 ] || [ $c_rc -eq 4 ]; then
		c_st=skip c_detail="exit $c_rc: ${c_detail:-no resources / not implemented}"
	else
		c_st=fail c_detail="exit $c_rc: $c_detail"
	fi
	echo "$c_st $c_detail" >"$LOGS/$1.$4.res"
	timeout 60 rm -rf "$c_dir"
}

c_pass=0 c_fail=0 c_na=0
mkdir -p "$REF" "$LOGS"
for c_need in "$STRESS_NG" "$FSX" "$LIST"; do
	if [ ! -e "$c_need" ]; then
		c_result "vm: step conform FAIL ($c_need missing from the initramfs)"
		exit 1
	fi
done
c_size=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts | tr ',' '\n' | sed -n 's/^size=//p')
if ! mount -t tmpfs -o "size=${c_size:-32M},mode=1777" conform-ref "$REF"; then
	c_result "vm: step conform FAIL (cannot mount the reference tmpfs)"
	exit 1
fi
# tmpfs has O_DIRECT only since Linux 6.6: without it, fsx leaves out its
# O_DIRECT reads and writes on both (else fsx would be n/a there).
FSX_X=
if ! dd if=/dev/zero of="$REF/.odirect" bs=4096 count=1 oflag=direct 2>/dev/null; then
	FSX_X="-x dread -x dwrite"
fi
rm -f "$REF/.odirect"
echo "vm: conform: tmpfs ($REF) and usmfs ($MNT) side by side, ${T}s per stressor, sizes $BYTES, fsx $FSX_OPS ops${FSX_X:+ (tmpfs has no O_DIRECT: fsx $FSX_X)}"

# fsx must catch a byte changed behind its back, or its passes mean nothing.
# shellcheck disable=SC2086
if ! "$FSX" -N 2000 -Z 700 $FSX_X "$REF/selftest" >"$LOGS/fsx-selftest.log" 2>&1 &&
	grep -q 'returned wrong data' "$LOGS/fsx-selftest.log"; then
	c_result "vm: step conform-fsx-selftest ok"
	c_pass=$((c_pass + 1))
else
	c_result "vm: step conform-fsx-selftest FAIL (fsx -Z: an injected corruption was not caught)"
	tail -n 5 "$LOGS/fsx-selftest.log" | sed 's/^/vm:   /'
	c_fail=$((c_fail + 1))
fi
rm -f "$REF/selftest"

for c_id in $IDS; do
	c_a=$(awk -F'\t' -v id="$c_id" '$1 == id { print $2; exit }' "$LIST")
	if [ -z "$c_a" ]; then
		c_result "vm: step conform-$c_id FAIL (not in stressors.tsv)"
		c_fail=$((c_fail + 1))
		continue
	fi
	c_t0=$(date +%s)
	c_run "$c_id" "$c_a" "$REF" tmpfs &
	c_job=$!
	c_run "$c_id" "$c_a" "$MNT" usmfs
	wait $c_job
	c_secs=$(($(date +%s) - c_t0))
	read -r c_rs c_rd <"$LOGS/$c_id.tmpfs.res"
	read -r c_ts c_td <"$LOGS/$c_id.usmfs.res"
	if [ "$c_rs" != pass ]; then
		c_result "vm: conform $c_id n/a ($c_rs on tmpfs, $c_ts on usmfs${c_rd:+: $c_rd})"
		c_na=$((c_na + 1))
	elif [ "$c_ts" = pass ]; then
		c_result "vm: step conform-$c_id ok (${c_secs}s)"
		c_pass=$((c_pass + 1))
	else
		c_result "vm: step conform-$c_id FAIL ($c_ts on usmfs${c_td:+: $c_td})"
		c_fail=$((c_fail + 1))
		head -n 30 "$LOGS/$c_id.usmfs.log" | sed 's/^/vm:   /'
	fi
done
umount "$REF" 2>/dev/null || umount -l "$REF"

c_sum="$c_pass passed, $c_fail failed, $c_na n/a"
if [ $c_fail -eq 0 ] && [ $c_pass -gt 1 ]; then
	c_result "vm: step conform ok ($c_sum)"
	exit 0
fi
c_result "vm: step conform FAIL ($c_sum)"
exit 1
