# Common helpers for the kernel lane (sourced by the other scripts; bash).
#
# Everything downloaded or built from a download lives under $VM_CACHE
# (default $TOP/.cache/vm); per-run outputs (module builds, initramfs,
# guest logs) under $VM_BUILD (default $TOP/build/vm).  Both may be
# removed at any time: a run rebuilds what is missing.

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=${TOP:-$(cd "$VM_DIR/../.." && pwd)}
VM_CACHE=${VM_CACHE:-$TOP/.cache/vm}
VM_BUILD=${VM_BUILD:-$TOP/build/vm}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

# Logging: every line says where it comes from; "KERNEL/STEP" in errors.
say() { printf 'vm: %s\n' "$*"; }
warn() { printf 'vm: warning: %s\n' "$*" >&2; }
die() { printf 'vm: error: %s\n' "$*" >&2; exit 1; }

# Run "$@" with its output in LOG; on failure show the log's tail.
# Returns the command's status.
logged() {
	local log=$1 rc
	shift
	"$@" >"$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "----- last lines of $log" >&2
		tail -n 25 "$log" >&2
		echo "-----" >&2
	fi
	return $rc
}

# Retry "$@" up to N times with a pause (apt may be locked by others,
# the mirror may hiccup).
retry() {
	local n=$1 i
	shift
	for ((i = 1; i <= n; i++)); do
		"$@" && return 0
		[ $i -lt $n ] && sleep 10
	done
	return 1
}

# --- A private apt: our own sources list, lists and archive directory, so
# that the host's apt configuration is never touched.  It sees bookworm,
# bookworm-security, bookworm-backports and trixie-backports.
APT_DIR=$VM_CACHE/apt
APT_OPTS=(
	-o "Dir::Etc::SourceList=$APT_DIR/sources.list"
	-o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
	-o "Dir::Etc::Preferences=$APT_DIR/preferences"
	-o "Dir::Etc::PreferencesParts=$APT_DIR/preferences.d"
	-o "Dir::State=$APT_DIR/state"
	-o "Dir::State::Lists=$APT_DIR/lists"
	-o "Dir::State::status=$APT_DIR/status"
	-o "Dir::Cache=$APT_DIR/cache"
	-o "Dir::Cache::archives=$APT_DIR/archives"
	-o "Debug::NoLocking=1"
	-o "APT::Sandbox::User=root"
	-o "Acquire::Retries=3"
)

papt_setup() {
	mkdir -p "$APT_DIR"/{sources.list.d,preferences.d,state,lists/partial,cache,archives/partial}
	touch "$APT_DIR/status"
	cat >"$APT_DIR/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_SECURITY bookworm-security main
deb $DEBIAN_MIRROR bookworm-backports main
deb $DEBIAN_MIRROR trixie-backports main
EOF
}

# Refresh the private lists (versions rotate: pick the newest at run
# time).  With a cached copy, a failed refresh is only a warning.
papt_update() {
	papt_setup
	if retry 3 timeout 300 apt-get "${APT_OPTS[@]}" -qq update >"$APT_DIR/update.log" 2>&1; then
		return 0
	fi
	if ls "$APT_DIR"/lists/*_Packages* >/dev/null 2>&1; then
		warn "apt update failed, using cached package lists ($APT_DIR/update.log)"
		return 0
	fi
	cat "$APT_DIR/update.log" >&2
	die "apt update of the private package lists failed"
}

papt_cache() { apt-cache "${APT_OPTS[@]}" "$@"; }

# Names of packages matching an anchored regex, newest version-sorted last.
papt_names() {
	papt_cache pkgnames 2>/dev/null | grep -E "$1" | sort -V
}

# Newest version of a package in the private lists.
papt_version() {
	papt_cache madison "$1" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); print $2}' |
		sort -V | tail -n 1
}

# papt_fetch PKG VERSION: download PKG=VERSION into $VM_CACHE/debs (once);
# prints the .deb's path.
papt_fetch() {
	local pkg=$1 ver=$2 dir=$VM_CACHE/debs f
	mkdir -p "$dir"
	f=$(ls "$dir/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1)
	if [ -z "$f" ]; then
		(cd "$dir" && retry 3 timeout 600 apt-get "${APT_OPTS[@]}" -qq download "$pkg=$ver") >&2 ||
			die "download of $pkg=$ver failed"
		f=$(ls "$dir/${pkg}_${ver//:/%3a}_"*.deb 2>/dev/null | head -n 1)
		[ -n "$f" ] || die "download of $pkg=$ver left no .deb in $dir"
	fi
	echo "$f"
}

# chroot_run DIR CMD...: run CMD in the chroot DIR with /proc mounted
# (apt and objtool need it) for just that long; the mount is undone
# however the command ends.
chroot_run() (
	dir=$1
	shift
	if ! mountpoint -q "$dir/proc"; then
		mount -t proc proc "$dir/proc" || exit 1
		trap 'umount "$dir/proc" 2>/dev/null || umount -l "$dir/proc"' EXIT
		trap 'exit 130' INT TERM
	fi
	chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
)

# Unmount whatever is mounted below DIR (deepest first): what a killed
# debootstrap or chroot_run may have left, before DIR is removed.
umount_under() {
	local d
	d=$(realpath -m "$1")
	awk -v d="$d/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r |
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}
